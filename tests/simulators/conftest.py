"""Helpers shared by the simulator tests: quiet configurations and recorded runs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pytest

from simulators.engine import FleetSimulator
from simulators.failures import FailureConfig

# No failures, no communication losses, no crews: only what a test injects.
QUIET = FailureConfig(rate_scale=0.0, comm_loss_rate_per_year=0.0, flaky_controller_share=0.0, auto_repair=False)


@dataclass
class Recording:
    """Readings of a run as (steps x lamps) arrays, with the step times and every event."""

    lamp_ids: list[str]
    start: datetime
    times: list[datetime]
    columns: dict[str, np.ndarray]
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def days(self) -> np.ndarray:
        """Step times in days since the start."""
        return np.array([(t - self.start).total_seconds() / 86_400.0 for t in self.times])

    def col(self, name: str, lamp_id: str) -> np.ndarray:
        return self.columns[name][:, self.lamp_ids.index(lamp_id)]

    def events_of(self, lamp_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        return [e for lid, e in self.events if lid == lamp_id and (kind is None or e["type"] == kind)]


def record(sim: FleetSimulator, start: datetime, steps: int, interval: timedelta) -> Recording:
    """Step `sim` `steps` times from `start` and keep every reading column."""
    times = [start + k * interval for k in range(1, steps + 1)]
    stacks: dict[str, list[np.ndarray]] = {}
    events = []
    for t in times:
        arrays = sim.step_arrays(t)
        for name, values in arrays.columns.items():
            stacks.setdefault(name, []).append(values.copy())
        events.extend(arrays.events)
    columns = {name: np.array(values) for name, values in stacks.items()}
    return Recording(list(sim.lamp_ids), start, times, columns, events)


@pytest.fixture(scope="session")
def quiet_config() -> FailureConfig:
    return QUIET


@pytest.fixture(scope="session")
def record_run() -> Callable[[FleetSimulator, datetime, int, timedelta], Recording]:
    return record
