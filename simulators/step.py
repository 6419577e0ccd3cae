"""Advancing the fleet in time: light, electricity and heat of every lamp, and the readings they give.

A step longer than the report interval is simulated in equal sub-steps; only
the last one's readings are returned, with the events of all of them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

import numpy as np

from core.contract import MEASUREMENT_FIELDS, EventType
from simulators import failures as fm
from simulators import faults
from simulators import physics as ph
from simulators.state import (
    CAPACITOR,
    CYCLING,
    FAILED,
    LED_STRING,
    PHOTOCELL,
    PRECURSOR,
    WATER,
    Event,
    FleetState,
)

READING_FIELDS = ("seq", *MEASUREMENT_FIELDS)
# Decimals each float field is rounded to in readings.
READING_DECIMALS = {
    "voltage_v": 1,
    "current_a": 3,
    "power_w": 2,
    "power_factor": 3,
    "energy_wh": 1,
    "dim_level": 1,
    "driver_temp_c": 1,
    "ambient_lux": 1,
    "burning_hours": 3,
    "rssi_dbm": 0,
}
CIRCUIT_DROP_V_PER_LAMP = 0.05  # voltage drop along the circuit cable, per lamp from the cabinet


@dataclass(frozen=True)
class StepArrays:
    """One step's readings as columns (row i is lamp `lamp_ids[i]`), already rounded.

    `columns` holds every field of READING_FIELDS: int64 for seq and
    switch_cycles, float64 otherwise. `offline` is a boolean mask over lamps.
    """

    ts: datetime
    lamp_ids: list[str]
    columns: dict[str, np.ndarray]
    events: list[Event]
    offline: np.ndarray
    went_offline: list[str]
    came_online: list[str]


@dataclass(frozen=True, slots=True)
class _Signatures:
    """Which lamps show which precursor at a sub-step, and how far along they are (0-1)."""

    progress: np.ndarray
    capacitor: np.ndarray
    led_string: np.ndarray
    photocell: np.ndarray
    water: np.ndarray
    cycling: np.ndarray
    dark: np.ndarray  # failed and producing no light
    day_burning: np.ndarray  # failed photocell: lit by day


def advance(state: FleetState, now: datetime, report_interval_s: float) -> StepArrays:
    """Advance the fleet to `now` (aware, not before `state.t`); the readings at `now`."""
    t_end = now.timestamp()
    state.now_s = t_end
    state.now_iso = now.isoformat()
    events = state.pending_events
    state.pending_events = []

    gap_s = t_end - state.t
    n_sub = max(1, math.ceil(gap_s / report_interval_s - 1e-9))
    t_start = state.t
    reading: dict[str, np.ndarray] = {}
    for k in range(1, n_sub + 1):
        t = t_end if k == n_sub else t_start + gap_s * k / n_sub
        reading = _substep(state, t, t - state.t, events, final=k == n_sub)
        state.t = t
    # Outages start at report times: a controller is offline at a reading or not.
    state.outages.start_new(t_end, gap_s, state.rng, state.config)

    went, back = state.outages.changes_since_last_step()
    return StepArrays(
        ts=now,
        lamp_ids=state.lamp_ids,
        columns=reading,
        events=events,
        offline=state.outages.offline.copy(),
        went_offline=[state.lamp_ids[i] for i in np.flatnonzero(went)],
        came_online=[state.lamp_ids[i] for i in np.flatnonzero(back)],
    )


def _substep(state: FleetState, t: float, dt_s: float, events: list[Event], final: bool) -> dict[str, np.ndarray]:
    """Advance every lamp by `dt_s` to time `t`; the reading columns if `final`."""
    air_c, _raining, wetness, cloud = state.weather.at(t)
    astro_day = state.astronomical_day(t)
    elevation = ph.solar_elevation_deg(state.sun.cell_lat_deg, state.sun.cell_lon_deg, t)
    true_lux = ph.daylight_lux(elevation, cloud)[state.sun.cell_of_lamp]
    _start_night_if_new(state, t)

    faults.progress_failures(state, t)
    faults.draw_onsets(state, t, dt_s)
    faults.progress_circuits(state, t, dt_s, events)
    signs = _signatures(state, t)

    commanded, measured_lux = _commanded_levels(state, t, astro_day, true_lux, signs)
    output, extra_cycles, noise_sd = _light_output(state, commanded, signs, wetness, dt_s)
    voltage = _supply_voltage(state, t, dt_s)
    lamp_power_w, power_w, power_factor, current_a = _electrical(state, output, voltage, signs, noise_sd)
    lit = output > 0.0
    _heat(state, t, dt_s, air_c + state.ambient_offset_c, lamp_power_w, lit, signs)

    dt_h = dt_s / 3600.0
    state.energy_wh += power_w * dt_h
    state.burning_h += np.where(lit, dt_h, 0.0)
    state.switch_cycles += (lit & ~state.was_on).astype(np.int64) + np.maximum(extra_cycles, 0)
    state.hps_lamp_age_h += np.where(state.is_discharge & lit, dt_h, 0.0)
    state.was_on = lit

    faults.report_failures(state, t, commanded, astro_day, lit, events)
    faults.auto_repairs(state, t, events)
    _end_outages(state, t, events)
    if not final:
        return {}
    return _reading_columns(state, voltage, current_a, power_w, power_factor, output, measured_lux)


def _start_night_if_new(state: FleetState, t: float) -> None:
    night = state.night_of(t)
    if night != state.night_id:
        state.night_id = night
        state.night_cycles[:] = 0
        state.cycling_reported[:] = False


def _signatures(state: FleetState, t: float) -> _Signatures:
    # A precursor shows from its onset (an injected failure may be scheduled ahead).
    precursor = (state.cond == PRECURSOR) & (state.onset_s <= t)
    span = np.maximum(np.where(precursor, state.fail_s - state.onset_s, 1.0), 1.0)
    progress = np.where(precursor, np.clip((t - state.onset_s) / span, 0.0, 1.0), 0.0)
    mode = state.mode
    failed = state.cond == FAILED
    return _Signatures(
        progress=progress,
        capacitor=precursor & (mode == CAPACITOR),
        led_string=precursor & (mode == LED_STRING),
        photocell=precursor & (mode == PHOTOCELL),
        water=precursor & (mode == WATER),
        cycling=precursor & (mode == CYCLING),
        dark=failed & (mode != PHOTOCELL),
        day_burning=failed & (mode == PHOTOCELL),
    )


def _commanded_levels(
    state: FleetState, t: float, astro_day: np.ndarray, true_lux: np.ndarray, signs: _Signatures
) -> tuple[np.ndarray, np.ndarray]:
    """(level each controller asks of its driver in %, illuminance its photocell reads)."""
    commanded = np.where(astro_day, 0.0, 100.0)
    if state.plans.plans:
        lamps, level, in_force = state.plans.levels_at(t)
        commanded[lamps] = np.where(in_force, level, commanded[lamps])

    # A lamp is lit in daytime when its photocell reads dark (a safety rule that
    # only a failing photocell ever triggers).
    sensitivity = np.ones(state.n_lamps)
    if signs.photocell.any():
        sensitivity[signs.photocell] = fm.photocell_sensitivity(signs.progress[signs.photocell])
    sensitivity[signs.day_burning] = 0.0
    measured_lux = true_lux * sensitivity * np.exp(state.rng.normal(0.0, 0.05, state.n_lamps))
    forced_on = astro_day & (measured_lux < fm.PHOTOCELL_DARK_LUX)
    commanded = np.where(forced_on, 100.0, commanded)
    min_output = np.where(state.is_discharge, ph.HPS_MIN_OUTPUT_PCT, ph.LED_MIN_OUTPUT_PCT)
    return np.where(commanded > 0.0, np.maximum(commanded, min_output), 0.0), measured_lux


def _light_output(
    state: FleetState, commanded: np.ndarray, signs: _Signatures, wetness: float, dt_s: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(actual output %, on/off cycles not seen at the reading, relative power noise)."""
    rng = state.rng
    n = state.n_lamps
    dt_h = dt_s / 3600.0
    output = np.where(signs.dark | ~state.supply_ok, 0.0, commanded)
    extra_cycles = np.zeros(n, dtype=np.int64)
    noise_sd = np.full(n, 0.003)

    cycling = np.flatnonzero(signs.cycling & (output > 0.0))
    if cycling.size:
        cycles = rng.poisson(fm.cycling_rate_per_h(signs.progress[cycling]) * dt_h)
        dark = rng.random(cycling.size) < fm.cycling_dark_probability(cycles, dt_s)
        output[cycling[dark]] = 0.0
        extra_cycles[cycling] = cycles - dark  # a dark reading's cycle is counted at re-ignition
        state.night_cycles[cycling] += cycles

    water = np.flatnonzero(signs.water & (output > 0.0))
    if water.size and wetness > 0.0:
        trips = rng.poisson(fm.water_trip_rate_per_h(signs.progress[water], wetness) * dt_h)
        dark = (trips > 0) & (rng.random(water.size) < fm.WATER_TRIP_DARK_SHARE)
        output[water[dark]] = 0.0
        extra_cycles[water] = trips - dark
        noise_sd[water[trips > 0]] += 0.03  # flicker
    return output, extra_cycles, noise_sd


