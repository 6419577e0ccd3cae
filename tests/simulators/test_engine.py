from __future__ import annotations

import csv
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from astral import Observer
from astral.sun import sunrise, sunset

from core.contract import LampEvent, Plan, PlanPoint, TelemetryReading
from simulators.engine import READING_FIELDS, FleetSimulator
from simulators.failures import TRUTH_COLUMNS, FailureConfig, FailureMode
from simulators.town import generate_town

STEP = timedelta(minutes=10)
# Busy: failures 30 times the default rate, flaky radios, crews at work.
BUSY = FailureConfig(rate_scale=90.0, comm_loss_rate_per_year=300.0)


def run(sim: FleetSimulator, start: datetime, steps: int, interval: timedelta = STEP):
    return [sim.step(start + k * interval) for k in range(1, steps + 1)]


def make_plan(version: int, generated_at: datetime, points: list[tuple[datetime, int]]) -> Plan:
    return Plan(
        version=version,
        generated_at=generated_at,
        points=[PlanPoint(at=at.astimezone(UTC), level=level) for at, level in points],
    )


@pytest.fixture(scope="module")
def lamps():
    return generate_town(200, seed=5)


@pytest.fixture(scope="module")
def busy_run(lamps):
    """Three busy days in winter, with a supply fault, as `step` returns them."""
    start = datetime(2026, 1, 10, 12, tzinfo=UTC)
    sim = FleetSimulator(lamps, seed=5, start=start, failure_config=BUSY)
    sim.inject_failure(lamps[-1].lamp_id, FailureMode.SUPPLY_LOSS, start + timedelta(days=1), 0.5)
    return sim, start, run(sim, start, 3 * 144)


# --- Shape of the output ------------------------------------------------------------


def test_one_reading_per_lamp_per_step(lamps, busy_run):
    _, start, results = busy_run
    assert sum(len(r.readings) for r in results) == len(lamps) * len(results)
    for k, result in enumerate(results, start=1):
        assert result.ts == start + k * STEP
        assert [lamp_id for lamp_id, _ in result.readings] == [lamp.lamp_id for lamp in lamps]
        assert all(payload["seq"] == k for _, payload in result.readings)
        assert all(payload["ts"] == result.ts.isoformat() for _, payload in result.readings)


def test_every_reading_and_event_fits_the_contract(busy_run):
    _, _, results = busy_run
    kinds = set()
    for result in results:
        for _, payload in result.readings:
            assert set(payload) == {"ts", *READING_FIELDS}
            TelemetryReading.model_validate(payload)
        for _, event in result.events:
            LampEvent.model_validate(event)
            kinds.add(event["type"])
    assert {"lamp_failure", "supply_loss", "comm_loss"} <= kinds


def test_events_fall_within_their_step(busy_run):
    _, start, results = busy_run
    previous = start
    for result in results:
        for _, event in result.events:
            assert previous < datetime.fromisoformat(event["ts"]) <= result.ts
        previous = result.ts


def test_cumulative_counters_never_decrease(busy_run):
    _, _, results = busy_run
    for name in ("energy_wh", "burning_hours", "switch_cycles", "seq"):
        series = np.array([[payload[name] for _, payload in r.readings] for r in results])
        assert np.all(np.diff(series, axis=0) >= 0), name


def test_same_seed_same_output_other_seed_other_output(lamps):
    start = datetime(2026, 3, 1, tzinfo=UTC)

    def output(seed: int):
        sim = FleetSimulator(lamps, seed=seed, start=start, failure_config=BUSY)
        results = run(sim, start, 144)
        return [(r.readings, r.events, r.offline_lamp_ids, r.went_offline, r.came_online) for r in results], sim.truth

    first, first_truth = output(8)
    again, again_truth = output(8)
    assert first == again and first_truth == again_truth
    other, _ = output(9)
    assert other != first


def test_time_must_move_forward_and_be_aware(lamps):
    start = datetime(2026, 3, 1, tzinfo=UTC)
    sim = FleetSimulator(lamps[:5], seed=1, start=start)
    sim.step(start + STEP)
    with pytest.raises(ValueError):
        sim.step(start)
    with pytest.raises(ValueError):
        sim.step(datetime(2026, 3, 2))
    with pytest.raises(ValueError):
        FleetSimulator(lamps[:5], seed=1, start=datetime(2026, 3, 1))


# --- Light on at night, off by day -----------------------------------------------------


