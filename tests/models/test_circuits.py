"""Circuit supply warnings: features against hand-worked days, labels, the model, scoring."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from models import circuits, features, registry, score
from models.reasons import reference_of
from tests.models.conftest import Lamp, insert_lamp, insert_readings, local, night_reading

D = date(2026, 6, 10)
DAY = timedelta(days=1)
TOWN_NAME = "Europe/Paris"


def daily(rows: list[tuple[str, date, int, int, int, int, int]]) -> pd.DataFrame:
    columns = ["circuit", "day", "lamps", "readings", "out_readings", "sagging_lamps", "lost_readings"]
    return pd.DataFrame(rows, columns=columns)


# C1: 4 lamps of 24 readings a day. A sag on every lamp on D-1 (2 readings each), on one
# lamp on D (4 readings), the supply lost on D+1. C2 reports from D+1 only.
DAILY = daily(
    [
        ("C1", D - 2 * DAY, 4, 96, 0, 0, 0),
        ("C1", D - DAY, 4, 96, 8, 4, 0),
        ("C1", D, 4, 96, 4, 1, 0),
        ("C1", D + DAY, 4, 96, 0, 0, 24),
        ("C2", D + DAY, 3, 72, 0, 0, 0),
    ]
)


def test_circuit_features_by_hand():
    frame = circuits.features_from_daily(DAILY, D, D + 2 * DAY)
    assert list(frame.index) == [("C1", pd.Timestamp(D)), ("C1", pd.Timestamp(D + DAY)), ("C2", pd.Timestamp(D + DAY))]
    on_d = frame.loc[("C1", pd.Timestamp(D))]
    assert on_d["out_share_1d"] == pytest.approx(4 / 96)
    assert on_d["out_share_3d"] == pytest.approx(12 / 288)
    assert on_d["out_share_7d"] == pytest.approx(12 / 288)
    assert on_d["out_share_30d"] == pytest.approx(12 / 288)
    assert on_d["sag_days_7d"] == 1  # D-1; on D only one lamp of four sagged
    assert on_d["out_share_rise"] == pytest.approx(0.0)
    assert (on_d["lamps"], on_d["supplied"]) == (4, True)
    next_day = frame.loc[("C1", pd.Timestamp(D + DAY))]
    assert next_day["out_share_1d"] == 0
    assert next_day["out_share_3d"] == pytest.approx(12 / 288)
    assert next_day["out_share_7d"] == pytest.approx(12 / 384)
    assert next_day["out_share_rise"] == pytest.approx(12 / 288 - 12 / 384)
    assert not next_day["supplied"]
    quiet = frame.loc[("C2", pd.Timestamp(D + DAY))]
    assert (quiet["out_share_30d"], quiet["sag_days_7d"], quiet["lamps"]) == (0, 0, 3)


def test_a_circuit_day_uses_nothing_after_its_day():
    alone = circuits.features_from_daily(DAILY[DAILY["day"] <= D], D, D + DAY)
    later = DAILY.copy()
    later.loc[later["day"] == D + DAY, ["out_readings", "sagging_lamps"]] = (96, 4)
    with_later = circuits.features_from_daily(later, D, D + 2 * DAY)
    pd.testing.assert_frame_equal(alone, with_later.loc[[("C1", pd.Timestamp(D))]])


def test_a_circuit_day_is_labelled_by_a_supply_loss_within_the_horizon():
    index = pd.MultiIndex.from_tuples(
        [("C1", pd.Timestamp(D)), ("C1", pd.Timestamp(D + DAY)), ("C2", pd.Timestamp(D)), ("C3", pd.Timestamp(D))],
        names=["circuit", "day"],
    )
    losses = pd.DataFrame(
        {
            "circuit": ["C1", "C2", "C3"],
            "ts": [
                local(D + DAY, 12),  # C1: half a day after D's end; before D+1's end
                local(D + 3 * DAY, 0),  # C2: exactly 2 days after D's end
                local(D + DAY, 0),  # C3: at D's very end, which is no longer "after D"
            ],
        }
    )
    assert circuits.label_circuit_days(index, losses, 2, TOWN_NAME).tolist() == [1, 0, 1, 0]
    assert circuits.label_circuit_days(index, losses, 1, TOWN_NAME).tolist() == [1, 0, 0, 0]
    assert circuits.label_circuit_days(index, losses.iloc[:0], 2, TOWN_NAME).tolist() == [0, 0, 0, 0]


def synthetic_circuit_days(positives: int) -> pd.DataFrame:
    """Quiet circuit-days (a sag a fortnight) and days before a supply loss (sags rising)."""
    rng = np.random.default_rng(3)
    n = 400
    quiet = pd.DataFrame(
        {
            "out_share_1d": rng.choice([0.0, 1 / 24], n, p=[0.93, 0.07]),
            "out_share_3d": rng.uniform(0, 0.01, n),
            "out_share_7d": rng.uniform(0, 0.006, n),
            "out_share_30d": rng.uniform(0.001, 0.004, n),
            "sag_days_7d": rng.choice([0, 1], n, p=[0.6, 0.4]),
        }
    )
    failing = pd.DataFrame(
        {
            "out_share_1d": rng.uniform(0.08, 0.5, positives),
            "out_share_3d": rng.uniform(0.06, 0.4, positives),
            "out_share_7d": rng.uniform(0.03, 0.2, positives),
            "out_share_30d": rng.uniform(0.005, 0.05, positives),
            "sag_days_7d": rng.integers(3, 8, positives),
        }
    )
    frame = pd.concat([quiet, failing], ignore_index=True)
    frame["out_share_rise"] = frame["out_share_3d"] - frame["out_share_30d"]
    frame["label"] = np.r_[np.zeros(n, dtype=int), np.ones(positives, dtype=int)]
    frame["lamps"] = 20
    return frame


def test_the_circuit_model_ranks_a_sagging_circuit_first_and_says_why():
    model = circuits.fit_circuit_model(synthetic_circuit_days(30))
    assert (model.trained_days, model.trained_positive_days) == (430, 30)
    rows = pd.DataFrame(
        {
            "out_share_1d": [0.0, 0.25],
            "out_share_3d": [0.003, 0.12],
            "out_share_7d": [0.002, 0.06],
            "out_share_30d": [0.002, 0.02],
            "sag_days_7d": [0, 4],
            "lamps": [20, 27],
        }
    ).assign(out_share_rise=lambda f: f["out_share_3d"] - f["out_share_30d"])
    quiet, sagging = model.predict(rows)
    assert quiet < 0.05 < 0.5 < sagging
    none, reasons = circuits.explain_circuits(model, rows)
    assert none == []  # nothing above the usual to explain
    assert 1 <= len(reasons) <= 3 and all(r["signal"] == "voltage_v" for r in reasons)
    assert sum(r["weight"] for r in reasons) <= 1.0 + 1e-9
    texts = {r["text"] for r in reasons}
    assert texts & {
        "supply voltage outside 210-250 V in 25 % of the circuit's readings over 1 day (2.0 % over 30 days), 27 lamps",
        "supply voltage outside 210-250 V in 12 % of the circuit's readings over 3 days (2.0 % over 30 days), 27 lamps",
        "voltage sags across the circuit on 4 of the last 7 days",
    }
    assert all(r["text_fr"] and r["text_fr"] != r["text"] for r in reasons)


def test_too_few_supply_losses_to_learn_from_are_refused_with_the_count():
    with pytest.raises(circuits.CircuitModelError, match="^4 circuit-days before a supply loss"):
        circuits.fit_circuit_model(synthetic_circuit_days(4))


def sagging_reading(lamp: Lamp, sag_hours: set[int]):
    healthy = night_reading(lamp)

    def reading(at: datetime):
        values = healthy(at)
        if at.hour in sag_hours:
            values["voltage_v"] = 195.0
        return values

    return reading


def lamp_model_bundle() -> registry.ModelBundle:
    frame = pd.DataFrame(0.0, index=range(40), columns=list(features.FEATURES))
    labels = np.r_[np.zeros(30), np.ones(10)]
    frame["power_factor_1d"] = np.r_[np.full(30, 0.95), np.full(10, 0.8)]
    model = HistGradientBoostingClassifier(max_iter=5).fit(frame, labels)
    return registry.ModelBundle(model, features.FEATURES, 14, reference_of(frame))


def test_circuits_are_scored_from_the_database_beside_the_lamps(ts_conn):
    """C2's three lamps sag for an hour each evening of D-1 and D; C1's do not."""
    lamps = [Lamp(f"L{i}") for i in range(1, 6)]
    for lamp in lamps:
        insert_lamp(ts_conn, lamp.lamp_id, circuit="C2" if lamp.lamp_id in ("L3", "L4", "L5") else "C1")
    for day in (D - DAY, D):
        for lamp in lamps:
            sags = {20} if lamp.lamp_id in ("L3", "L4", "L5") else set()
            lamp.day(day, sagging_reading(lamp, sags))
    insert_readings(ts_conn, lamps)
    features.refresh_daily(ts_conn, D - DAY, D + DAY, time_zone=TOWN_NAME)

    frame = circuits.build_circuit_features(ts_conn, D, D + DAY)
    assert list(frame.index.get_level_values("circuit")) == ["C1", "C2"]
    c2 = frame.loc[("C2", pd.Timestamp(D))]
    assert c2["out_share_1d"] == pytest.approx(6 / 144)  # six 10-minute readings in the 20:00 hour
    assert c2["out_share_3d"] == pytest.approx(12 / 288)
    assert (c2["sag_days_7d"], c2["lamps"], c2["supplied"]) == (2, 3, True)
    assert frame.loc[("C1", pd.Timestamp(D)), "out_share_30d"] == 0

    bundle = lamp_model_bundle()
    bundle.circuit = circuits.fit_circuit_model(synthetic_circuit_days(30))
    registry.save_model(ts_conn, bundle, trained_from=D, trained_to=D, metrics={})
    model = registry.load_model(ts_conn, features.FEATURES)
    run = datetime(2026, 6, 11, 0, 5, tzinfo=UTC)
    summary = score.score_day(ts_conn, model, D, scored_at=run, time_zone=TOWN_NAME)
    assert summary.lamps == 5 and summary.circuits == 2 and summary.top_circuits[0][0] == "C2"
    rows = ts_conn.execute(
        "SELECT circuit, scored_at, feature_day, probability, horizon_days, model_version, lamps, reasons"
        " FROM circuit_predictions ORDER BY probability DESC"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[4], r[5], r[6]) for r in rows] == [
        ("C2", run, D, 14, model.version, 3),
        ("C1", run, D, 14, model.version, 2),
    ]
    assert rows[0][3] > rows[1][3]
    assert rows[0][7] and rows[0][7][0]["signal"] == "voltage_v"


def test_a_model_without_circuit_warnings_scores_lamps_only(ts_conn):
    lamp = Lamp("L1")
    insert_lamp(ts_conn, "L1")
    lamp.day(D, night_reading(lamp))
    insert_readings(ts_conn, [lamp])
    features.refresh_daily(ts_conn, D, D + DAY, time_zone=TOWN_NAME)
    registry.save_model(ts_conn, lamp_model_bundle(), trained_from=D, trained_to=D, metrics={})
    model = registry.load_model(ts_conn, features.FEATURES)
    summary = score.score_day(ts_conn, model, D, time_zone=TOWN_NAME)
    assert (summary.lamps, summary.circuits) == (1, 0)
    assert ts_conn.execute("SELECT count(*) FROM circuit_predictions").fetchone()[0] == 0