def _supply_voltage(state: FleetState, t: float, dt_s: float) -> np.ndarray:
    """Voltage at each lamp: its circuit's, less the cable drop; 0 where the supply is lost."""
    rng = state.rng
    sag_rate = np.full(state.n_circuits, fm.BASE_SAG_RATE_PER_DAY)
    failing = (state.circuit_cond == PRECURSOR) & (state.circuit_onset_s <= t)
    if failing.any():
        onset_s = state.circuit_onset_s[failing]
        span = np.maximum(state.circuit_fail_s[failing] - onset_s, 1.0)
        sag_rate[failing] += fm.supply_sag_rate_per_day(np.clip((t - onset_s) / span, 0.0, 1.0))
    circuit_v = (
        state.circuit_base_v
        + float(ph.daily_voltage_offset_v(ph.solar_hour(t, state.lon_mean)))
        + rng.normal(0.0, 0.6, state.n_circuits)
        + ph.sample_voltage_events_v(rng, dt_s, sag_rate, fm.BASE_SWELL_RATE_PER_DAY)
    )
    voltage = (
        circuit_v[state.circuit] - CIRCUIT_DROP_V_PER_LAMP * state.pos_in_circuit + rng.normal(0.0, 0.15, state.n_lamps)
    )
    return np.where(state.supply_ok, np.maximum(voltage, 0.0), 0.0)