@pytest.mark.parametrize("day", [datetime(2026, 1, 20, tzinfo=UTC), datetime(2026, 6, 21, tzinfo=UTC)])
def test_lamps_switch_at_dusk_and_dawn_as_astral_says(lamps, quiet_config, day):
    fleet = lamps[:40]
    positions = [Observer(lamp.lat, lamp.lon) for lamp in fleet]
    offset = timedelta(minutes=10)
    expected_off = [sunrise(o, day.date()) - offset for o in positions]
    expected_on = [sunset(o, day.date()) + offset for o in positions]
    minute = timedelta(minutes=1)
    for expected, was_lit in ((expected_off, True), (expected_on, False)):
        window_start = min(expected) - timedelta(minutes=30)
        sim = FleetSimulator(fleet, seed=2, start=window_start, failure_config=quiet_config, report_interval_s=60.0)
        lit = np.array([[p["dim_level"] > 0 for _, p in r.readings] for r in run(sim, window_start, 60, minute)])
        times = [window_start + k * minute for k in range(1, 61)]
        assert lit[0].all() == was_lit and lit[-1].all() == (not was_lit)
        for j, when in enumerate(expected):
            switched = times[int(np.argmax(lit[:, j] != was_lit))]
            assert abs((switched - when).total_seconds()) <= 120.0


@pytest.mark.parametrize("month", [1, 7])
def test_dark_by_day_lit_by_night(lamps, quiet_config, month):
    start = datetime(2026, month, 15, tzinfo=UTC)
    sim = FleetSimulator(lamps, seed=3, start=start, failure_config=quiet_config)
    results = {r.ts.hour: r for r in run(sim, start, 144, STEP) if r.ts.minute == 0}
    assert all(p["dim_level"] == 100.0 and p["power_w"] > 20.0 for _, p in results[1].readings)
    assert all(p["dim_level"] == 0.0 and p["power_w"] < 1.0 for _, p in results[12].readings)
    assert all(p["ambient_lux"] > 500.0 for _, p in results[12].readings)
    assert all(p["ambient_lux"] < 5.0 for _, p in results[1].readings)


# --- Dimming plans ---------------------------------------------------------------------


def test_power_follows_the_dim_level(lamps, quiet_config):
    start = datetime(2026, 2, 1, 12, tzinfo=UTC)
    sim = FleetSimulator(lamps, seed=4, start=start, failure_config=quiet_config)
    first_night = run(sim, start, 144)
    full = {lid: p for lid, p in first_night[72].readings}  # midnight, default full output
    plan = make_plan(1, start, [(start + timedelta(days=1), 50), (start + timedelta(days=3), 0)])
    for lamp in lamps:
        assert sim.apply_plan(lamp.lamp_id, plan) == (True, None)
    second_night = run(sim, start + timedelta(days=1), 144)
    half = {lid: p for lid, p in second_night[72].readings}
    ratios = []
    for lamp in lamps:
        assert half[lamp.lamp_id]["dim_level"] == 50.0
        if lamp.technology == "LED":
            ratios.append(half[lamp.lamp_id]["power_w"] / full[lamp.lamp_id]["power_w"])
            assert half[lamp.lamp_id]["power_factor"] < full[lamp.lamp_id]["power_factor"]
            assert half[lamp.lamp_id]["current_a"] < full[lamp.lamp_id]["current_a"]
    # A little over half: the driver's losses do not halve with its load.
    assert 0.49 < float(np.mean(ratios)) < 0.56


def test_plans_are_applied_or_rejected(lamps):
    start = datetime(2026, 2, 1, tzinfo=UTC)
    sim = FleetSimulator(lamps[:3], seed=1, start=start)
    lamp_id = lamps[0].lamp_id
    assert sim.current_plan_version(lamp_id) is None
    two_days = [(start + timedelta(hours=17), 100), (start + timedelta(hours=65), 0)]
    assert sim.apply_plan(lamp_id, make_plan(5, start, two_days)) == (True, None)
    assert sim.current_plan_version(lamp_id) == 5
    applied, reason = sim.apply_plan(lamp_id, make_plan(4, start, two_days))
    assert not applied and "older" in reason
    assert sim.apply_plan(lamp_id, make_plan(5, start, two_days)) == (True, None)  # idempotent
    short = [(start + timedelta(hours=17), 100), (start + timedelta(hours=40), 0)]
    applied, reason = sim.apply_plan(lamp_id, make_plan(6, start, short))
    assert not applied and "48 h" in reason
    assert sim.current_plan_version(lamp_id) == 5
    applied, reason = sim.apply_plan("L99999", make_plan(1, start, two_days))
    assert not applied and "unknown" in reason
    assert sim.apply_plan(lamp_id, make_plan(6, start, two_days)) == (True, None)
    assert sim.current_plan_version(lamp_id) == 6


