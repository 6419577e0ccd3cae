"""Failure modes: hazards and signatures as functions, then as they show in simulated readings."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from core.contract import EventType
from simulators import failures as fm
from simulators.engine import FleetSimulator
from simulators.failures import FailureConfig, FailureMode
from simulators.town import generate_town

START = datetime(2026, 10, 1, tzinfo=UTC)
STEP = timedelta(minutes=10)


def day(n: float) -> datetime:
    return START + timedelta(days=n)


# --- Configuration and hazards -------------------------------------------------


def test_config_rejects_nonsense():
    with pytest.raises(ValueError):
        FailureConfig(rate_scale=-1.0)
    with pytest.raises(ValueError):
        FailureConfig(sudden_share=1.0)
    with pytest.raises(ValueError):
        FailureConfig(capacitor_precursor_days=(10.0, 5.0))


def test_real_rates_are_kept_apart_from_the_scale():
    real = FailureConfig(rate_scale=1.0)
    scaled = FailureConfig()
    assert scaled.rate_scale > 1.0
    assert scaled.capacitor_rate_per_year == real.capacitor_rate_per_year
    # About 2-3 % of LED luminaires a year at real rates, sudden failures included.
    led_total = (
        real.capacitor_rate_per_year
        + real.led_string_rate_per_year
        + real.photocell_rate_per_year
        + real.water_ingress_rate_per_year
        + real.led_cycling_rate_per_year
        + real.nominal_sudden_rate_per_year()
    )
    assert 0.015 < led_total < 0.04
    assert real.nominal_sudden_rate_per_year() / led_total == pytest.approx(real.sudden_share)


def test_capacitor_hazard_doubles_per_10_degrees_and_grows_with_age():
    config = FailureConfig(rate_scale=1.0)
    at_30, at_40 = fm.capacitor_hazard_per_s(np.array([30.0, 40.0]), np.array([5.0, 5.0]), config)
    assert at_40 / at_30 == pytest.approx(2.0)
    assert at_30 == pytest.approx(config.capacitor_rate_per_year / fm.SECONDS_PER_YEAR)
    new, old = fm.capacitor_hazard_per_s(np.array([30.0, 30.0]), np.array([0.0, 15.0]), config)
    assert old > 5 * new
    assert fm.capacitor_hazard_per_s(np.array([30.0]), np.array([5.0]), FailureConfig(rate_scale=3.0))[
        0
    ] == pytest.approx(3 * at_30)


def test_hps_half_survive_their_rated_life():
    ages_h = np.linspace(0.0, 24_000.0, 24_001)
    hazard = fm.weibull_hazard_per_h(ages_h, 24_000.0, 3.0)
    cumulative = np.trapezoid(hazard, ages_h)
    assert math.exp(-cumulative) == pytest.approx(0.5, abs=0.01)
    assert np.all(np.diff(hazard) >= 0)  # wear-out: the hazard grows with age


def test_signatures_grow_with_progress():
    p = np.linspace(0.0, 1.0, 11)
    for signature in (
        fm.capacitor_power_factor_drop,
        fm.capacitor_ripple_fraction,
        fm.capacitor_temp_rise_c,
        fm.capacitor_power_increase_fraction,
        fm.cycling_rate_per_h,
        fm.supply_sag_rate_per_day,
    ):
        values = signature(p)
        assert np.all(np.diff(values) >= 0), signature.__name__
    assert fm.capacitor_power_factor_drop(np.array([0.0]))[0] == 0.0
    assert np.all(np.diff(fm.photocell_sensitivity(p)) < 0)
    assert fm.led_string_power_factor(np.array([1.0]), np.array([-1]))[0] == pytest.approx(0.8)
    assert fm.led_string_power_factor(np.array([1.0]), np.array([1]))[0] == pytest.approx(1.2)
    assert fm.water_trip_rate_per_h(np.array([1.0]), 0.0)[0] == 0.0
    assert fm.cycling_dark_probability(np.array([0, 1, 10]), 600.0).tolist() == pytest.approx([0.0, 0.2, 0.8])


# --- Signatures in the data -------------------------------------------------------
#
# One quiet fleet (no random failures), one failure of each mode injected on
# lamps of the first circuit, a supply fault on the last circuit, 25 days of
# 10-minute readings in October.

INJECTED = {
    "L00002": (FailureMode.CAPACITOR_AGEING, 20.0, 12.0),
    "L00004": (FailureMode.LED_STRING, 20.0, 14.0),
    "L00006": (FailureMode.PHOTOCELL, 18.0, 10.0),
    "L00008": (FailureMode.WATER_INGRESS, 22.0, 14.0),
    "L00010": (FailureMode.CYCLING, 20.0, 12.0),
    "L00012": (FailureMode.SUDDEN, 15.0, None),
}
HEALTHY = "L00003"


@pytest.fixture(scope="module")
def injected(quiet_config, record_run):
    lamps = generate_town(120, seed=4)
    sim = FleetSimulator(lamps, seed=4, start=START, failure_config=quiet_config)
    for lamp_id, (mode, fails_day, precursor_days) in INJECTED.items():
        sim.inject_failure(lamp_id, mode, day(fails_day), precursor_days)
    last = lamps[-1]
    sim.inject_failure(last.lamp_id, FailureMode.SUPPLY_LOSS, day(19.0), 6.0)
    recording = record_run(sim, START, 25 * 144, STEP)
    circuit_lamps = [lamp.lamp_id for lamp in lamps if lamp.circuit == last.circuit]
    return sim, recording, circuit_lamps


def _lit(recording, lamp_id):
    return recording.col("dim_level", lamp_id) > 0


def test_injected_failures_are_in_the_truth(injected):
    sim, _, _ = injected
    by_lamp = {r.lamp_id: r for r in sim.truth if r.mode != "supply_loss"}
    for lamp_id, (mode, fails_day, precursor_days) in INJECTED.items():
        record = by_lamp[lamp_id]
        assert record.mode == mode.value
        assert record.failed_at == day(fails_day)
        assert record.had_precursor == (mode is not FailureMode.SUDDEN)
        if precursor_days is None:
            assert record.precursor_started_at is None
        else:
            assert record.precursor_started_at == day(fails_day - precursor_days)


def test_a_failed_lamp_is_dark_and_reports_once(injected):
    _, recording, _ = injected
    days = recording.days
    for lamp_id in ("L00002", "L00004", "L00008", "L00010", "L00012"):
        fails_day = INJECTED[lamp_id][1]
        after = days > fails_day + 0.01
        assert not _lit(recording, lamp_id)[after].any(), lamp_id
        assert recording.col("dim_level", lamp_id)[after].max() == 0.0
        assert recording.col("power_w", lamp_id)[after].max() <= 1.0
        failures = recording.events_of(lamp_id, EventType.LAMP_FAILURE)
        assert len(failures) == 1, lamp_id
        # Reported when the lamp should be lit: at failure by night, at dusk by day.
        reported = datetime.fromisoformat(failures[0]["ts"])
        assert day(fails_day) <= reported < day(fails_day + 1)
        assert _lit(recording, HEALTHY)[recording.times.index(reported)]


def test_capacitor_ageing_power_factor_falls_ripple_and_temperature_rise(injected):
    _, recording, _ = injected
    lamp, days = "L00002", recording.days
    lit = _lit(recording, lamp) & _lit(recording, HEALTHY)
    first_week = lit & (days < 7)
    last_3_days = lit & (days > 17) & (days < 20)
    pf = recording.col("power_factor", lamp)
    assert pf[last_3_days].mean() < pf[first_week].mean() - 0.08
    power = recording.col("power_w", lamp)
    assert power[last_3_days].std() / power[last_3_days].mean() > 3 * power[first_week].std() / power[first_week].mean()
    # Hotter than a healthy lamp of the same street, more so at the end.
    excess = recording.col("driver_temp_c", lamp) - recording.col("driver_temp_c", HEALTHY)
    assert excess[last_3_days].mean() > excess[first_week].mean() + 4.0


def test_led_string_power_drifts_before_failure(injected):
    _, recording, _ = injected
    lamp, days = "L00004", recording.days
    lit = _lit(recording, lamp)
    power, current = recording.col("power_w", lamp), recording.col("current_a", lamp)
    before = np.median(power[lit & (days < 6)])
    late = np.median(power[lit & (days > 17) & (days < 20)])
    assert abs(late - before) / before > 0.08
    assert abs(np.median(current[lit & (days > 17) & (days < 20)]) - np.median(current[lit & (days < 6)])) > 0.02


def test_photocell_fault_lights_the_lamp_ever_longer_then_all_day(injected):
    _, recording, _ = injected
    lamp, days = "L00006", recording.days
    by_day_extra = [
        int((_lit(recording, lamp) & ~_lit(recording, HEALTHY) & (days >= d) & (days < d + 1)).sum()) for d in range(25)
    ]
    assert sum(by_day_extra[:8]) == 0  # healthy until the precursor starts on day 8
    assert sum(by_day_extra[8:18]) > 0  # late off / early on
    assert by_day_extra[16] > by_day_extra[10]
    assert all(extra > 50 for extra in by_day_extra[19:])  # burns through the day
    lux = recording.col("ambient_lux", lamp)
    noon = np.array([t.hour == 12 and t.minute == 0 for t in recording.times])
    assert lux[noon & (days < 8)].min() > 1000.0 and lux[noon & (days > 14) & (days < 18)].max() < 50.0
    day_burning = recording.events_of(lamp, EventType.DAY_BURNING)
    assert len(day_burning) == 1 and not recording.events_of(lamp, EventType.LAMP_FAILURE)


def test_water_ingress_trips_on_wet_nights_only(injected):
    sim, recording, _ = injected
    lamp, days = "L00008", recording.days
    wetness = np.array([sim.environment_at(t)["wetness"] for t in recording.times])
    should_be_lit = _lit(recording, HEALTHY)
    tripped = should_be_lit & ~_lit(recording, lamp) & (days < 22)
    assert (should_be_lit & (wetness > 0.3) & (days > 12) & (days < 22)).sum() > 20, "the window needs rain"
    assert tripped.sum() >= 5
    assert np.all(days[tripped] > 8.0)  # only once the precursor has started
    assert np.all(wetness[tripped] > 0.0)  # only when damp
    cycles = recording.col("switch_cycles", lamp)
    healthy_cycles = recording.col("switch_cycles", HEALTHY)
    assert cycles[days < 22][-1] - cycles[0] > healthy_cycles[days < 22][-1] - healthy_cycles[0] + 5


def test_cycling_switches_many_times_a_night_before_failure(injected):
    _, recording, _ = injected
    lamp, days = "L00010", recording.days
    cycles = recording.col("switch_cycles", lamp)
    per_day = np.diff(cycles[::144])
    assert per_day[:7].max() <= 1  # one switch-on a night while healthy
    assert per_day[14:19].min() >= 10
    assert (~_lit(recording, lamp) & _lit(recording, HEALTHY) & (days > 8) & (days < 20)).sum() > 10
    assert len(recording.events_of(lamp, EventType.CYCLING)) >= 8


def test_supply_loss_sags_then_several_lamps_out_together(injected):
    sim, recording, circuit_lamps = injected
    days = recording.days
    lost = [r for r in sim.truth if r.mode == "supply_loss"]
    assert len(lost) >= 3
    assert len({r.failed_at for r in lost}) == 1 and lost[0].failed_at == day(19.0)
    lost_ids = [r.lamp_id for r in lost]
    assert set(lost_ids) <= set(circuit_lamps)
    voltage = np.stack([recording.col("voltage_v", lamp_id) for lamp_id in circuit_lamps], axis=1)
    sagging = (voltage < 215.0) & (voltage > 0.0)
    assert sagging[days < 13].sum() < sagging[(days > 13) & (days < 19)].sum() / 3
    assert sagging[(days > 13) & (days < 19)].any(axis=1).sum() >= 10
    # All out at the same reading, with a supply_loss event each.
    after = days > 19.0
    for lamp_id in lost_ids:
        assert recording.col("voltage_v", lamp_id)[after].max() == 0.0
        assert recording.col("power_w", lamp_id)[after].max() == 0.0
        assert len(recording.events_of(lamp_id, EventType.SUPPLY_LOSS)) == 1
    dark_from = {lamp_id: int(np.argmax(recording.col("voltage_v", lamp_id) == 0.0)) for lamp_id in lost_ids}
    assert len(set(dark_from.values())) == 1


def test_sudden_failure_has_no_precursor(injected):
    _, recording, _ = injected
    lamp, days = "L00012", recording.days
    lit = _lit(recording, lamp)
    pf = recording.col("power_factor", lamp)
    power = recording.col("power_w", lamp)
    first_week, last_3_days = lit & (days < 7), lit & (days > 12) & (days < 15)
    assert abs(pf[last_3_days].mean() - pf[first_week].mean()) < 0.01
    assert power[last_3_days].std() < 2 * power[first_week].std() + 0.5
    cycles = recording.col("switch_cycles", lamp)
    assert np.diff(cycles[::144])[:14].max() <= 1


def test_precursors_do_not_touch_healthy_lamps(injected):
    _, recording, _ = injected
    affected = set(INJECTED) | {e[0] for e in recording.events if e[1]["type"] == EventType.SUPPLY_LOSS}
    for lamp_id in recording.lamp_ids:
        if lamp_id in affected:
            continue
        pf = recording.col("power_factor", lamp_id)[_lit(recording, lamp_id)]
        assert pf.min() > 0.85 and pf.max() - pf.min() < 0.05, lamp_id
        assert np.diff(recording.col("switch_cycles", lamp_id)[::144]).max() <= 1


# --- Failures drawn from the hazards ---------------------------------------------


@pytest.fixture(scope="module")
def natural(record_run):
    """300 lamps, 45 days of 20-minute readings with failures 20 times more frequent than the default."""
    config = FailureConfig(rate_scale=60.0, comm_loss_rate_per_year=0.0, flaky_controller_share=0.0)
    lamps = generate_town(300, seed=11)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    sim = FleetSimulator(lamps, seed=11, start=start, failure_config=config, report_interval_s=1200.0)
    recording = record_run(sim, start, 45 * 72, timedelta(minutes=20))
    return sim, recording


def test_drawn_failures_cover_the_modes_and_are_consistent(natural):
    sim, recording = natural
    modes = Counter(record.mode for record in sim.truth)
    assert {"capacitor_ageing", "cycling", "sudden"} <= set(modes)
    assert len(modes) >= 5
    config = sim.config
    for record in sim.truth:
        assert record.failed_at <= recording.times[-1]
        if record.mode == "sudden":
            assert not record.had_precursor and record.precursor_started_at is None
            continue
        assert record.had_precursor and record.precursor_started_at < record.failed_at
        low, high = config.precursor_days(FailureMode(record.mode))
        length_days = (record.failed_at - record.precursor_started_at).total_seconds() / 86_400.0
        assert low - 1e-6 <= length_days <= high + 1e-6
        if record.detected_at is not None:
            assert record.detected_at >= record.failed_at
    assert modes["sudden"] / sum(modes.values()) > 0.1


def test_drawn_capacitor_failures_show_their_precursor(natural):
    sim, recording = natural
    days = recording.days
    checked = 0
    for record in sim.truth:
        if record.mode != "capacitor_ageing":
            continue
        onset_day = (record.precursor_started_at - recording.start).total_seconds() / 86_400.0
        fail_day = (record.failed_at - recording.start).total_seconds() / 86_400.0
        if onset_day < 7.0:
            continue
        lit = recording.col("dim_level", record.lamp_id) > 0
        pf = recording.col("power_factor", record.lamp_id)
        last_3_days = lit & (days > fail_day - 3) & (days < fail_day)
        first_week = lit & (days < 7)
        if last_3_days.sum() < 10:
            continue
        assert pf[last_3_days].mean() < pf[first_week].mean() - 0.04, record
        checked += 1
    assert checked >= 3


def test_repairs_follow_detection_and_return_the_lamp_to_service(natural):
    sim, recording = natural
    repaired = [r for r in sim.truth if r.repaired_at is not None and r.mode != "supply_loss"]
    assert repaired
    low, high = sim.config.repair_delay_days
    for record in repaired:
        delay = (record.repaired_at - record.detected_at).total_seconds() / 86_400.0
        assert low - 1e-6 <= delay <= high + 1e-6
        events = recording.events_of(record.lamp_id, EventType.REPAIRED)
        assert any(datetime.fromisoformat(e["ts"]) == record.repaired_at for e in events)


def test_mode_weights_multiply_each_named_modes_hazard():
    from simulators.failures import weibull_hazard_per_h, with_mode_weights

    base = FailureConfig()
    mixed = with_mode_weights(base, {"capacitor_ageing": 0.5, "cycling": 2.0, "sudden": 3.0})
    assert mixed.capacitor_rate_per_year == base.capacitor_rate_per_year * 0.5
    assert mixed.led_cycling_rate_per_year == base.led_cycling_rate_per_year * 2.0
    assert mixed.photocell_rate_per_year == base.photocell_rate_per_year  # not named: unchanged
    age_h = np.array([5_000.0, 20_000.0])
    ratio = weibull_hazard_per_h(age_h, mixed.hps_rated_life_h, 3.0) / weibull_hazard_per_h(
        age_h, base.hps_rated_life_h, 3.0
    )
    assert np.allclose(ratio, 2.0)  # HPS cycling: twice the hazard at every age
    odds = base.sudden_share / (1 - base.sudden_share)
    assert mixed.sudden_share / (1 - mixed.sudden_share) == pytest.approx(3.0 * odds)
    with pytest.raises(ValueError, match="unknown failure mode"):
        with_mode_weights(base, {"gremlins": 2.0})
