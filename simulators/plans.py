"""Dimming plans the simulated controllers hold, looked up for every lamp at once."""

from __future__ import annotations

import numpy as np

from core.contract import PLAN_MIN_HORIZON, Plan

# Switch times are kept as milliseconds in the low bits of one sorted int64 key per
# point, with the lamp's index above them, so that one searchsorted finds every lamp's level.
_MS_BITS = 40


class AppliedPlans:
    """The plan in force on each controller, and its points compiled into sorted keys."""

    def __init__(self, n_lamps: int, base_s: float) -> None:
        self.version = np.zeros(n_lamps, dtype=np.int64)
        self.plans: dict[int, Plan] = {}
        self._points: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._dirty = False
        self._base_s = base_s  # time of millisecond 0: before any plan's first point
        self._lamps = np.zeros(0, dtype=np.int64)
        self._keys = np.zeros(0, dtype=np.int64)
        self._levels = np.zeros(0, dtype=float)
        self._last_ms = np.zeros(n_lamps, dtype=np.int64)

    def apply(self, i: int, plan: Plan) -> str | None:
        """Put `plan` in force on lamp `i`; None, or why the controller refuses it."""
        current = int(self.version[i])
        if plan.version < current:
            return f"version {plan.version} is older than the plan in force (version {current})"
        horizon = plan.covers_until() - plan.generated_at
        if horizon < PLAN_MIN_HORIZON:
            hours = horizon.total_seconds() / 3600.0
            needed = PLAN_MIN_HORIZON.total_seconds() / 3600.0
            return f"the plan covers {hours:.1f} h from generated_at; at least {needed:.0f} h are required"
        at_ms = self._ms(np.array([p.at.timestamp() for p in plan.points]))
        levels = np.array([p.level for p in plan.points], dtype=float)
        self.plans[i] = plan
        self._points[i] = (at_ms, levels)
        self.version[i] = plan.version
        self._dirty = True
        return None

    def levels_at(self, t: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(lamps with a plan, their plan's level at time t, whether the plan is in force then)."""
        if self._dirty:
            self._compile()
        now_ms = int(self._ms(np.array([t]))[0])
        lamps = self._lamps
        query = (lamps << _MS_BITS) | now_ms
        pos = np.searchsorted(self._keys, query, side="right") - 1
        safe = np.maximum(pos, 0)
        valid = (pos >= 0) & ((self._keys[safe] >> _MS_BITS) == lamps)
        in_force = valid & (now_ms <= self._last_ms[lamps])
        return lamps, self._levels[safe], in_force

    def _ms(self, t_s: np.ndarray) -> np.ndarray:
        ms = np.floor((np.asarray(t_s, dtype=float) - self._base_s) * 1000.0)
        return np.clip(ms, 0, 2**_MS_BITS - 1).astype(np.int64)

    def _compile(self) -> None:
        lamps = np.array(sorted(self._points), dtype=np.int64)
        keys = []
        levels = []
        for i in lamps:
            at_ms, lvl = self._points[int(i)]
            keys.append((np.int64(i) << _MS_BITS) | at_ms)
            levels.append(lvl)
            self._last_ms[i] = at_ms[-1]
        self._lamps = lamps
        self._keys = np.concatenate(keys)
        self._levels = np.concatenate(levels)
        self._dirty = False