def test_the_plan_in_force_sets_the_level_and_the_clock_does_otherwise(lamps, quiet_config):
    start = datetime(2026, 11, 24, 12, tzinfo=UTC)
    fleet = [lamp for lamp in lamps if lamp.technology == "LED"][:3]
    sim = FleetSimulator(fleet, seed=6, start=start, failure_config=quiet_config)
    day1 = datetime(2026, 11, 25, tzinfo=UTC)
    points = [
        (day1 - timedelta(hours=7, minutes=3), 80),  # 16:57 the evening before
        (day1 + timedelta(hours=1, minutes=7), 40),
        (day1 + timedelta(hours=4, minutes=31), 0),  # part-night switch-off
        (day1 + timedelta(hours=5, minutes=2), 100),
        (day1 + timedelta(hours=7, minutes=45), 0),
        (day1 + timedelta(hours=16, minutes=40), 70),
        (day1 + timedelta(hours=40, minutes=11), 0),
    ]
    plan = make_plan(3, start, points)
    planned, unplanned = fleet[0].lamp_id, fleet[1].lamp_id
    assert sim.apply_plan(planned, plan) == (True, None)
    first, last = plan.points[0].at, plan.points[-1].at
    checked = 0
    for result in run(sim, start, 4 * 144):
        readings = dict(result.readings)
        default = readings[unplanned]["dim_level"]
        level = readings[planned]["dim_level"]
        if first <= result.ts <= last:
            assert level == plan.level_at(result.ts), result.ts
            checked += 1
        else:
            assert level == default, result.ts
    assert checked > 200
    assert sim.current_plan_version(planned) == 3


def test_low_levels_are_held_at_the_drivers_minimum(lamps, quiet_config):
    start = datetime(2026, 11, 24, 18, tzinfo=UTC)
    led = next(lamp for lamp in lamps if lamp.technology == "LED")
    hps = next(lamp for lamp in lamps if lamp.technology == "HPS")
    sim = FleetSimulator([led, hps], seed=6, start=start, failure_config=quiet_config)
    plan = make_plan(1, start, [(start, 5), (start + timedelta(days=3), 0)])
    for lamp in (led, hps):
        sim.apply_plan(lamp.lamp_id, plan)
    readings = dict(sim.step(start + STEP).readings)
    assert readings[led.lamp_id]["dim_level"] == 10.0
    assert readings[hps.lamp_id]["dim_level"] == 50.0


# --- Failures, repairs, truth ------------------------------------------------------------


def test_repair_brings_a_failed_lamp_back(lamps, quiet_config, tmp_path):
    start = datetime(2026, 12, 1, 18, tzinfo=UTC)
    fleet = lamps[:30]
    sim = FleetSimulator(fleet, seed=7, start=start, failure_config=quiet_config)
    broken, worn = fleet[0].lamp_id, fleet[1].lamp_id
    sim.inject_failure(broken, FailureMode.SUDDEN, start + timedelta(minutes=25))
    sim.inject_failure(worn, FailureMode.CAPACITOR_AGEING, start + timedelta(days=10), 5.0)
    results = run(sim, start, 6)
    assert dict(results[-1].readings)[broken]["dim_level"] == 0.0
    assert [e["type"] for lid, e in results[2].events if lid == broken] == ["lamp_failure"]

    repaired_at = start + timedelta(minutes=65)
    sim.repair(broken, repaired_at)
    sim.repair(worn, repaired_at)
    after = sim.step(start + 7 * STEP)
    readings = dict(after.readings)
    assert readings[broken]["dim_level"] == 100.0 and readings[broken]["power_w"] > 10.0
    repaired = [(lid, e) for lid, e in after.events if e["type"] == "repaired"]
    assert {lid for lid, _ in repaired} == {broken, worn}
    assert all(datetime.fromisoformat(e["ts"]) == repaired_at for _, e in repaired)

    record = next(r for r in sim.truth if r.lamp_id == broken)
    assert record.mode == "sudden" and record.repaired_at == repaired_at
    assert record.detected_at == start + 3 * STEP
    averted = next(r for r in sim.averted if r.lamp_id == worn)
    assert averted.outcome == "averted" and averted.failed_at == start + timedelta(days=10)
    assert sim.lamp_condition(worn)["condition"] == "ok"
    assert sim.lamp_condition(broken)["condition"] == "ok"

    path = tmp_path / "truth.csv"
    sim.inject_failure(fleet[2].lamp_id, FailureMode.WATER_INGRESS, start + timedelta(days=20), 30.0)
    sim.write_truth(path)
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == TRUTH_COLUMNS
    outcomes = {row["lamp_id"]: row for row in rows}
    assert outcomes[broken]["outcome"] == "failed" and outcomes[broken]["had_precursor"] == "false"
    assert outcomes[broken]["precursor_started_at"] == ""
    assert datetime.fromisoformat(outcomes[broken]["repaired_at"]) == repaired_at
    assert outcomes[worn]["outcome"] == "averted"
    assert outcomes[fleet[2].lamp_id]["outcome"] == "pending"


