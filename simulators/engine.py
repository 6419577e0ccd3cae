"""The fleet simulation engine: `FleetSimulator`, deterministic for a seed and free of I/O.

Its state lives in `state.py`, time advances in `step.py`, failures in
`faults.py`; docs/simulator.md describes the model. Ground truth is kept apart
(`truth`, `write_truth`), never in the service's database, so that prediction
models can be judged honestly.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from core.contract import Plan
from simulators import failures as fm
from simulators import faults
from simulators import physics as ph
from simulators.failures import FailureConfig, FailureMode, FailureRecord
from simulators.state import CONDITION_NAMES, Event, FleetState, utc
from simulators.step import READING_FIELDS, StepArrays, advance
from simulators.town import LampSpec

__all__ = ["READING_FIELDS", "FleetSimulator", "StepArrays", "StepResult", "run_steps"]

DEFAULT_SWITCH_OFFSET_S = 600.0


@dataclass(frozen=True)
class StepResult:
    """What one step produced. `readings` has exactly one (lamp_id, payload) per lamp."""

    ts: datetime
    readings: list[tuple[str, dict[str, Any]]]
    events: list[Event]
    offline_lamp_ids: set[str]
    went_offline: list[str]
    came_online: list[str]


class FleetSimulator:
    """Simulates a fleet of lamp controllers from `start`, deterministically for a seed.

    `step(now)` advances the fleet and returns one reading per lamp (in the shape of
    `core.contract.TelemetryReading`), the events since the previous step and the
    controllers offline (whose readings an MQTT layer holds back and sends as a batch
    on reconnection); `step_arrays(now)` gives the same readings as numpy columns.
    """

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
        self._state = FleetState(
            lamps,
            seed,
            start,
            self.config,
            climate or ph.Climate(),
            self.switch_on_after_sunset_s,
            self.switch_off_before_sunrise_s,
        )
        self.lamp_ids = self._state.lamp_ids
        self.n_lamps = self._state.n_lamps
        self.circuit_names = self._state.circuit_names
        self.n_circuits = self._state.n_circuits

    @property
    def truth(self) -> list[FailureRecord]:
        """Every failure so far, as it happened."""
        return self._state.truth

    @property
    def averted(self) -> list[FailureRecord]:
        """Failures a crew prevented by repairing the lamp during its precursor."""
        return self._state.averted

    @property
    def now(self) -> datetime:
        """Time the fleet has been simulated up to."""
        return datetime.fromtimestamp(self._state.t, self._state.tz)

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
        if now.timestamp() < self._state.t:
            raise ValueError(f"time must not go backwards: {now.isoformat()} is before {self.now.isoformat()}")
        return advance(self._state, now, self.report_interval_s)

    def apply_plan(self, lamp_id: str, plan: Plan) -> tuple[bool, str | None]:
        """Apply a dimming plan to a lamp's controller: (True, None) or (False, reason).

        Rejected: an unknown lamp, a version older than the plan in force, or a plan
        covering less than 48 h from its generation time. The same version again is
        applied again (idempotent). While a plan is in force (from its first point
        to its last) the lamp follows `plan.level_at(now)`; outside it, the
        controller's default: full output from dusk to dawn.
        """
        i = self._state.index.get(lamp_id)
        if i is None:
            return False, f"unknown lamp {lamp_id!r}"
        reason = self._state.plans.apply(i, plan)
        return reason is None, reason

    def current_plan_version(self, lamp_id: str) -> int | None:
        """Version of the lamp's plan in force, None if it never received one."""
        version = int(self._state.plans.version[self._state.index[lamp_id]])
        return version or None

    def repair(self, lamp_id: str, at: datetime) -> None:
        """A crew visit at `at`: new driver (and lamp, for HPS), fault cleared; emits `repaired`.

        Repairing a lamp cut off by a supply fault restores its circuit. The event
        comes out with the next step's events.
        """
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError("at must be timezone-aware")
        state = self._state
        faults.repair_lamp(state, state.index[lamp_id], at.timestamp(), state.pending_events, "crew visit")

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
        i = self._state.index[lamp_id]
        faults.schedule_failure(self._state, i, mode, fails_at.timestamp(), precursor_days)

    def environment_at(self, when: datetime) -> dict[str, float | bool]:
        """The town's weather at a time: air temperature (°C), rain, wetness (0-1), cloud factor (0-1)."""
        air_c, raining, wetness, cloud = self._state.weather.at(when.timestamp())
        return {"air_temp_c": air_c, "raining": raining, "wetness": wetness, "cloud_factor": cloud}

    def write_truth(self, path: str | Path) -> None:
        """Write the ground truth CSV: failures, averted failures and precursors still running."""
        rows = list(self.truth) + list(self.averted) + faults.pending_records(self._state)
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
        state = self._state
        i = state.index[lamp_id]
        mode = int(state.mode[i])
        return {
            "condition": CONDITION_NAMES[int(state.cond[i])],
            "mode": fm.MODES_BY_CODE[mode].value if mode else None,
            "precursor_started_at": None if math.isnan(state.onset_s[i]) else utc(state.onset_s[i]),
            "fails_at": None if math.isnan(state.fail_s[i]) else utc(state.fail_s[i]),
            "supply_ok": bool(state.supply_ok[i]),
            "offline": bool(state.outages.offline[i]),
        }


def run_steps(
    simulator: FleetSimulator, start: datetime, steps: int, interval_s: float | None = None
) -> Iterator[StepResult]:
    """Yield `step` results at start + k·interval for k = 1..steps (interval: the report interval)."""
    interval = timedelta(seconds=interval_s if interval_s is not None else simulator.report_interval_s)
    for k in range(1, steps + 1):
        yield simulator.step(start + k * interval)
