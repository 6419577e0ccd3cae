"""The fleet simulation engine: every lamp's state in numpy arrays, advanced step by step.

`FleetSimulator` is pure computation: it never touches the network or a
database. Each call to `step(now)` advances the fleet to `now` and returns one
reading per lamp (in the shape of `core.contract.TelemetryReading`), the events
raised since the previous step, and which controllers are offline (whose
readings an MQTT layer should hold back and send as a batch on reconnection).
`step_arrays(now)` returns the same readings as numpy columns, for bulk writers.

Ground truth (which lamp failed when, of what, and whether a precursor showed)
is kept in `truth` and written with `write_truth`, never into the service's
database, so that failure-prediction models can be judged honestly.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from core.contract import MEASUREMENT_FIELDS, PLAN_MIN_HORIZON, EventType, Plan
from simulators import failures as fm
from simulators import physics as ph
from simulators.failures import FailureConfig, FailureMode, FailureRecord
from simulators.town import LampSpec

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

BURNING_HOURS_PER_YEAR = 4_150.0  # dusk to dawn in France, a little under 4,200 h
DEFAULT_SWITCH_OFFSET_S = 600.0
DISCHARGE_TECHNOLOGIES = frozenset({"HPS", "LPS", "MH"})
CIRCUIT_DROP_V_PER_LAMP = 0.05  # voltage drop along the circuit cable, per lamp from the cabinet
_MS_BITS = 40  # plan switch times are kept as milliseconds in the low 40 bits of a key

_CODE = fm.MODE_CODES
_CAPACITOR = _CODE[FailureMode.CAPACITOR_AGEING]
_LED_STRING = _CODE[FailureMode.LED_STRING]
_PHOTOCELL = _CODE[FailureMode.PHOTOCELL]
_WATER = _CODE[FailureMode.WATER_INGRESS]
_CYCLING = _CODE[FailureMode.CYCLING]
_SUDDEN = _CODE[FailureMode.SUDDEN]
# Order of the rows of the hazard matrix (lamp-level modes).
_HAZARD_MODES = np.array([_CAPACITOR, _LED_STRING, _PHOTOCELL, _WATER, _CYCLING, _SUDDEN], dtype=np.int8)

_OK, _PRECURSOR, _FAILED = 0, 1, 2


@dataclass(frozen=True)
class StepResult:
    """What one step produced. `readings` has exactly one (lamp_id, payload) per lamp."""

    ts: datetime
    readings: list[tuple[str, dict[str, Any]]]
    events: list[tuple[str, dict[str, Any]]]
    offline_lamp_ids: set[str]
    went_offline: list[str]
    came_online: list[str]


@dataclass(frozen=True)
class StepArrays:
    """One step's readings as columns (row i is lamp `lamp_ids[i]`), already rounded.

    `columns` holds every field of READING_FIELDS: int64 for seq and
    switch_cycles, float64 otherwise. `offline` is a boolean mask over lamps.
    """

    ts: datetime
    lamp_ids: list[str]
    columns: dict[str, np.ndarray]
    events: list[tuple[str, dict[str, Any]]]
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


def _utc(t_s: float) -> datetime:
    return datetime.fromtimestamp(t_s, UTC)


def _midnight_utc_s(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


class FleetSimulator:
    """Simulates a fleet of lamp controllers from `start`, deterministically for a seed."""

    def __init__(
        self,
        lamps: list[LampSpec],
        seed: int,
        start: datetime,
        failure_config: FailureConfig | None = None,
        report_interval_s: float = 600.0,
        *,
        climate: ph.Climate | None = None,
        switch_on_after_sunset_s: float = DEFAULT_SWITCH_OFFSET_S,
        switch_off_before_sunrise_s: float = DEFAULT_SWITCH_OFFSET_S,
    ) -> None:
        if start.tzinfo is None or start.utcoffset() is None:
            raise ValueError("start must be timezone-aware")
        if not lamps:
            raise ValueError("the fleet needs at least one lamp")
        if report_interval_s <= 0:
            raise ValueError("report_interval_s must be > 0")
        self.config = failure_config or FailureConfig()
        self.report_interval_s = float(report_interval_s)
        self.switch_on_after_sunset_s = float(switch_on_after_sunset_s)
        self.switch_off_before_sunrise_s = float(switch_off_before_sunrise_s)
        self.lamp_ids = [lamp.lamp_id for lamp in lamps]
        self._index = {lamp_id: i for i, lamp_id in enumerate(self.lamp_ids)}
        if len(self._index) != len(self.lamp_ids):
            raise ValueError("lamp ids must be unique")
        n = self.n_lamps = len(lamps)
        self._tz = start.tzinfo
        self._t = start.timestamp()
        self._now_s = self._t
        self._now_iso = start.isoformat()
        self.truth: list[FailureRecord] = []
        self.averted: list[FailureRecord] = []
        self._pending_events: list[tuple[str, dict[str, Any]]] = []

        init = np.random.default_rng([seed, 0xA0])
        self._rng = np.random.default_rng([seed, 0xA1])

        # --- Inventory, as arrays.
        self._lat = np.array([lamp.lat for lamp in lamps], dtype=float)
        self._lon = np.array([lamp.lon for lamp in lamps], dtype=float)
        self._lon_mean = float(self._lon.mean())
        self._rated_w = np.array([lamp.rated_power_w for lamp in lamps], dtype=float)
        # Discharge lamps on magnetic ballasts behave alike here; the rest has electronic gear.
        self._is_hps = np.array([lamp.technology.upper() in DISCHARGE_TECHNOLOGIES for lamp in lamps])
        install_s = np.array([_midnight_utc_s(lamp.install_date) for lamp in lamps], dtype=float)
        circuit_names, self._circuit = np.unique([lamp.circuit for lamp in lamps], return_inverse=True)
        self._circuit = self._circuit.reshape(-1)
        self.circuit_names = [str(name) for name in circuit_names]
        n_circuits = self.n_circuits = len(self.circuit_names)
        order = np.argsort(self._circuit, kind="stable")
        sizes = np.bincount(self._circuit, minlength=n_circuits)
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._pos_in_circuit = np.empty(n, dtype=np.int64)
        self._pos_in_circuit[order] = np.arange(n) - np.repeat(first, sizes)
        self._circuit_size = sizes

        self._sun = ph.SunTable(self._lat, self._lon)
        self._weather = ph.WeatherSeries(seed, ph.utc_midnight_before(start), self._lon_mean, climate or ph.Climate())

        # --- Per-lamp constants: manufacturing spread, siting, radio.
        self._power_tolerance = 1.0 + init.normal(0.0, 0.02, n)
        self._pf_offset = init.normal(0.0, 0.005, n)
        self._thermal_offset_c = init.normal(0.0, 2.0, n)
        self._ambient_offset_c = init.normal(0.0, 0.5, n)
        self._rssi_base_dbm = np.clip(init.normal(-82.0, 7.0, n), -110.0, -55.0)
        self._circuit_base_v = np.clip(init.normal(230.5, 2.0, n_circuits), 224.0, 237.0)

        # --- Counters: what the controllers had accumulated before the simulation.
        years_in_service = np.maximum(0.0, (self._t - install_s) / fm.SECONDS_PER_YEAR)
        self._burning_h = years_in_service * BURNING_HOURS_PER_YEAR * init.uniform(0.97, 1.03, n)
        self._switch_cycles = (years_in_service * 365.25 * init.uniform(1.0, 1.05, n)).astype(np.int64)
        self._energy_wh = self._burning_h * self._rated_w * init.uniform(0.75, 0.95, n)
        self._seq = np.zeros(n, dtype=np.int64)
        self._driver_installed_s = install_s.copy()
        relamped_years = np.minimum(years_in_service, self.config.hps_relamp_interval_years)
        self._hps_lamp_age_h = np.where(
            self._is_hps, init.uniform(0.0, 1.0, n) * relamped_years * BURNING_HOURS_PER_YEAR, 0.0
        )

        # --- Lamp condition.
        self._cond = np.zeros(n, dtype=np.int8)
        self._mode = np.zeros(n, dtype=np.int8)
        self._onset_s = np.full(n, np.nan)
        self._fail_s = np.full(n, np.nan)
        self._detected = np.zeros(n, dtype=bool)
        self._direction = np.zeros(n, dtype=np.int8)
        self._record = np.full(n, -1, dtype=np.int64)
        self._repair_due_s = np.full(n, np.inf)
        self._night_cycles = np.zeros(n, dtype=np.int64)
        self._cycling_reported = np.zeros(n, dtype=bool)
        self._night_id = self._night_of(self._t)

        # --- Circuits and supply.
        self._c_cond = np.zeros(n_circuits, dtype=np.int8)
        self._c_onset_s = np.full(n_circuits, np.nan)
        self._c_fail_s = np.full(n_circuits, np.nan)
        self._c_cutoff = np.zeros(n_circuits, dtype=np.int64)
        self._c_repair_due_s = np.full(n_circuits, np.inf)
        self._c_records: dict[int, list[int]] = {}
        self._supply_ok = np.ones(n, dtype=bool)

        # --- Communication.
        flaky = init.random(n) < self.config.flaky_controller_share
        comm_rate = np.where(flaky, self.config.flaky_comm_loss_rate_per_year, self.config.comm_loss_rate_per_year)
        self._comm_hazard_per_s = comm_rate / fm.SECONDS_PER_YEAR
        self._offline = np.zeros(n, dtype=bool)
        self._offline_until_s = np.zeros(n)
        self._offline_since_s = np.zeros(n)
        self._offline_at_last_step = np.zeros(n, dtype=bool)

        # --- Plans.
        self._plan_version = np.zeros(n, dtype=np.int64)
        self._plans: dict[int, Plan] = {}
        self._plan_points: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._plan_dirty = False
        self._plan_base_s = self._t - 10 * fm.SECONDS_PER_YEAR
        self._plan_lamps = np.zeros(0, dtype=np.int64)
        self._plan_keys = np.zeros(0, dtype=np.int64)
        self._plan_levels = np.zeros(0, dtype=float)
        self._plan_last_ms = np.zeros(n, dtype=np.int64)

        # --- Constant parts of the failure hazards (per second).
        c = self.config
        self._h_led_string = np.where(self._is_hps, 0.0, c.rate_scale * fm.per_second(c.led_string_rate_per_year))
        self._h_photocell = np.full(n, c.rate_scale * fm.per_second(c.photocell_rate_per_year))
        self._h_water = np.full(n, c.rate_scale * fm.per_second(c.water_ingress_rate_per_year))
        self._h_led_cycling = np.where(self._is_hps, 0.0, c.rate_scale * fm.per_second(c.led_cycling_rate_per_year))
        self._h_supply = c.rate_scale * fm.per_second(c.supply_loss_rate_per_circuit_year)

        # --- Physical state at the start.
        temp_c, _, _, _ = self._weather.at(self._t)
        self._was_on = ~self._astronomical_day(self._t)
        self._driver_temp_c = ph.driver_equilibrium_temp_c(
            temp_c + self._ambient_offset_c, self._was_on.astype(float), np.zeros(n)
        )
        self._warm_start(init)

    # ------------------------------------------------------------------ public API

    @property
    def now(self) -> datetime:
        """Time the fleet has been simulated up to."""
        return datetime.fromtimestamp(self._t, self._tz)

    def step(self, now: datetime) -> StepResult:
        """Advance to `now` and return one reading per lamp, the events and the offline controllers."""
        arrays = self.step_arrays(now)
        ts = arrays.ts.isoformat()
        cols = arrays.columns
        rows = zip(
            self.lamp_ids,
            cols["seq"].tolist(),
            cols["voltage_v"].tolist(),
            cols["current_a"].tolist(),
            cols["power_w"].tolist(),
            cols["power_factor"].tolist(),
            cols["energy_wh"].tolist(),
            cols["dim_level"].tolist(),
            cols["driver_temp_c"].tolist(),
            cols["ambient_lux"].tolist(),
            cols["burning_hours"].tolist(),
            cols["switch_cycles"].tolist(),
            cols["rssi_dbm"].tolist(),
        )
        readings = [
            (
                lamp_id,
                {
                    "ts": ts,
                    "seq": seq,
                    "voltage_v": voltage,
                    "current_a": current,
                    "power_w": power,
                    "power_factor": pf,
                    "energy_wh": energy,
                    "dim_level": dim,
                    "driver_temp_c": temp,
                    "ambient_lux": lux,
                    "burning_hours": hours,
                    "switch_cycles": cycles,
                    "rssi_dbm": rssi,
                },
            )
            for lamp_id, seq, voltage, current, power, pf, energy, dim, temp, lux, hours, cycles, rssi in rows
        ]
        offline_ids = {self.lamp_ids[i] for i in np.flatnonzero(arrays.offline)}
        return StepResult(arrays.ts, readings, arrays.events, offline_ids, arrays.went_offline, arrays.came_online)

    def step_arrays(self, now: datetime) -> StepArrays:
        """Advance to `now`; the readings as numpy columns (see `StepArrays`)."""
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("now must be timezone-aware")
        t_end = now.timestamp()
        if t_end < self._t:
            raise ValueError(f"time must not go backwards: {now.isoformat()} is before {self.now.isoformat()}")
        self._now_s = t_end
        self._now_iso = now.isoformat()
        events = self._pending_events
        self._pending_events = []

        gap_s = t_end - self._t
        n_sub = max(1, math.ceil(gap_s / self.report_interval_s - 1e-9))
        t_start = self._t
        for k in range(1, n_sub + 1):
            t = t_end if k == n_sub else t_start + gap_s * k / n_sub
            reading = self._substep(t, t - self._t, events, final=k == n_sub)
            self._t = t
        # Outages start at report times: a controller is offline at a reading or not.
        self._start_outages(t_end, gap_s)

        went = self._offline & ~self._offline_at_last_step
        back = ~self._offline & self._offline_at_last_step
        self._offline_at_last_step = self._offline.copy()
        return StepArrays(
            ts=now,
            lamp_ids=self.lamp_ids,
            columns=reading,
            events=events,
            offline=self._offline.copy(),
            went_offline=[self.lamp_ids[i] for i in np.flatnonzero(went)],
            came_online=[self.lamp_ids[i] for i in np.flatnonzero(back)],
        )

    def apply_plan(self, lamp_id: str, plan: Plan) -> tuple[bool, str | None]:
        """Apply a dimming plan to a lamp's controller: (True, None) or (False, reason).

        Rejected: an unknown lamp, a version older than the plan in force, or a plan
        covering less than 48 h from its generation time. The same version again is
        applied again (idempotent). While a plan is in force (from its first point
        to its last) the lamp follows `plan.level_at(now)`; outside it, the
        controller's default: full output from dusk to dawn.
        """
        i = self._index.get(lamp_id)
        if i is None:
            return False, f"unknown lamp {lamp_id!r}"
        current = int(self._plan_version[i])
        if plan.version < current:
            return False, f"version {plan.version} is older than the plan in force (version {current})"
        horizon = plan.covers_until() - plan.generated_at
        if horizon < PLAN_MIN_HORIZON:
            hours = horizon.total_seconds() / 3600.0
            needed = PLAN_MIN_HORIZON.total_seconds() / 3600.0
            return False, f"the plan covers {hours:.1f} h from generated_at; at least {needed:.0f} h are required"
        at_ms = self._plan_ms(np.array([p.at.timestamp() for p in plan.points]))
        levels = np.array([p.level for p in plan.points], dtype=float)
        self._plans[i] = plan
        self._plan_points[i] = (at_ms, levels)
        self._plan_version[i] = plan.version
        self._plan_dirty = True
        return True, None

    def current_plan_version(self, lamp_id: str) -> int | None:
        """Version of the lamp's plan in force, None if it never received one."""
        version = int(self._plan_version[self._index[lamp_id]])
        return version or None

    def repair(self, lamp_id: str, at: datetime) -> None:
        """A crew visit at `at`: new driver (and lamp, for HPS), fault cleared; emits `repaired`.

        Repairing a lamp cut off by a supply fault restores its circuit. The event
        comes out with the next step's events.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        self._repair_lamp(self._index[lamp_id], at.timestamp(), self._pending_events, "crew visit")

    def inject_failure(
        self, lamp_id: str, mode: FailureMode | str, fails_at: datetime, precursor_days: float | None = None
    ) -> None:
        """Schedule a failure of a given mode, for demonstrations and tests.

        The precursor starts `precursor_days` before `fails_at` (default: the middle
        of the mode's configured range; none for a sudden failure) and may already
        be under way. For supply_loss the lamp's circuit fails, from this lamp (or
        enough lamps before it to lose `supply_min_lamps_lost`) to the circuit's end.
        """
        mode = FailureMode(mode)
        i = self._index[lamp_id]
        fail_s = fails_at.timestamp()
        if mode is FailureMode.SUDDEN:
            days = 0.0
        elif precursor_days is None:
            low, high = self.config.precursor_days(mode)
            days = (low + high) / 2.0
        else:
            days = float(precursor_days)
        onset_s = fail_s - days * fm.SECONDS_PER_DAY
        if fail_s <= self._t:
            raise ValueError("fails_at must be after the current simulation time")
        if mode is FailureMode.SUPPLY_LOSS:
            c = int(self._circuit[i])
            if self._c_cond[c] != _OK:
                raise ValueError(f"circuit {self.circuit_names[c]} already has a supply fault")
            self._start_circuit_fault(c, onset_s, fail_s)
            lost_min = min(int(self._circuit_size[c]), self.config.supply_min_lamps_lost)
            self._c_cutoff[c] = min(int(self._pos_in_circuit[i]), int(self._circuit_size[c]) - lost_min)
            return
        if self._cond[i] != _OK:
            raise ValueError(f"lamp {lamp_id} already has a failure under way")
        self._start_precursor(i, _CODE[mode], onset_s, fail_s)

    def environment_at(self, when: datetime) -> dict[str, float | bool]:
        """The town's weather at a time: air temperature (°C), rain, wetness (0-1), cloud factor (0-1)."""
        air_c, raining, wetness, cloud = self._weather.at(when.timestamp())
        return {"air_temp_c": air_c, "raining": raining, "wetness": wetness, "cloud_factor": cloud}

    def write_truth(self, path: str | Path) -> None:
        """Write the ground truth CSV: failures, averted failures and precursors still running."""
        rows = list(self.truth) + list(self.averted) + self._pending_records()
        rows.sort(key=lambda r: (r.failed_at, r.lamp_id))

        def text(value: datetime | None) -> str:
            return "" if value is None else value.isoformat()

        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(fm.TRUTH_COLUMNS)
            for r in rows:
                writer.writerow(
                    [
                        r.lamp_id,
                        r.mode,
                        text(r.failed_at),
                        text(r.detected_at),
                        "true" if r.had_precursor else "false",
                        text(r.precursor_started_at),
                        text(r.repaired_at),
                        r.outcome,
                    ]
                )

    def lamp_condition(self, lamp_id: str) -> dict[str, Any]:
        """Hidden state of one lamp (for debugging and tests, never for the service)."""
        i = self._index[lamp_id]
        mode = int(self._mode[i])
        return {
            "condition": ("ok", "precursor", "failed")[int(self._cond[i])],
            "mode": fm.MODES_BY_CODE[mode].value if mode else None,
            "precursor_started_at": None if math.isnan(self._onset_s[i]) else _utc(self._onset_s[i]),
            "fails_at": None if math.isnan(self._fail_s[i]) else _utc(self._fail_s[i]),
            "supply_ok": bool(self._supply_ok[i]),
            "offline": bool(self._offline[i]),
        }

    # ------------------------------------------------------------------ time helpers

    def _iso(self, t_s: float) -> str:
        if t_s == self._now_s:
            return self._now_iso
        return datetime.fromtimestamp(t_s, self._tz).isoformat()

    def _night_of(self, t_s: float) -> int:
        """Number of the night (solar noon to solar noon) a time belongs to."""
        return math.floor((t_s + self._lon_mean / 15.0 * 3600.0 - 43_200.0) / 86_400.0)

    def _astronomical_day(self, t_s: float) -> np.ndarray:
        rise, set_ = self._sun.lamp_times(_utc(t_s).date())
        return ph.is_astronomical_day(t_s, rise, set_, self.switch_off_before_sunrise_s, self.switch_on_after_sunset_s)

    def _plan_ms(self, t_s: np.ndarray) -> np.ndarray:
        ms = np.floor((np.asarray(t_s, dtype=float) - self._plan_base_s) * 1000.0)
        return np.clip(ms, 0, 2**_MS_BITS - 1).astype(np.int64)

    # ------------------------------------------------------------------ one sub-step

    def _substep(
        self, t: float, dt_s: float, events: list[tuple[str, dict[str, Any]]], final: bool
    ) -> dict[str, np.ndarray]:
        """Advance every lamp by `dt_s` to time `t`; the reading columns if `final`."""
        air_c, _raining, wetness, cloud = self._weather.at(t)
        astro_day = self._astronomical_day(t)
        elevation = ph.solar_elevation_deg(self._sun.cell_lat_deg, self._sun.cell_lon_deg, t)
        true_lux = ph.daylight_lux(elevation, cloud)[self._sun.cell_of_lamp]
        self._start_night_if_new(t)

        self._progress_failures(t)
        self._draw_onsets(t, dt_s)
        self._progress_circuits(t, dt_s, events)
        signs = self._signatures(t)

        commanded, measured_lux = self._commanded_levels(t, astro_day, true_lux, signs)
        output, extra_cycles, noise_sd = self._light_output(commanded, signs, wetness, dt_s)
        voltage = self._supply_voltage(t, dt_s)
        lamp_power_w, power_w, power_factor, current_a = self._electrical(output, voltage, signs, noise_sd)
        lit = output > 0.0
        self._heat(t, dt_s, air_c + self._ambient_offset_c, lamp_power_w, lit, signs)

        dt_h = dt_s / 3600.0
        self._energy_wh += power_w * dt_h
        self._burning_h += np.where(lit, dt_h, 0.0)
        self._switch_cycles += (lit & ~self._was_on).astype(np.int64) + np.maximum(extra_cycles, 0)
        self._hps_lamp_age_h += np.where(self._is_hps & lit, dt_h, 0.0)
        self._was_on = lit

        self._report_events(t, commanded, astro_day, lit, events)
        self._auto_repairs(t, events)
        self._end_outages(t, events)
        if not final:
            return {}
        return self._reading_columns(voltage, current_a, power_w, power_factor, output, measured_lux)

    def _start_night_if_new(self, t: float) -> None:
        night = self._night_of(t)
        if night != self._night_id:
            self._night_id = night
            self._night_cycles[:] = 0
            self._cycling_reported[:] = False

    def _signatures(self, t: float) -> _Signatures:
        # A precursor shows from its onset (an injected failure may be scheduled ahead).
        precursor = (self._cond == _PRECURSOR) & (self._onset_s <= t)
        span = np.maximum(np.where(precursor, self._fail_s - self._onset_s, 1.0), 1.0)
        progress = np.where(precursor, np.clip((t - self._onset_s) / span, 0.0, 1.0), 0.0)
        mode = self._mode
        failed = self._cond == _FAILED
        return _Signatures(
            progress=progress,
            capacitor=precursor & (mode == _CAPACITOR),
            led_string=precursor & (mode == _LED_STRING),
            photocell=precursor & (mode == _PHOTOCELL),
            water=precursor & (mode == _WATER),
            cycling=precursor & (mode == _CYCLING),
            dark=failed & (mode != _PHOTOCELL),
            day_burning=failed & (mode == _PHOTOCELL),
        )

    def _commanded_levels(
        self, t: float, astro_day: np.ndarray, true_lux: np.ndarray, signs: _Signatures
    ) -> tuple[np.ndarray, np.ndarray]:
        """(level each controller asks of its driver in %, illuminance its photocell reads)."""
        commanded = np.where(astro_day, 0.0, 100.0)
        if self._plans:
            level, in_force = self._plan_levels_at(t)
            commanded[self._plan_lamps] = np.where(in_force, level, commanded[self._plan_lamps])

        # A lamp is lit in daytime when its photocell reads dark (a safety rule that
        # only a failing photocell ever triggers).
        sensitivity = np.ones(self.n_lamps)
        if signs.photocell.any():
            sensitivity[signs.photocell] = fm.photocell_sensitivity(signs.progress[signs.photocell])
        sensitivity[signs.day_burning] = 0.0
        measured_lux = true_lux * sensitivity * np.exp(self._rng.normal(0.0, 0.05, self.n_lamps))
        forced_on = astro_day & (measured_lux < fm.PHOTOCELL_DARK_LUX)
        commanded = np.where(forced_on, 100.0, commanded)
        min_output = np.where(self._is_hps, ph.HPS_MIN_OUTPUT_PCT, ph.LED_MIN_OUTPUT_PCT)
        return np.where(commanded > 0.0, np.maximum(commanded, min_output), 0.0), measured_lux

    def _light_output(
        self, commanded: np.ndarray, signs: _Signatures, wetness: float, dt_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(actual output %, on/off cycles not seen at the reading, relative power noise)."""
        rng = self._rng
        n = self.n_lamps
        dt_h = dt_s / 3600.0
        output = np.where(signs.dark | ~self._supply_ok, 0.0, commanded)
        extra_cycles = np.zeros(n, dtype=np.int64)
        noise_sd = np.full(n, 0.003)

        cycling = np.flatnonzero(signs.cycling & (output > 0.0))
        if cycling.size:
            cycles = rng.poisson(fm.cycling_rate_per_h(signs.progress[cycling]) * dt_h)
            dark = rng.random(cycling.size) < fm.cycling_dark_probability(cycles, dt_s)
            output[cycling[dark]] = 0.0
            extra_cycles[cycling] = cycles - dark  # a dark reading's cycle is counted at re-ignition
            self._night_cycles[cycling] += cycles

        water = np.flatnonzero(signs.water & (output > 0.0))
        if water.size and wetness > 0.0:
            trips = rng.poisson(fm.water_trip_rate_per_h(signs.progress[water], wetness) * dt_h)
            dark = (trips > 0) & (rng.random(water.size) < fm.WATER_TRIP_DARK_SHARE)
            output[water[dark]] = 0.0
            extra_cycles[water] = trips - dark
            noise_sd[water[trips > 0]] += 0.03  # flicker
        return output, extra_cycles, noise_sd

    def _supply_voltage(self, t: float, dt_s: float) -> np.ndarray:
        """Voltage at each lamp: its circuit's, less the cable drop; 0 where the supply is lost."""
        rng = self._rng
        sag_rate = np.full(self.n_circuits, fm.BASE_SAG_RATE_PER_DAY)
        failing = (self._c_cond == _PRECURSOR) & (self._c_onset_s <= t)
        if failing.any():
            span = np.maximum(self._c_fail_s[failing] - self._c_onset_s[failing], 1.0)
            sag_rate[failing] += fm.supply_sag_rate_per_day(np.clip((t - self._c_onset_s[failing]) / span, 0.0, 1.0))
        circuit_v = (
            self._circuit_base_v
            + float(ph.daily_voltage_offset_v(ph.solar_hour(t, self._lon_mean)))
            + rng.normal(0.0, 0.6, self.n_circuits)
            + ph.sample_voltage_events_v(rng, dt_s, sag_rate, fm.BASE_SWELL_RATE_PER_DAY)
        )
        voltage = (
            circuit_v[self._circuit]
            - CIRCUIT_DROP_V_PER_LAMP * self._pos_in_circuit
            + rng.normal(0.0, 0.15, self.n_lamps)
        )
        return np.where(self._supply_ok, np.maximum(voltage, 0.0), 0.0)

    def _electrical(
        self, output: np.ndarray, voltage: np.ndarray, signs: _Signatures, noise_sd: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lamp power W, total power W with the controller, power factor, current A)."""
        rng = self._rng
        n = self.n_lamps
        cap_progress = np.where(signs.capacitor, signs.progress, 0.0)
        string_factor = np.where(signs.led_string, fm.led_string_power_factor(signs.progress, self._direction), 1.0)
        hps_rise = np.where(signs.cycling & self._is_hps, fm.hps_power_rise_fraction(signs.progress), 0.0)
        lamp_fraction = np.where(
            self._is_hps,
            ph.hps_input_power_fraction(output, voltage) * (1.0 + hps_rise),
            ph.led_input_power_fraction(output) * string_factor * (1.0 + fm.capacitor_power_increase_fraction(cap_progress)),
        )
        ripple = np.where(signs.capacitor, fm.capacitor_ripple_fraction(cap_progress), 0.0)
        lamp_power_w = self._rated_w * self._power_tolerance * lamp_fraction
        lamp_power_w = np.maximum(lamp_power_w * (1.0 + (noise_sd + ripple) * rng.normal(0.0, 1.0, n)), 0.0)
        powered = voltage > 0.0
        power_w = np.where(powered, lamp_power_w + ph.STANDBY_POWER_W, 0.0)

        pf_lit = np.where(self._is_hps, ph.hps_power_factor(output), ph.led_power_factor(output))
        pf_lit = pf_lit - fm.capacitor_power_factor_drop(cap_progress) + self._pf_offset
        pf_lit = pf_lit + (0.003 + 0.5 * ripple) * rng.normal(0.0, 1.0, n)
        power_factor = np.where(output > 0.0, pf_lit, ph.STANDBY_POWER_FACTOR)
        power_factor = np.where(powered, np.clip(power_factor, 0.05, 1.0), 0.0)
        return lamp_power_w, power_w, power_factor, ph.supply_current_a(power_w, voltage, power_factor)

    def _heat(
        self, t: float, dt_s: float, ambient_c: np.ndarray, lamp_power_w: np.ndarray, lit: np.ndarray, signs: _Signatures
    ) -> None:
        driver_age_years = np.maximum(0.0, (t - self._driver_installed_s) / fm.SECONDS_PER_YEAR)
        equilibrium_c = ph.driver_equilibrium_temp_c(ambient_c, lamp_power_w / self._rated_w, driver_age_years)
        esr_heat_c = np.where(signs.capacitor & lit, fm.capacitor_temp_rise_c(signs.progress), 0.0)
        equilibrium_c = equilibrium_c + self._thermal_offset_c * lit + esr_heat_c
        self._driver_temp_c = ph.thermal_step_c(self._driver_temp_c, equilibrium_c, dt_s)

    def _reading_columns(
        self,
        voltage: np.ndarray,
        current_a: np.ndarray,
        power_w: np.ndarray,
        power_factor: np.ndarray,
        output: np.ndarray,
        measured_lux: np.ndarray,
    ) -> dict[str, np.ndarray]:
        n = self.n_lamps
        self._seq += 1
        temp_reading = self._driver_temp_c + self._rng.normal(0.0, 0.2, n)
        rssi = np.minimum(self._rssi_base_dbm + self._rng.normal(0.0, 2.0, n), -30.0)
        columns = {
            "seq": self._seq.copy(),
            "voltage_v": voltage,
            "current_a": current_a,
            "power_w": power_w,
            "power_factor": np.clip(power_factor, 0.0, 1.0),
            "energy_wh": self._energy_wh,
            "dim_level": output,
            "driver_temp_c": np.clip(temp_reading, -60.0, 200.0),
            "ambient_lux": np.clip(measured_lux, 0.0, 200_000.0),
            "burning_hours": self._burning_h,
            "switch_cycles": self._switch_cycles.copy(),
            "rssi_dbm": rssi,
        }
        for name, decimals in READING_DECIMALS.items():
            columns[name] = np.round(columns[name], decimals)
        # Cumulative counters are truncated, not rounded, so that a reading never exceeds the next one.
        columns["energy_wh"] = np.floor(self._energy_wh * 10.0) / 10.0
        columns["burning_hours"] = np.floor(self._burning_h * 1000.0) / 1000.0
        return columns

    # ------------------------------------------------------------------ plans

    def _compile_plans(self) -> None:
        lamps = np.array(sorted(self._plan_points), dtype=np.int64)
        keys = []
        levels = []
        for i in lamps:
            at_ms, lvl = self._plan_points[int(i)]
            keys.append((np.int64(i) << _MS_BITS) | at_ms)
            levels.append(lvl)
            self._plan_last_ms[i] = at_ms[-1]
        self._plan_lamps = lamps
        self._plan_keys = np.concatenate(keys)
        self._plan_levels = np.concatenate(levels)
        self._plan_dirty = False

    def _plan_levels_at(self, t: float) -> tuple[np.ndarray, np.ndarray]:
        """(level, in force) for each lamp of `_plan_lamps` at time t."""
        if self._plan_dirty:
            self._compile_plans()
        now_ms = int(self._plan_ms(np.array([t]))[0])
        lamps = self._plan_lamps
        query = (lamps << _MS_BITS) | now_ms
        pos = np.searchsorted(self._plan_keys, query, side="right") - 1
        safe = np.maximum(pos, 0)
        valid = (pos >= 0) & ((self._plan_keys[safe] >> _MS_BITS) == lamps)
        in_force = valid & (now_ms <= self._plan_last_ms[lamps])
        return self._plan_levels[safe], in_force

    # ------------------------------------------------------------------ failures

    def _hazards(self) -> np.ndarray:
        """Onset hazards per second, one row per mode of `_HAZARD_MODES`, one column per lamp."""
        cfg = self.config
        driver_age_years = np.maximum(0.0, (self._t - self._driver_installed_s) / fm.SECONDS_PER_YEAR)
        capacitor = np.where(self._is_hps, 0.0, fm.capacitor_hazard_per_s(self._driver_temp_c, driver_age_years, cfg))
        cycling = np.where(
            self._is_hps, fm.hps_cycling_hazard_per_s(self._hps_lamp_age_h, self._was_on, cfg), self._h_led_cycling
        )
        others = np.stack([capacitor, self._h_led_string, self._h_photocell, self._h_water, cycling])
        # Sudden failures strike any lamp alike (a surge, a vehicle): one rate for the whole
        # fleet, set so that they are `sudden_share` of the failures expected right now.
        ok = self._cond == _OK
        mean_other = float(others[:, ok].sum(axis=0).mean()) if ok.any() else 0.0
        sudden = np.full(self.n_lamps, cfg.sudden_share / (1.0 - cfg.sudden_share) * mean_other)
        return np.vstack([others, sudden[None, :]])

    def _draw_onsets(self, t: float, dt_s: float) -> None:
        if dt_s <= 0.0:
            return
        rng = self._rng
        hazards = self._hazards()
        total = hazards.sum(axis=0)
        fire = (self._cond == _OK) & (rng.random(self.n_lamps) < -np.expm1(-total * dt_s))
        lamps = np.flatnonzero(fire)
        if not lamps.size:
            return
        cumulative = np.cumsum(hazards[:, lamps], axis=0) / total[lamps]
        pick = (rng.random(lamps.size) > cumulative).sum(axis=0)
        modes = _HAZARD_MODES[np.minimum(pick, len(_HAZARD_MODES) - 1)]
        for i, mode in zip(lamps.tolist(), modes.tolist()):
            if mode == _SUDDEN:
                self._mode[i] = mode
                self._fail_lamp(i, t, had_precursor=False)
                continue
            days = self.config.precursor_days(fm.MODES_BY_CODE[mode])
            self._start_precursor(i, mode, t, t + float(fm.draw_precursor_s(rng, days, 1)[0]))

    def _start_precursor(self, i: int, mode: int, onset_s: float, fail_s: float) -> None:
        self._cond[i] = _PRECURSOR
        self._mode[i] = mode
        self._onset_s[i] = onset_s
        self._fail_s[i] = fail_s
        if mode == _LED_STRING:
            self._direction[i] = -1 if self._rng.random() < self.config.led_string_down_share else 1

    def _fail_lamp(self, i: int, failed_at_s: float, had_precursor: bool) -> None:
        self._cond[i] = _FAILED
        self._fail_s[i] = failed_at_s
        self._detected[i] = False
        if not had_precursor:
            self._onset_s[i] = np.nan
        record = FailureRecord(
            lamp_id=self.lamp_ids[i],
            failed_at=_utc(failed_at_s),
            mode=fm.MODES_BY_CODE[int(self._mode[i])].value,
            had_precursor=had_precursor,
            precursor_started_at=_utc(self._onset_s[i]) if had_precursor else None,
        )
        self._record[i] = len(self.truth)
        self.truth.append(record)

    def _progress_failures(self, t: float) -> None:
        due = np.flatnonzero((self._cond == _PRECURSOR) & (self._fail_s <= t))
        for i in due.tolist():
            self._fail_lamp(i, float(self._fail_s[i]), had_precursor=bool(self._mode[i] != _SUDDEN))

    def _progress_circuits(self, t: float, dt_s: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        rng = self._rng
        cfg = self.config
        if dt_s > 0.0:
            fire = (self._c_cond == _OK) & (rng.random(self.n_circuits) < -math.expm1(-self._h_supply * dt_s))
            for c in np.flatnonzero(fire).tolist():
                self._start_circuit_fault(c, t, t + float(fm.draw_precursor_s(rng, cfg.supply_precursor_days, 1)[0]))
        for c in np.flatnonzero((self._c_cond == _PRECURSOR) & (self._c_fail_s <= t)).tolist():
            self._lose_supply(c, t, events)
        for c in np.flatnonzero((self._c_cond == _FAILED) & (self._c_repair_due_s <= t)).tolist():
            self._restore_circuit(c, float(self._c_repair_due_s[c]), events, "supply restored")

    def _start_circuit_fault(self, c: int, onset_s: float, fail_s: float) -> None:
        size = int(self._circuit_size[c])
        keep_min = min(size, self.config.supply_min_lamps_lost)
        self._c_cond[c] = _PRECURSOR
        self._c_onset_s[c] = onset_s
        self._c_fail_s[c] = fail_s
        self._c_cutoff[c] = int(self._rng.integers(0, size - keep_min + 1))

    def _circuit_lamps_lost(self, c: int) -> np.ndarray:
        return np.flatnonzero((self._circuit == c) & (self._pos_in_circuit >= self._c_cutoff[c]))

    def _lose_supply(self, c: int, t: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        failed_at = float(self._c_fail_s[c])
        self._c_cond[c] = _FAILED
        lamps = self._circuit_lamps_lost(c)
        self._supply_ok[lamps] = False
        records = []
        for i in lamps.tolist():
            records.append(len(self.truth))
            self.truth.append(
                FailureRecord(
                    lamp_id=self.lamp_ids[i],
                    failed_at=_utc(failed_at),
                    mode=FailureMode.SUPPLY_LOSS.value,
                    had_precursor=True,
                    precursor_started_at=_utc(self._c_onset_s[c]),
                    detected_at=_utc(t),
                )
            )
            events.append(
                (
                    self.lamp_ids[i],
                    {
                        "ts": self._iso(t),
                        "type": EventType.SUPPLY_LOSS.value,
                        "detail": {"circuit": self.circuit_names[c], "voltage_v": 0.0},
                    },
                )
            )
        self._c_records[c] = records
        if self.config.auto_repair:
            low, high = self.config.supply_repair_delay_days
            self._c_repair_due_s[c] = t + self._rng.uniform(low, high) * fm.SECONDS_PER_DAY

    def _restore_circuit(self, c: int, t: float, events: list[tuple[str, dict[str, Any]]], reason: str) -> None:
        lamps = self._circuit_lamps_lost(c)
        self._supply_ok[lamps] = True
        self._c_cond[c] = _OK
        self._c_onset_s[c] = np.nan
        self._c_fail_s[c] = np.nan
        self._c_repair_due_s[c] = np.inf
        for record_index in self._c_records.pop(c, []):
            self.truth[record_index].repaired_at = _utc(t)
        for i in lamps.tolist():
            events.append(
                (
                    self.lamp_ids[i],
                    {
                        "ts": self._iso(t),
                        "type": EventType.REPAIRED.value,
                        "detail": {"reason": reason, "circuit": self.circuit_names[c]},
                    },
                )
            )

    def _report_events(
        self,
        t: float,
        commanded: np.ndarray,
        astro_day: np.ndarray,
        lit: np.ndarray,
        events: list[tuple[str, dict[str, Any]]],
    ) -> None:
        failed = self._cond == _FAILED
        undetected = failed & ~self._detected
        if undetected.any():
            dark_failure = undetected & (self._mode != _PHOTOCELL) & self._supply_ok & (commanded > 0.0)
            day_burning = undetected & (self._mode == _PHOTOCELL) & astro_day & lit
            for i in np.flatnonzero(dark_failure | day_burning).tolist():
                if self._mode[i] == _PHOTOCELL:
                    kind = EventType.DAY_BURNING.value
                    detail: Any = {"dim_level": 100.0, "note": "lamp lit in daylight"}
                else:
                    kind = EventType.LAMP_FAILURE.value
                    detail = {"commanded_level": float(commanded[i]), "power_w": ph.STANDBY_POWER_W}
                events.append((self.lamp_ids[i], {"ts": self._iso(t), "type": kind, "detail": detail}))
                self._detected[i] = True
                self.truth[self._record[i]].detected_at = _utc(t)
                if self.config.auto_repair:
                    low, high = self.config.repair_delay_days
                    self._repair_due_s[i] = t + self._rng.uniform(low, high) * fm.SECONDS_PER_DAY

        newly_cycling = (self._night_cycles >= fm.CYCLING_EVENT_MIN_CYCLES) & ~self._cycling_reported
        for i in np.flatnonzero(newly_cycling).tolist():
            self._cycling_reported[i] = True
            events.append(
                (
                    self.lamp_ids[i],
                    {
                        "ts": self._iso(t),
                        "type": EventType.CYCLING.value,
                        "detail": {"cycles_tonight": int(self._night_cycles[i])},
                    },
                )
            )

    def _auto_repairs(self, t: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        for i in np.flatnonzero(self._repair_due_s <= t).tolist():
            self._repair_lamp(i, float(self._repair_due_s[i]), events, "maintenance")

    def _repair_lamp(self, i: int, t: float, events: list[tuple[str, dict[str, Any]]], reason: str) -> None:
        cond = int(self._cond[i])
        if cond == _FAILED and self._record[i] >= 0:
            self.truth[self._record[i]].repaired_at = _utc(t)
        elif cond == _PRECURSOR and self._mode[i] != _SUDDEN:
            self.averted.append(
                FailureRecord(
                    lamp_id=self.lamp_ids[i],
                    failed_at=_utc(self._fail_s[i]),
                    mode=fm.MODES_BY_CODE[int(self._mode[i])].value,
                    had_precursor=True,
                    precursor_started_at=_utc(self._onset_s[i]),
                    repaired_at=_utc(t),
                    outcome="averted",
                )
            )
        c = int(self._circuit[i])
        restored = not self._supply_ok[i] and self._c_cond[c] == _FAILED
        if restored:  # the crew finds the cable fault; the restoration reports every lamp, this one included
            self._restore_circuit(c, t, events, "supply restored")
        self._cond[i] = _OK
        self._mode[i] = 0
        self._onset_s[i] = np.nan
        self._fail_s[i] = np.nan
        self._detected[i] = False
        self._direction[i] = 0
        self._record[i] = -1
        self._repair_due_s[i] = np.inf
        self._driver_installed_s[i] = t
        self._hps_lamp_age_h[i] = 0.0
        self._night_cycles[i] = 0
        if not restored:
            events.append(
                (self.lamp_ids[i], {"ts": self._iso(t), "type": EventType.REPAIRED.value, "detail": {"reason": reason}})
            )

    def _end_outages(self, t: float, events: list[tuple[str, dict[str, Any]]]) -> None:
        back = np.flatnonzero(self._offline & (self._offline_until_s <= t))
        if back.size:
            self._offline[back] = False
            if self.config.comm_loss_events:
                for i in back.tolist():
                    since = float(self._offline_since_s[i])
                    events.append(
                        (
                            self.lamp_ids[i],
                            {
                                "ts": self._iso(t),
                                "type": EventType.COMM_LOSS.value,
                                "detail": {"offline_since": self._iso(since), "duration_s": round(t - since, 1)},
                            },
                        )
                    )

    def _start_outages(self, t: float, gap_s: float) -> None:
        """Controllers that lose their connection at this report; not those just back online."""
        cfg = self.config
        if gap_s <= 0.0:
            return
        just_back = self._offline_at_last_step & ~self._offline
        hazard = -np.expm1(-self._comm_hazard_per_s * gap_s)
        start = ~self._offline & ~just_back & (self._rng.random(self.n_lamps) < hazard)
        lamps = np.flatnonzero(start)
        if lamps.size:
            low, high = cfg.comm_loss_bounds_min
            minutes = np.clip(
                cfg.comm_loss_median_min * np.exp(cfg.comm_loss_sigma * self._rng.normal(0.0, 1.0, lamps.size)),
                low,
                high,
            )
            self._offline[lamps] = True
            self._offline_since_s[lamps] = t
            self._offline_until_s[lamps] = t + minutes * 60.0

    # ------------------------------------------------------------------ start and truth

    def _warm_start(self, rng: np.random.Generator) -> None:
        """Put some lamps and circuits mid-precursor at the start, as in a fleet that has been running.

        Without it no failure in the first weeks would show a precursor. The chance
        that a lamp is in a mode's precursor is that mode's hazard times the
        precursor's duration.
        """
        n = self.n_lamps
        cfg = self.config
        on_share = BURNING_HOURS_PER_YEAR / (365.25 * 24.0)
        driver_age_years = np.maximum(0.0, (self._t - self._driver_installed_s) / fm.SECONDS_PER_YEAR)
        reference_temp = np.full(n, cfg.capacitor_reference_temp_c)
        hazards = np.stack(
            [
                np.where(self._is_hps, 0.0, fm.capacitor_hazard_per_s(reference_temp, driver_age_years, cfg)),
                self._h_led_string,
                self._h_photocell,
                self._h_water,
                np.where(
                    self._is_hps,
                    fm.hps_cycling_hazard_per_s(self._hps_lamp_age_h, np.ones(n, dtype=bool), cfg) * on_share,
                    self._h_led_cycling,
                ),
            ]
        )
        modes = _HAZARD_MODES[:5]
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
            onset = self._t - elapsed_share[i] * duration
            self._cond[i] = _PRECURSOR
            self._mode[i] = modes[k]
            self._onset_s[i] = onset
            self._fail_s[i] = onset + duration
            if modes[k] == _LED_STRING:
                self._direction[i] = -1 if direction_draw[i] < cfg.led_string_down_share else 1

        c_duration = fm.draw_precursor_s(rng, cfg.supply_precursor_days, self.n_circuits)
        c_inside = rng.random(self.n_circuits) < self._h_supply * c_duration
        c_elapsed = rng.random(self.n_circuits)
        for c in np.flatnonzero(c_inside).tolist():
            onset = self._t - c_elapsed[c] * c_duration[c]
            self._start_circuit_fault(c, onset, onset + float(c_duration[c]))

    def _pending_records(self) -> list[FailureRecord]:
        pending = []
        for i in np.flatnonzero((self._cond == _PRECURSOR) & (self._mode != _SUDDEN)).tolist():
            pending.append(
                FailureRecord(
                    lamp_id=self.lamp_ids[i],
                    failed_at=_utc(self._fail_s[i]),
                    mode=fm.MODES_BY_CODE[int(self._mode[i])].value,
                    had_precursor=True,
                    precursor_started_at=_utc(self._onset_s[i]),
                    outcome="pending",
                )
            )
        for c in np.flatnonzero(self._c_cond == _PRECURSOR).tolist():
            for i in self._circuit_lamps_lost(c).tolist():
                pending.append(
                    FailureRecord(
                        lamp_id=self.lamp_ids[i],
                        failed_at=_utc(self._c_fail_s[c]),
                        mode=FailureMode.SUPPLY_LOSS.value,
                        had_precursor=True,
                        precursor_started_at=_utc(self._c_onset_s[c]),
                        outcome="pending",
                    )
                )
        return pending


def run_steps(simulator: FleetSimulator, start: datetime, steps: int, interval_s: float | None = None):
    """Yield `step` results at start + k·interval for k = 1..steps (interval: the report interval)."""
    interval = timedelta(seconds=interval_s if interval_s is not None else simulator.report_interval_s)
    for k in range(1, steps + 1):
        yield simulator.step(start + k * interval)