def test_repairing_a_lamp_cut_off_restores_its_circuit(lamps, quiet_config):
    start = datetime(2026, 12, 1, 20, tzinfo=UTC)
    sim = FleetSimulator(lamps, seed=8, start=start, failure_config=quiet_config)
    victim = lamps[-1]
    sim.inject_failure(victim.lamp_id, FailureMode.SUPPLY_LOSS, start + timedelta(minutes=15), 1.0)
    results = run(sim, start, 3)
    lost = {lid for lid, e in results[1].events if e["type"] == "supply_loss"}
    assert len(lost) >= 3 and victim.lamp_id in lost
    assert all(lamps[int(lid[1:]) - 1].circuit == victim.circuit for lid in lost)
    assert all(p["voltage_v"] == 0.0 for lid, p in results[-1].readings if lid in lost)
    sim.repair(victim.lamp_id, start + timedelta(minutes=35))
    after = sim.step(start + 4 * STEP)
    assert {lid for lid, e in after.events if e["type"] == "repaired"} == lost
    assert all(p["dim_level"] == 100.0 and p["voltage_v"] > 200.0 for lid, p in after.readings if lid in lost)
    assert all(r.repaired_at is not None for r in sim.truth if r.mode == "supply_loss")


def test_a_long_gap_is_simulated_in_sub_steps(lamps, quiet_config):
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    sim = FleetSimulator(lamps[:20], seed=9, start=start, failure_config=quiet_config)
    before = dict(sim.step(start + STEP).readings)
    after = dict(sim.step(start + STEP + timedelta(days=1)).readings)
    observer = Observer(lamps[0].lat, lamps[0].lon)
    night = (sunrise(observer, start.date() + timedelta(days=1)) - sunset(observer, start.date())) - timedelta(
        minutes=20
    )
    for lamp_id, payload in after.items():
        burnt_h = payload["burning_hours"] - before[lamp_id]["burning_hours"]
        assert burnt_h == pytest.approx(night.total_seconds() / 3600.0, abs=0.2)
        assert payload["switch_cycles"] - before[lamp_id]["switch_cycles"] == 1
        assert payload["seq"] == before[lamp_id]["seq"] + 1
        energy_wh = payload["energy_wh"] - before[lamp_id]["energy_wh"]
        rated_w = next(lamp.rated_power_w for lamp in lamps if lamp.lamp_id == lamp_id)
        assert 0.8 * rated_w * burnt_h < energy_wh < 1.2 * rated_w * burnt_h


# --- Communication ----------------------------------------------------------------------


def test_offline_controllers_are_reported_and_still_produce_readings(lamps):
    config = FailureConfig(rate_scale=0.0, comm_loss_rate_per_year=2000.0, flaky_controller_share=0.0)
    start = datetime(2026, 4, 1, tzinfo=UTC)
    fleet = lamps[:50]
    sim = FleetSimulator(fleet, seed=10, start=start, failure_config=config)
    offline: set[str] = set()
    since: dict[str, datetime] = {}
    outages = []
    for result in run(sim, start, 2 * 144):
        assert len(result.readings) == len(fleet)
        assert not offline & set(result.went_offline)
        assert set(result.came_online) <= offline
        offline = (offline | set(result.went_offline)) - set(result.came_online)
        assert result.offline_lamp_ids == offline
        for lamp_id in result.went_offline:
            since[lamp_id] = result.ts
        comm_events = {lid: e for lid, e in result.events if e["type"] == "comm_loss"}
        assert set(comm_events) == set(result.came_online)
        for lamp_id in result.came_online:
            outages.append(result.ts - since.pop(lamp_id))
            assert datetime.fromisoformat(comm_events[lamp_id]["detail"]["offline_since"]) == result.ts - outages[-1]
    assert len(outages) > 20
    assert min(outages) >= STEP and max(outages) <= timedelta(hours=12, minutes=10)
    assert timedelta(minutes=20) < sorted(outages)[len(outages) // 2] < timedelta(hours=2)


# --- Speed -----------------------------------------------------------------------------


@pytest.mark.slow
def test_a_city_of_100000_lamps_steps_with_one_reading_each():
    # Speed is measured by benchmarks/simulator.py, not asserted here.
    fleet = generate_town(100_000, seed=1)
    start = datetime(2026, 1, 1, 17, tzinfo=UTC)
    sim = FleetSimulator(fleet, seed=1, start=start)
    arrays = sim.step_arrays(start + STEP)
    assert len(arrays.columns["power_w"]) == 100_000
    result = sim.step(start + 2 * STEP)
    assert len(result.readings) == 100_000
    assert len({lamp_id for lamp_id, _ in result.readings}) == 100_000
