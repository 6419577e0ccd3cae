"""Prediction features against hand-made telemetry with known answers, on every storage backend."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import psycopg
import pytest

from models.daily import sun_day_terms
from models.feature_windows import forward_fill, rolling_max, rolling_mean, rolling_min, rolling_sum, shift
from models.features import FEATURE_SIGNALS, FEATURES, build_features, iter_features, refresh_daily
from simulators.physics import solar_elevation_deg
from tests.models.conftest import (
    READING_COLUMNS,
    TOWN,
    Lamp,
    insert_event,
    insert_lamp,
    insert_readings,
    local,
    night_reading,
)

D1, D2, D3, D4 = date(2026, 1, 11), date(2026, 1, 12), date(2026, 1, 13), date(2026, 1, 14)
ZONE = "Europe/Paris"
SIGNALS = {
    "power_w",
    "power_factor",
    "voltage_v",
    "driver_temp_c",
    "dim_level",
    "switch_cycles",
    "burning_hours",
    "reports",
    "events",
    "age",
}


def approx(expected: float):
    """Readings are stored as real (float4): equal to about seven digits."""
    return pytest.approx(expected, rel=1e-5, abs=1e-5)


def town(conn: psycopg.Connection, days: tuple[date, ...] = (D1, D2, D3)) -> dict[str, Lamp]:
    """Four lamps lit from 18:00 to 07:00; A, B and C share circuit C1, D has no place or circuit.

    On D2: A burns 30 minutes at noon and dims to 50 % from 22:00, one of its readings sees 200 V;
    B loses its 12 reports from 03:00 to 05:00 and its supply once at 15:00; C cycles 5 extra
    times at 20:00; D burns 30 minutes at noon.
    """
    for lamp_id in ("A", "B", "C"):
        insert_lamp(conn, lamp_id)
    insert_lamp(conn, "D", lat=None, lon=None, circuit="", install_date=None)
    lamps = {lamp_id: Lamp(lamp_id) for lamp_id in "ABCD"}
    a, b, c, d = lamps.values()
    for day in days:
        on_d2 = day == D2
        a_pf = {D1: 0.97, D2: 0.95, D3: 0.90}[day]
        base_a = night_reading(a, power_factor=a_pf)
        base_b = night_reading(b, ratio=1.1, power_factor=0.93, temp_lit_c=35.0, midday_lux=50.0)
        base_c = night_reading(c, ratio=0.9, power_factor=0.97, temp_lit_c=32.0)
        base_d = night_reading(d)

        def reading_a(at: datetime, base=base_a, on_d2=on_d2, a_pf=a_pf) -> dict:
            values = base(at)
            if on_d2 and at.hour == 12 and at.minute <= 20:
                values |= {"dim_level": 100.0, "power_w": 100.0, "power_factor": a_pf, "driver_temp_c": 30.0}
            if on_d2 and at.hour >= 22:
                values |= {"dim_level": 50.0, "power_w": 50.0}
            if on_d2 and at.hour == 10 and at.minute == 0:
                values["voltage_v"] = 200.0
            return values

        def reading_b(at: datetime, base=base_b, on_d2=on_d2) -> dict:
            values = base(at)
            if on_d2 and at.hour == 15 and at.minute == 0:
                values |= {"voltage_v": 0.0, "power_w": 0.0, "power_factor": 0.0}
            return values

        def lost_b(at: datetime, on_d2: bool = on_d2) -> bool:
            return on_d2 and at.hour in (3, 4)

        def reading_c(at: datetime, base=base_c, on_d2=on_d2) -> dict:
            values = base(at)
            if on_d2 and at.hour == 20 and at.minute == 0:
                values["extra_cycles"] = 5
            return values

        def reading_d(at: datetime, base=base_d, on_d2=on_d2) -> dict:
            values = base(at)
            if on_d2 and at.hour == 12 and at.minute <= 20:
                values |= {"dim_level": 100.0, "power_w": 100.0, "power_factor": 0.95}
            return values

        a.day(day, reading_a)
        b.day(day, reading_b, lost=lost_b)
        c.day(day, reading_c)
        d.day(day, reading_d)
    insert_readings(conn, list(lamps.values()))
    insert_event(conn, "A", local(D1, 10), "repaired", "technician")
    if D2 in days:
        insert_event(conn, "A", local(D2, 9), "comm_loss")
        insert_event(conn, "C", local(D2, 20, 5), "cycling")
        insert_event(conn, "A", local(D2, 13), "door_open")
    return lamps


def row(frame: pd.DataFrame, lamp_id: str, day: date) -> pd.Series:
    return frame.loc[(lamp_id, pd.Timestamp(day))]


def test_features_have_known_values_for_hand_made_telemetry(conn):
    town(conn)
    assert refresh_daily(conn, D1, D4, time_zone=ZONE) == 12
    frame = build_features(conn, D2, D4, time_zone=ZONE)

    assert list(frame.columns) == list(FEATURES)
    assert frame.index.names == ["lamp_id", "day"]
    assert len(frame) == 8  # four lamps, two days
    assert (frame.dtypes == np.float64).all()

    a, b, c, d = (row(frame, lamp_id, D2) for lamp_id in "ABCD")
    assert a["power_ratio_1d"] == approx(1.0)  # 50 W at 50 % is as expected as 100 W at 100 %
    assert b["power_ratio_1d"] == approx(1.1)
    assert b["power_ratio_vs_circuit_1d"] == approx(0.1)
    assert a["power_ratio_sd_1d"] == approx(0.0)
    assert a["power_factor_1d"] == approx(0.95)  # the 0.45 of the dark controller is left out
    assert c["power_factor_vs_circuit_1d"] == approx(0.02)

    assert a["voltage_1d"] == approx((143 * 230.0 + 200.0) / 144)
    assert a["voltage_min_1d"] == approx(200.0)
    assert a["voltage_out_share_1d"] == approx(1 / 144)
    assert b["supply_lost_readings_1d"] == 1
    assert b["voltage_min_1d"] == approx(230.0)  # a lost supply is not a low voltage

    assert a["driver_temp_rise_1d"] == approx(20.0)
    assert a["driver_temp_vs_circuit_1d"] == approx(-2.0)  # circuit median of 30, 35, 32
    assert b["driver_temp_vs_circuit_1d"] == approx(3.0)

    # 13 hours of night, 10 minutes per reading; A also burns 30 minutes by day
    assert a["lit_min_1d"] == approx(810.0)
    assert a["day_burning_min_1d"] == approx(30.0)
    assert b["day_burning_min_1d"] == 0
    assert d["day_burning_min_1d"] == approx(30.0)  # no coordinates: its light sensor tells the day
    # B was lit for half its readings, C (the circuit's median) for 78 of 144: 60 minutes less
    assert b["lit_min_vs_circuit_1d"] == approx((66 / 132 - 78 / 144) * 1440)
    assert b["lux_log_vs_circuit_1d"] == approx(-2.0)  # 50 lux where its neighbours read 5,000
    assert np.isnan(d["lit_min_vs_circuit_1d"]) and np.isnan(d["power_factor_vs_circuit_1d"])

    assert a["switch_cycles_1d"] == 2  # on at noon, on again at 18:00
    assert c["switch_cycles_1d"] == 6
    assert a["burning_h_1d"] == approx(81 / 6)
    assert a["burning_hours_total"] == approx(1_000.0 + (78 + 81) / 6)

    assert a["report_interval_s"] == approx(600.0)
    assert a["missing_share_1d"] == 0
    assert b["missing_share_1d"] == approx(12 / 144)

    assert a["events_comm_loss_7d"] == 1 and a["events_other_7d"] == 1 and a["events_1d"] == 2
    assert c["events_cycling_7d"] == 1 and c["events_cycling_30d"] == 1
    assert b["events_1d"] == 0
    assert a["age_days"] == (D2 - date(2020, 1, 1)).days
    assert a["days_since_repair"] == 1 and b["days_since_repair"] != b["days_since_repair"]
    assert a["component_age_days"] == 1
    assert np.isnan(d["age_days"])

    a3 = row(frame, "A", D3)
    assert a3["power_factor_1d"] == approx(0.90)
    assert a3["power_factor_7d"] == approx((0.97 + 0.95 + 0.90) / 3)
    assert a3["days_since_repair"] == 2
    assert a3["switch_cycles_1d"] == 1
    assert a3["events_comm_loss_7d"] == 1 and a3["events_1d"] == 0


def test_a_silent_lamp_has_all_its_reports_missing(ts_conn):
    lamps = town(ts_conn, days=(D1, D2))
    lamps["B"].rows.clear()
    c = lamps["C"]
    c.day(D3, night_reading(c))
    insert_readings(ts_conn, [c])
    refresh_daily(ts_conn, D1, D4, time_zone=ZONE)
    frame = build_features(ts_conn, D3, D4, lamp_ids=["B", "C"], time_zone=ZONE)
    assert row(frame, "B", D3)["missing_share_1d"] == 1.0
    assert row(frame, "B", D3)["missing_share_7d"] == approx((0 + 12 + 144) / (3 * 144))
    assert row(frame, "C", D3)["missing_share_1d"] == 0.0
    assert np.isnan(row(frame, "B", D3)["power_factor_1d"])


def test_features_of_a_day_use_nothing_after_it(conn):
    town(conn, days=(D1, D2))
    refresh_daily(conn, D1, D3, time_zone=ZONE)
    before = build_features(conn, D2, D3, time_zone=ZONE)

    # Another day arrives, with wild values, failures and repairs, and the days are refreshed again.
    wild = Lamp("A", burning_hours=5_000.0, switch_cycles=9_000)
    wild.day(D3, night_reading(wild, ratio=3.0, power_factor=0.2, temp_lit_c=90.0))
    insert_readings(conn, [wild])
    insert_event(conn, "A", local(D3, 0, 5), "lamp_failure")
    insert_event(conn, "B", local(D3, 1), "repaired", "technician")
    insert_event(conn, "C", local(D3, 2), "supply_loss")
    refresh_daily(conn, D1, D4, time_zone=ZONE)

    after = build_features(conn, D2, D4, time_zone=ZONE)
    pd.testing.assert_frame_equal(after.xs(pd.Timestamp(D2), level="day", drop_level=False), before)
    assert row(after, "A", D3)["power_ratio_1d"] == approx(3.0)


def test_refresh_is_idempotent_and_reports_progress(ts_conn):
    town(ts_conn)
    calls: list[tuple[int, int]] = []
    first = refresh_daily(ts_conn, D1, D4, time_zone=ZONE, batch_days=2, progress=lambda *a: calls.append(a))
    snapshot = ts_conn.execute("SELECT * FROM lamp_daily ORDER BY lamp_id, day").fetchall()
    second = refresh_daily(ts_conn, D1, D4, time_zone=ZONE)
    assert first == second == 12
    assert calls == [(2, 3), (3, 3)]
    again = ts_conn.execute("SELECT * FROM lamp_daily ORDER BY lamp_id, day").fetchall()
    assert [r[:-1] for r in again] == [r[:-1] for r in snapshot]  # all but refreshed_at


def test_a_fleet_streams_through_in_chunks_of_lamps(ts_conn):
    town(ts_conn)
    refresh_daily(ts_conn, D1, D4, time_zone=ZONE)
    whole = build_features(ts_conn, D2, D4, time_zone=ZONE)
    done: list[tuple[int, int]] = []
    chunks = list(iter_features(ts_conn, D2, D4, chunk_lamps=3, time_zone=ZONE, progress=lambda *a: done.append(a)))
    assert [len(c) for c in chunks] == [6, 2]
    assert done == [(3, 4), (4, 4)]
    pd.testing.assert_frame_equal(pd.concat(chunks), whole)


def test_lamps_appear_from_their_install_date_and_unknown_ids_are_named(ts_conn):
    town(ts_conn)
    ts_conn.execute("UPDATE lamps SET install_date = %s WHERE lamp_id = 'C'", (D3,))
    refresh_daily(ts_conn, D1, D4, time_zone=ZONE)
    frame = build_features(ts_conn, D2, D4, lamp_ids=["C", "A"], time_zone=ZONE)
    assert list(frame.index) == [("C", pd.Timestamp(D3)), ("A", pd.Timestamp(D2)), ("A", pd.Timestamp(D3))]
    assert row(frame, "C", D3)["age_days"] == 0
    with pytest.raises(ValueError, match="unknown lamp ids: nope"):
        build_features(ts_conn, D2, D4, lamp_ids=["A", "nope"], time_zone=ZONE)
    with pytest.raises(ValueError, match="start < end"):
        build_features(ts_conn, D2, D2, time_zone=ZONE)


def test_every_feature_names_one_of_the_reason_signals():
    assert set(FEATURE_SIGNALS.values()) <= SIGNALS
    assert len(set(FEATURES)) == len(FEATURES)


# --- The window arithmetic, without a database -------------------------------------------

NAN = np.nan


def test_rolling_windows_ignore_missing_days():
    x = np.array([[1.0, NAN, 3.0, 5.0, NAN]])
    np.testing.assert_allclose(rolling_mean(x, 2), [[1.0, 1.0, 3.0, 4.0, 5.0]])
    np.testing.assert_allclose(rolling_sum(x, 3), [[1.0, 1.0, 4.0, 8.0, 8.0]])
    np.testing.assert_allclose(rolling_min(x, 2), [[1.0, 1.0, 3.0, 3.0, 5.0]])
    np.testing.assert_allclose(rolling_max(x, 3), [[1.0, 1.0, 3.0, 5.0, 5.0]])
    np.testing.assert_allclose(rolling_mean(x, 3, out=2), [[4.0, 4.0]])
    np.testing.assert_allclose(rolling_min(x, 2, out=1), [[5.0]])
    np.testing.assert_allclose(shift(x, 2), [[NAN, NAN, 1.0, NAN, 3.0]])
    np.testing.assert_allclose(forward_fill(x), [[1.0, 1.0, 3.0, 5.0, 5.0]])
    all_missing = np.full((1, 3), NAN)
    assert np.isnan(rolling_mean(all_missing, 2)).all() and np.isnan(rolling_min(all_missing, 2)).all()


def test_power_factor_change_over_ten_days_gives_both_ends(conn):
    insert_lamp(conn, "A")
    lamp = Lamp("A")
    first = date(2026, 3, 1)
    for k in range(12):
        lamp.day(first + timedelta(days=k), night_reading(lamp, power_factor=round(0.96 - 0.01 * k, 2)))
    insert_readings(conn, [lamp])
    last = first + timedelta(days=11)
    refresh_daily(conn, first, last + timedelta(days=1), time_zone=ZONE)
    features = row(build_features(conn, last, last + timedelta(days=1), time_zone=ZONE), "A", last)
    # "power factor fell from 0.94 to 0.85 over 10 days"
    assert features["power_factor_10d_ago"] == approx(0.94)
    assert features["power_factor_1d"] == approx(0.85)
    assert features["power_factor_change_10d"] == approx(-0.09)
    assert features["power_factor_min_over_avg_10d"] == approx(0.85 / np.mean([0.94 - 0.01 * k for k in range(10)]))
    assert features["power_factor_trend"] == approx(
        np.mean([0.85 + 0.01 * k for k in range(7)]) - np.mean([0.96 - 0.01 * k for k in range(12)])
    )


def test_a_day_of_23_hours_misses_no_report_and_a_new_controller_counts_no_negative_cycles(ts_conn):
    insert_lamp(ts_conn, "A")
    first, last = date(2026, 3, 28), date(2026, 3, 31)  # the clocks go forward on 29 March
    at, end = local(first, 0).astimezone(UTC), local(last + timedelta(days=1), 0).astimezone(UTC)
    cycles, rows = 100, []
    while at < end:
        lit = not 7 <= at.astimezone(TOWN).hour < 18
        if at.astimezone(TOWN).hour == 18 and at.minute == 0:
            cycles += 1
        if at == local(date(2026, 3, 30), 12).astimezone(UTC):
            cycles = 0  # the controller is replaced at noon on the 30th
        values = {
            "lamp_id": "A",
            "ts": at,
            "voltage_v": 230.0,
            "dim_level": 100.0 if lit else 0.0,
            "power_w": 100.0 if lit else 0.6,
            "power_factor": 0.95,
            "switch_cycles": cycles,
        }
        rows.append(tuple(values.get(c) for c in READING_COLUMNS))
        at += timedelta(minutes=10)
    with ts_conn.cursor().copy(f"COPY readings ({', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
        for row_values in rows:
            copy.write_row(row_values)
    refresh_daily(ts_conn, first, last + timedelta(days=1), time_zone=ZONE)
    frame = build_features(ts_conn, first, last + timedelta(days=1), time_zone=ZONE)
    short_day = row(frame, "A", date(2026, 3, 29))
    assert ts_conn.execute("SELECT readings FROM lamp_daily WHERE day = '2026-03-29'").fetchone()[0] == 138
    assert short_day["missing_share_1d"] == approx(0.0)
    assert short_day["switch_cycles_1d"] == 1
    # the counter went from 101 back to 0: the day after shows no count rather than a negative one
    assert row(frame, "A", date(2026, 3, 30))["switch_cycles_1d"] >= 0
    assert np.isnan(row(frame, "A", last)["switch_cycles_1d"])


def test_the_sun_of_the_day_terms_agrees_with_the_full_formulas():
    worst = 0.0
    for hours in range(0, 366 * 24, 5):
        at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours)
        declination, offset_deg = sun_day_terms(at.replace(hour=12))
        for lat, lon in ((45.76, 4.84), (60.2, 24.9), (-33.9, 151.2)):
            hour_angle = np.radians(at.timestamp() / 240.0 + offset_deg + lon)
            elevation = np.degrees(
                np.arcsin(
                    np.sin(np.radians(lat)) * np.sin(declination)
                    + np.cos(np.radians(lat)) * np.cos(declination) * np.cos(hour_angle)
                )
            )
            exact = solar_elevation_deg(np.array([lat]), np.array([lon]), at.timestamp())[0]
            worst = max(worst, abs(elevation - exact))
    assert worst < 0.3
