"""Failures as the fleet lives them: onsets drawn from the hazards, failures, detection, repairs.

Each failure is written to the ground truth (`state.truth`) as it happens; the
events a controller would report go to the step's event list.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from core.contract import EventType
from simulators import failures as fm
from simulators import physics as ph
from simulators.failures import FailureMode, FailureRecord
from simulators.state import (
    FAILED,
    HAZARD_MODES,
    OK,
    PHOTOCELL,
    PRECURSOR,
    SUDDEN,
    Event,
    FleetState,
    utc,
)


def hazards(state: FleetState) -> np.ndarray:
    """Onset hazards per second, one row per mode of `HAZARD_MODES`, one column per lamp."""
    cfg = state.config
    driver_age_years = np.maximum(0.0, (state.t - state.driver_installed_s) / fm.SECONDS_PER_YEAR)
    capacitor = np.where(state.is_discharge, 0.0, fm.capacitor_hazard_per_s(state.driver_temp_c, driver_age_years, cfg))
    cycling = np.where(
        state.is_discharge,
        fm.hps_cycling_hazard_per_s(state.hps_lamp_age_h, state.was_on, cfg),
        state.h_led_cycling,
    )
    others = np.stack([capacitor, state.h_led_string, state.h_photocell, state.h_water, cycling])
    # Sudden failures strike any lamp alike (a surge, a vehicle): one rate for the whole
    # fleet, set so that they are `sudden_share` of the failures expected right now.
    ok = state.cond == OK
    mean_other = float(others[:, ok].sum(axis=0).mean()) if ok.any() else 0.0
    sudden = np.full(state.n_lamps, cfg.sudden_share / (1.0 - cfg.sudden_share) * mean_other)
    return np.vstack([others, sudden[None, :]])


def draw_onsets(state: FleetState, t: float, dt_s: float) -> None:
    """Healthy lamps that start a precursor (or fail outright) during the `dt_s` before `t`."""
    if dt_s <= 0.0:
        return
    rng = state.rng
    rates = hazards(state)
    total = rates.sum(axis=0)
    fire = (state.cond == OK) & (rng.random(state.n_lamps) < -np.expm1(-total * dt_s))
    lamps = np.flatnonzero(fire)
    if not lamps.size:
        return
    cumulative = np.cumsum(rates[:, lamps], axis=0) / total[lamps]
    pick = (rng.random(lamps.size) > cumulative).sum(axis=0)
    modes = HAZARD_MODES[np.minimum(pick, len(HAZARD_MODES) - 1)]
    for i, mode in zip(lamps.tolist(), modes.tolist()):
        if mode == SUDDEN:
            state.mode[i] = mode
            fail_lamp(state, i, t, had_precursor=False)
            continue
        days = state.config.precursor_days(fm.MODES_BY_CODE[mode])
        state.start_precursor(i, mode, t, t + float(fm.draw_precursor_s(rng, days, 1)[0]))


def fail_lamp(state: FleetState, i: int, failed_at_s: float, had_precursor: bool) -> None:
    state.cond[i] = FAILED
    state.fail_s[i] = failed_at_s
    state.detected[i] = False
    if not had_precursor:
        state.onset_s[i] = np.nan
    record = FailureRecord(
        lamp_id=state.lamp_ids[i],
        failed_at=utc(failed_at_s),
        mode=fm.MODES_BY_CODE[int(state.mode[i])].value,
        had_precursor=had_precursor,
        precursor_started_at=utc(state.onset_s[i]) if had_precursor else None,
    )
    state.record[i] = len(state.truth)
    state.truth.append(record)


def progress_failures(state: FleetState, t: float) -> None:
    """Lamps whose precursor has run its course fail."""
    due = np.flatnonzero((state.cond == PRECURSOR) & (state.fail_s <= t))
    for i in due.tolist():
        fail_lamp(state, i, float(state.fail_s[i]), had_precursor=bool(state.mode[i] != SUDDEN))


def progress_circuits(state: FleetState, t: float, dt_s: float, events: list[Event]) -> None:
    """Supply faults: new ones start, those due cut their circuit, those repaired restore it."""
    rng = state.rng
    cfg = state.config
    if dt_s > 0.0:
        fire = (state.circuit_cond == OK) & (rng.random(state.n_circuits) < -math.expm1(-state.h_supply * dt_s))
        for c in np.flatnonzero(fire).tolist():
            state.start_circuit_fault(c, t, t + float(fm.draw_precursor_s(rng, cfg.supply_precursor_days, 1)[0]))
    for c in np.flatnonzero((state.circuit_cond == PRECURSOR) & (state.circuit_fail_s <= t)).tolist():
        _lose_supply(state, c, t, events)
    for c in np.flatnonzero((state.circuit_cond == FAILED) & (state.circuit_repair_due_s <= t)).tolist():
        _restore_circuit(state, c, float(state.circuit_repair_due_s[c]), events, "supply restored")


def _lose_supply(state: FleetState, c: int, t: float, events: list[Event]) -> None:
    failed_at = float(state.circuit_fail_s[c])
    state.circuit_cond[c] = FAILED
    lamps = state.circuit_lamps_lost(c)
    state.supply_ok[lamps] = False
    records = []
    for i in lamps.tolist():
        records.append(len(state.truth))
        state.truth.append(
            FailureRecord(
                lamp_id=state.lamp_ids[i],
                failed_at=utc(failed_at),
                mode=FailureMode.SUPPLY_LOSS.value,
                had_precursor=True,
                precursor_started_at=utc(state.circuit_onset_s[c]),
                detected_at=utc(t),
            )
        )
        detail = {"circuit": state.circuit_names[c], "voltage_v": 0.0}
        events.append((state.lamp_ids[i], {"ts": state.iso(t), "type": EventType.SUPPLY_LOSS.value, "detail": detail}))
    state.circuit_records[c] = records
    if state.config.auto_repair:
        low, high = state.config.supply_repair_delay_days
        state.circuit_repair_due_s[c] = t + state.rng.uniform(low, high) * fm.SECONDS_PER_DAY


def _restore_circuit(state: FleetState, c: int, t: float, events: list[Event], reason: str) -> None:
    lamps = state.circuit_lamps_lost(c)
    state.supply_ok[lamps] = True
    state.circuit_cond[c] = OK
    state.circuit_onset_s[c] = np.nan
    state.circuit_fail_s[c] = np.nan
    state.circuit_repair_due_s[c] = np.inf
    for record_index in state.circuit_records.pop(c, []):
        state.truth[record_index].repaired_at = utc(t)
    for i in lamps.tolist():
        detail = {"reason": reason, "circuit": state.circuit_names[c]}
        events.append((state.lamp_ids[i], {"ts": state.iso(t), "type": EventType.REPAIRED.value, "detail": detail}))


def report_failures(
    state: FleetState, t: float, commanded: np.ndarray, astro_day: np.ndarray, lit: np.ndarray, events: list[Event]
) -> None:
    """Events of the failures a controller notices at `t`: dark when asked for light, lit by day, cycling."""
    failed = state.cond == FAILED
    undetected = failed & ~state.detected
    if undetected.any():
        dark_failure = undetected & (state.mode != PHOTOCELL) & state.supply_ok & (commanded > 0.0)
        day_burning = undetected & (state.mode == PHOTOCELL) & astro_day & lit
        for i in np.flatnonzero(dark_failure | day_burning).tolist():
            if state.mode[i] == PHOTOCELL:
                kind = EventType.DAY_BURNING.value
                detail: Any = {"dim_level": 100.0, "note": "lamp lit in daylight"}
            else:
                kind = EventType.LAMP_FAILURE.value
                detail = {"commanded_level": float(commanded[i]), "power_w": ph.STANDBY_POWER_W}
            events.append((state.lamp_ids[i], {"ts": state.iso(t), "type": kind, "detail": detail}))
            state.detected[i] = True
            state.truth[state.record[i]].detected_at = utc(t)
            if state.config.auto_repair:
                low, high = state.config.repair_delay_days
                state.repair_due_s[i] = t + state.rng.uniform(low, high) * fm.SECONDS_PER_DAY

    newly_cycling = (state.night_cycles >= fm.CYCLING_EVENT_MIN_CYCLES) & ~state.cycling_reported
    for i in np.flatnonzero(newly_cycling).tolist():
        state.cycling_reported[i] = True
        detail = {"cycles_tonight": int(state.night_cycles[i])}
        events.append((state.lamp_ids[i], {"ts": state.iso(t), "type": EventType.CYCLING.value, "detail": detail}))


def auto_repairs(state: FleetState, t: float, events: list[Event]) -> None:
    """Crews repair the lamps whose repair falls due by `t`."""
    for i in np.flatnonzero(state.repair_due_s <= t).tolist():
        repair_lamp(state, i, float(state.repair_due_s[i]), events, "maintenance")


def repair_lamp(state: FleetState, i: int, t: float, events: list[Event], reason: str) -> None:
    """A crew at lamp `i` at `t`: new driver (and lamp), fault cleared, a cut circuit restored."""
    cond = int(state.cond[i])
    if cond == FAILED and state.record[i] >= 0:
        state.truth[state.record[i]].repaired_at = utc(t)
    elif cond == PRECURSOR and state.mode[i] != SUDDEN:
        state.averted.append(
            FailureRecord(
                lamp_id=state.lamp_ids[i],
                failed_at=utc(state.fail_s[i]),
                mode=fm.MODES_BY_CODE[int(state.mode[i])].value,
                had_precursor=True,
                precursor_started_at=utc(state.onset_s[i]),
                repaired_at=utc(t),
                outcome="averted",
            )
        )
    c = int(state.circuit[i])
    restored = not state.supply_ok[i] and state.circuit_cond[c] == FAILED
    if restored:  # the crew finds the cable fault; the restoration reports every lamp, this one included
        _restore_circuit(state, c, t, events, "supply restored")
    state.cond[i] = OK
    state.mode[i] = 0
    state.onset_s[i] = np.nan
    state.fail_s[i] = np.nan
    state.detected[i] = False
    state.direction[i] = 0
    state.record[i] = -1
    state.repair_due_s[i] = np.inf
    state.driver_installed_s[i] = t
    state.hps_lamp_age_h[i] = 0.0
    state.night_cycles[i] = 0
    if not restored:
        detail = {"reason": reason}
        events.append((state.lamp_ids[i], {"ts": state.iso(t), "type": EventType.REPAIRED.value, "detail": detail}))


def schedule_failure(state: FleetState, i: int, mode: FailureMode, fail_s: float, precursor_days: float | None) -> None:
    """Make lamp `i` fail of `mode` at `fail_s` (see FleetSimulator.inject_failure)."""
    if mode is FailureMode.SUDDEN:
        days = 0.0
    elif precursor_days is None:
        low, high = state.config.precursor_days(mode)
        days = (low + high) / 2.0
    else:
        days = float(precursor_days)
    onset_s = fail_s - days * fm.SECONDS_PER_DAY
    if fail_s <= state.t:
        raise ValueError("fails_at must be after the current simulation time")
    if mode is FailureMode.SUPPLY_LOSS:
        c = int(state.circuit[i])
        if state.circuit_cond[c] != OK:
            raise ValueError(f"circuit {state.circuit_names[c]} already has a supply fault")
        state.start_circuit_fault(c, onset_s, fail_s)
        lost_min = min(int(state.circuit_size[c]), state.config.supply_min_lamps_lost)
        state.circuit_cutoff[c] = min(int(state.pos_in_circuit[i]), int(state.circuit_size[c]) - lost_min)
        return
    if state.cond[i] != OK:
        raise ValueError(f"lamp {state.lamp_ids[i]} already has a failure under way")
    state.start_precursor(i, fm.MODE_CODES[mode], onset_s, fail_s)


def pending_records(state: FleetState) -> list[FailureRecord]:
    """Failures whose precursor is still running: the truth file lists them as pending."""
    pending = []
    for i in np.flatnonzero((state.cond == PRECURSOR) & (state.mode != SUDDEN)).tolist():
        pending.append(
            FailureRecord(
                lamp_id=state.lamp_ids[i],
                failed_at=utc(state.fail_s[i]),
                mode=fm.MODES_BY_CODE[int(state.mode[i])].value,
                had_precursor=True,
                precursor_started_at=utc(state.onset_s[i]),
                outcome="pending",
            )
        )
    for c in np.flatnonzero(state.circuit_cond == PRECURSOR).tolist():
        for i in state.circuit_lamps_lost(c).tolist():
            pending.append(
                FailureRecord(
                    lamp_id=state.lamp_ids[i],
                    failed_at=utc(state.circuit_fail_s[c]),
                    mode=FailureMode.SUPPLY_LOSS.value,
                    had_precursor=True,
                    precursor_started_at=utc(state.circuit_onset_s[c]),
                    outcome="pending",
                )
            )
    return pending
