"""The simulated fleet's state: every lamp and circuit as numpy arrays, and how it is built.

Building draws every per-lamp constant and starting counter from the seed, then
puts some lamps mid-precursor (`warm_start`) as in a fleet that has been running.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, tzinfo
from typing import Any

import numpy as np

from core.vocabulary import Technology
from simulators import failures as fm
from simulators import physics as ph
from simulators.failures import FailureConfig, FailureMode, FailureRecord
from simulators.outages import Outages
from simulators.plans import AppliedPlans
from simulators.town import LampSpec

BURNING_HOURS_PER_YEAR = 4_150.0  # dusk to dawn in France, a little under 4,200 h
# Discharge lamps on magnetic ballasts behave alike here (as HPS); the rest has electronic gear.
DISCHARGE_TECHNOLOGIES: frozenset[Technology] = frozenset({"HPS", "LPS", "MH"})

# Condition of a lamp (`cond`) or a circuit (`circuit_cond`).
OK, PRECURSOR, FAILED = 0, 1, 2
CONDITION_NAMES = ("ok", "precursor", "failed")

# Failure modes as the integer codes kept in `mode` (0: none).
CAPACITOR = fm.MODE_CODES[FailureMode.CAPACITOR_AGEING]
LED_STRING = fm.MODE_CODES[FailureMode.LED_STRING]
PHOTOCELL = fm.MODE_CODES[FailureMode.PHOTOCELL]
WATER = fm.MODE_CODES[FailureMode.WATER_INGRESS]
CYCLING = fm.MODE_CODES[FailureMode.CYCLING]
SUDDEN = fm.MODE_CODES[FailureMode.SUDDEN]
# Order of the rows of the hazard matrix (lamp-level modes).
HAZARD_MODES = np.array([CAPACITOR, LED_STRING, PHOTOCELL, WATER, CYCLING, SUDDEN], dtype=np.int8)

Event = tuple[str, dict[str, Any]]


def utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def _midnight_utc_s(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class FleetState:
    """Everything the simulation knows about the fleet at time `t`, one array entry per lamp (or circuit)."""

    def __init__(
        self,
        lamps: list[LampSpec],
        seed: int,
        start: datetime,
        config: FailureConfig,
        climate: ph.Climate,
        switch_on_after_sunset_s: float,
        switch_off_before_sunrise_s: float,
    ) -> None:
        self.config = config
        self.switch_on_after_sunset_s = switch_on_after_sunset_s
        self.switch_off_before_sunrise_s = switch_off_before_sunrise_s
        self.tz: tzinfo | None = start.tzinfo
        self.t = start.timestamp()
        self.now_s = self.t  # the step being produced, whose time `now_iso` spells
        self.now_iso = start.isoformat()
        self.truth: list[FailureRecord] = []
        self.averted: list[FailureRecord] = []
        self.pending_events: list[Event] = []  # raised between steps (repairs), sent with the next

        # Two streams: one for what the fleet is at the start, one for what happens next.
        init = np.random.default_rng([seed, 0xA0])
        self.rng = np.random.default_rng([seed, 0xA1])
        install_s = self._set_inventory(lamps)
        self.sun = ph.SunTable(self.lat, self.lon)
        self.weather = ph.WeatherSeries(seed, ph.utc_midnight_before(start), self.lon_mean, climate)
        self._draw_constants(init)
        self._set_counters(init, install_s)
        self._clear_conditions()
        flaky = init.random(self.n_lamps) < config.flaky_controller_share
        comm_rate = np.where(flaky, config.flaky_comm_loss_rate_per_year, config.comm_loss_rate_per_year)
        self.outages = Outages(comm_rate / fm.SECONDS_PER_YEAR)
        self.plans = AppliedPlans(self.n_lamps, self.t - 10 * fm.SECONDS_PER_YEAR)
        self._set_constant_hazards()

        temp_c, _, _, _ = self.weather.at(self.t)
        self.was_on = ~self.astronomical_day(self.t)
        self.driver_temp_c = ph.driver_equilibrium_temp_c(
            temp_c + self.ambient_offset_c, self.was_on.astype(float), np.zeros(self.n_lamps)
        )
        warm_start(self, init)

    # ------------------------------------------------------------------ building

    def _set_inventory(self, lamps: list[LampSpec]) -> np.ndarray:
        """Positions, ratings and circuits; returns the install times (s)."""
        self.lamp_ids = [lamp.lamp_id for lamp in lamps]
        self.index = {lamp_id: i for i, lamp_id in enumerate(self.lamp_ids)}
        if len(self.index) != len(self.lamp_ids):
            raise ValueError("lamp ids must be unique")
        n = self.n_lamps = len(lamps)
        self.lat = np.array([lamp.lat for lamp in lamps], dtype=float)
        self.lon = np.array([lamp.lon for lamp in lamps], dtype=float)
        self.lon_mean = float(self.lon.mean())
        self.rated_w = np.array([lamp.rated_power_w for lamp in lamps], dtype=float)
        self.is_discharge = np.array([lamp.technology.upper() in DISCHARGE_TECHNOLOGIES for lamp in lamps])
        install_s = np.array([_midnight_utc_s(lamp.install_date) for lamp in lamps], dtype=float)

        circuit_names, circuit = np.unique([lamp.circuit for lamp in lamps], return_inverse=True)
        self.circuit = circuit.reshape(-1)
        self.circuit_names = [str(name) for name in circuit_names]
        self.n_circuits = len(self.circuit_names)
        order = np.argsort(self.circuit, kind="stable")
        sizes = np.bincount(self.circuit, minlength=self.n_circuits)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.pos_in_circuit = np.empty(n, dtype=np.int64)
        self.pos_in_circuit[order] = np.arange(n) - np.repeat(first, sizes)
        self.circuit_size = sizes
        return install_s

    def _draw_constants(self, init: np.random.Generator) -> None:
        """Manufacturing spread, siting and radio of each lamp; each circuit's mean voltage."""
        n = self.n_lamps
        self.power_tolerance = 1.0 + init.normal(0.0, 0.02, n)
        self.pf_offset = init.normal(0.0, 0.005, n)
        self.thermal_offset_c = init.normal(0.0, 2.0, n)
        self.ambient_offset_c = init.normal(0.0, 0.5, n)
        self.rssi_base_dbm = np.clip(init.normal(-82.0, 7.0, n), -110.0, -55.0)
        self.circuit_base_v = np.clip(init.normal(230.5, 2.0, self.n_circuits), 224.0, 237.0)

    def _set_counters(self, init: np.random.Generator, install_s: np.ndarray) -> None:
        """What the controllers had accumulated before the simulation."""
        n = self.n_lamps
        years_in_service = np.maximum(0.0, (self.t - install_s) / fm.SECONDS_PER_YEAR)
        self.burning_h = years_in_service * BURNING_HOURS_PER_YEAR * init.uniform(0.97, 1.03, n)
        self.switch_cycles = (years_in_service * 365.25 * init.uniform(1.0, 1.05, n)).astype(np.int64)
        self.energy_wh = self.burning_h * self.rated_w * init.uniform(0.75, 0.95, n)
        self.seq = np.zeros(n, dtype=np.int64)
        self.driver_installed_s = install_s.copy()
        relamped_years = np.minimum(years_in_service, self.config.hps_relamp_interval_years)
        self.hps_lamp_age_h = np.where(
            self.is_discharge, init.uniform(0.0, 1.0, n) * relamped_years * BURNING_HOURS_PER_YEAR, 0.0
        )

    def _clear_conditions(self) -> None:
        """Every lamp and circuit healthy, every controller online, no cycling counted tonight."""
        n = self.n_lamps
        self.cond = np.zeros(n, dtype=np.int8)
        self.mode = np.zeros(n, dtype=np.int8)
        self.onset_s = np.full(n, np.nan)
        self.fail_s = np.full(n, np.nan)
        self.detected = np.zeros(n, dtype=bool)
        self.direction = np.zeros(n, dtype=np.int8)  # of an LED string's power drift: -1 down, 1 up
        self.record = np.full(n, -1, dtype=np.int64)  # index in `truth` of the lamp's failure
        self.repair_due_s = np.full(n, np.inf)
        self.night_cycles = np.zeros(n, dtype=np.int64)
        self.cycling_reported = np.zeros(n, dtype=bool)
        self.night_id = self.night_of(self.t)

        n_circuits = self.n_circuits
        self.circuit_cond = np.zeros(n_circuits, dtype=np.int8)
        self.circuit_onset_s = np.full(n_circuits, np.nan)
        self.circuit_fail_s = np.full(n_circuits, np.nan)
        self.circuit_cutoff = np.zeros(n_circuits, dtype=np.int64)  # first position along the cable that loses supply
        self.circuit_repair_due_s = np.full(n_circuits, np.inf)
        self.circuit_records: dict[int, list[int]] = {}  # indices in `truth` of a supply loss
        self.supply_ok = np.ones(n, dtype=bool)

    def _set_constant_hazards(self) -> None:
        """The parts of the failure hazards (per second) that do not change with time."""
        c = self.config
        n = self.n_lamps
        self.h_led_string = np.where(self.is_discharge, 0.0, c.rate_scale * fm.per_second(c.led_string_rate_per_year))
        self.h_photocell = np.full(n, c.rate_scale * fm.per_second(c.photocell_rate_per_year))
        self.h_water = np.full(n, c.rate_scale * fm.per_second(c.water_ingress_rate_per_year))
        self.h_led_cycling = np.where(self.is_discharge, 0.0, c.rate_scale * fm.per_second(c.led_cycling_rate_per_year))
        self.h_supply = c.rate_scale * fm.per_second(c.supply_loss_rate_per_circuit_year)

    # ------------------------------------------------------------------ time

    def iso(self, t_s: float) -> str:
        if t_s == self.now_s:
            return self.now_iso
        return datetime.fromtimestamp(t_s, self.tz).isoformat()

    def night_of(self, t_s: float) -> int:
        """Number of the night (solar noon to solar noon) a time belongs to."""
        return math.floor((t_s + self.lon_mean / 15.0 * 3600.0 - 43_200.0) / 86_400.0)

    def astronomical_day(self, t_s: float) -> np.ndarray:
        """Lamps whose controller's clock says it is day (between its switch-off and switch-on times)."""
        rise, set_ = self.sun.lamp_times(utc(t_s).date())
        return ph.is_astronomical_day(t_s, rise, set_, self.switch_off_before_sunrise_s, self.switch_on_after_sunset_s)

    # ------------------------------------------------------------------ conditions

    def start_precursor(self, i: int, mode: int, onset_s: float, fail_s: float) -> None:
        self.cond[i] = PRECURSOR
        self.mode[i] = mode
        self.onset_s[i] = onset_s
        self.fail_s[i] = fail_s
        if mode == LED_STRING:
            self.direction[i] = -1 if self.rng.random() < self.config.led_string_down_share else 1

    def start_circuit_fault(self, c: int, onset_s: float, fail_s: float) -> None:
        size = int(self.circuit_size[c])
        keep_min = min(size, self.config.supply_min_lamps_lost)
        self.circuit_cond[c] = PRECURSOR
        self.circuit_onset_s[c] = onset_s
        self.circuit_fail_s[c] = fail_s
        self.circuit_cutoff[c] = int(self.rng.integers(0, size - keep_min + 1))

    def circuit_lamps_lost(self, c: int) -> np.ndarray:
        """Lamps of circuit `c` past its cut-off: those a supply fault on it darkens."""
        return np.flatnonzero((self.circuit == c) & (self.pos_in_circuit >= self.circuit_cutoff[c]))