def _electrical(
    state: FleetState, output: np.ndarray, voltage: np.ndarray, signs: _Signatures, noise_sd: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lamp power W, total power W with the controller, power factor, current A)."""
    rng = state.rng
    n = state.n_lamps
    discharge = state.is_discharge
    cap_progress = np.where(signs.capacitor, signs.progress, 0.0)
    string_factor = np.where(signs.led_string, fm.led_string_power_factor(signs.progress, state.direction), 1.0)
    hps_rise = np.where(signs.cycling & discharge, fm.hps_power_rise_fraction(signs.progress), 0.0)
    led_fraction = ph.led_input_power_fraction(output) * string_factor
    lamp_fraction = np.where(
        discharge,
        ph.hps_input_power_fraction(output, voltage) * (1.0 + hps_rise),
        led_fraction * (1.0 + fm.capacitor_power_increase_fraction(cap_progress)),
    )
    ripple = np.where(signs.capacitor, fm.capacitor_ripple_fraction(cap_progress), 0.0)
    lamp_power_w = state.rated_w * state.power_tolerance * lamp_fraction
    lamp_power_w = np.maximum(lamp_power_w * (1.0 + (noise_sd + ripple) * rng.normal(0.0, 1.0, n)), 0.0)
    powered = voltage > 0.0
    power_w = np.where(powered, lamp_power_w + ph.STANDBY_POWER_W, 0.0)

    pf_lit = np.where(discharge, ph.hps_power_factor(output), ph.led_power_factor(output))
    pf_lit = pf_lit - fm.capacitor_power_factor_drop(cap_progress) + state.pf_offset
    pf_lit = pf_lit + (0.003 + 0.5 * ripple) * rng.normal(0.0, 1.0, n)
    power_factor = np.where(output > 0.0, pf_lit, ph.STANDBY_POWER_FACTOR)
    power_factor = np.where(powered, np.clip(power_factor, 0.05, 1.0), 0.0)
    return lamp_power_w, power_w, power_factor, ph.supply_current_a(power_w, voltage, power_factor)


def _heat(
    state: FleetState,
    t: float,
    dt_s: float,
    ambient_c: np.ndarray,
    lamp_power_w: np.ndarray,
    lit: np.ndarray,
    signs: _Signatures,
) -> None:
    driver_age_years = np.maximum(0.0, (t - state.driver_installed_s) / fm.SECONDS_PER_YEAR)
    equilibrium_c = ph.driver_equilibrium_temp_c(ambient_c, lamp_power_w / state.rated_w, driver_age_years)
    esr_heat_c = np.where(signs.capacitor & lit, fm.capacitor_temp_rise_c(signs.progress), 0.0)
    equilibrium_c = equilibrium_c + state.thermal_offset_c * lit + esr_heat_c
    state.driver_temp_c = ph.thermal_step_c(state.driver_temp_c, equilibrium_c, dt_s)


def _end_outages(state: FleetState, t: float, events: list[Event]) -> None:
    back = state.outages.end_due(t)
    if back.size and state.config.comm_loss_events:
        for i in back.tolist():
            since = float(state.outages.offline_since_s[i])
            detail = {"offline_since": state.iso(since), "duration_s": round(t - since, 1)}
            events.append(
                (state.lamp_ids[i], {"ts": state.iso(t), "type": EventType.COMM_LOSS.value, "detail": detail})
            )


def _reading_columns(
    state: FleetState,
    voltage: np.ndarray,
    current_a: np.ndarray,
    power_w: np.ndarray,
    power_factor: np.ndarray,
    output: np.ndarray,
    measured_lux: np.ndarray,
) -> dict[str, np.ndarray]:
    n = state.n_lamps
    state.seq += 1
    temp_reading = state.driver_temp_c + state.rng.normal(0.0, 0.2, n)
    rssi = np.minimum(state.rssi_base_dbm + state.rng.normal(0.0, 2.0, n), -30.0)
    columns = {
        "seq": state.seq.copy(),
        "voltage_v": voltage,
        "current_a": current_a,
        "power_w": power_w,
        "power_factor": np.clip(power_factor, 0.0, 1.0),
        "energy_wh": state.energy_wh,
        "dim_level": output,
        "driver_temp_c": np.clip(temp_reading, -60.0, 200.0),
        "ambient_lux": np.clip(measured_lux, 0.0, 200_000.0),
        "burning_hours": state.burning_h,
        "switch_cycles": state.switch_cycles.copy(),
        "rssi_dbm": rssi,
    }
    for name, decimals in READING_DECIMALS.items():
        columns[name] = np.round(columns[name], decimals)
    # Cumulative counters are truncated, not rounded, so that a reading never exceeds the next one.
    columns["energy_wh"] = np.floor(state.energy_wh * 10.0) / 10.0
    columns["burning_hours"] = np.floor(state.burning_h * 1000.0) / 1000.0
    return columns