def warm_start(state: FleetState, rng: np.random.Generator) -> None:
    """Put some lamps and circuits mid-precursor at the start, as in a fleet that has been running.

    Without it no failure in the first weeks would show a precursor. The chance
    that a lamp is in a mode's precursor is that mode's hazard times the
    precursor's duration.
    """
    n = state.n_lamps
    cfg = state.config
    on_share = BURNING_HOURS_PER_YEAR / (365.25 * 24.0)
    driver_age_years = np.maximum(0.0, (state.t - state.driver_installed_s) / fm.SECONDS_PER_YEAR)
    reference_temp = np.full(n, cfg.capacitor_reference_temp_c)
    hazards = np.stack(
        [
            np.where(state.is_discharge, 0.0, fm.capacitor_hazard_per_s(reference_temp, driver_age_years, cfg)),
            state.h_led_string,
            state.h_photocell,
            state.h_water,
            np.where(
                state.is_discharge,
                fm.hps_cycling_hazard_per_s(state.hps_lamp_age_h, np.ones(n, dtype=bool), cfg) * on_share,
                state.h_led_cycling,
            ),
        ]
    )
    modes = HAZARD_MODES[:5]
    durations = np.stack([fm.draw_precursor_s(rng, cfg.precursor_days(fm.MODES_BY_CODE[int(m)]), n) for m in modes])
    weights = hazards * durations
    total = weights.sum(axis=0)
    inside = rng.random(n) < total
    elapsed_share = rng.random(n)
    pick_draw = rng.random(n)
    direction_draw = rng.random(n)
    for i in np.flatnonzero(inside).tolist():
        cumulative = np.cumsum(weights[:, i]) / total[i]
        k = min(int((pick_draw[i] > cumulative).sum()), len(modes) - 1)
        duration = float(durations[k, i])
        onset = state.t - elapsed_share[i] * duration
        state.cond[i] = PRECURSOR
        state.mode[i] = modes[k]
        state.onset_s[i] = onset
        state.fail_s[i] = onset + duration
        if modes[k] == LED_STRING:
            state.direction[i] = -1 if direction_draw[i] < cfg.led_string_down_share else 1

    c_duration = fm.draw_precursor_s(rng, cfg.supply_precursor_days, state.n_circuits)
    c_inside = rng.random(state.n_circuits) < state.h_supply * c_duration
    c_elapsed = rng.random(state.n_circuits)
    for c in np.flatnonzero(c_inside).tolist():
        onset = state.t - c_elapsed[c] * c_duration[c]
        state.start_circuit_fault(c, onset, onset + float(c_duration[c]))
