"""Controllers that lose their connection to the broker for a while, drawn per report."""

from __future__ import annotations

import numpy as np

from simulators.failures import FailureConfig


class Outages:
    """Which controllers are offline, since and until when."""

    def __init__(self, comm_hazard_per_s: np.ndarray) -> None:
        n_lamps = comm_hazard_per_s.size
        self.comm_hazard_per_s = comm_hazard_per_s
        self.offline = np.zeros(n_lamps, dtype=bool)
        self.offline_until_s = np.zeros(n_lamps)
        self.offline_since_s = np.zeros(n_lamps)
        self.offline_at_last_step = np.zeros(n_lamps, dtype=bool)

    def end_due(self, t: float) -> np.ndarray:
        """Bring back the controllers whose outage is over at `t`; their indices."""
        back = np.flatnonzero(self.offline & (self.offline_until_s <= t))
        if back.size:
            self.offline[back] = False
        return back

    def start_new(self, t: float, gap_s: float, rng: np.random.Generator, config: FailureConfig) -> None:
        """Controllers that lose their connection at this report; not those just back online."""
        if gap_s <= 0.0:
            return
        just_back = self.offline_at_last_step & ~self.offline
        hazard = -np.expm1(-self.comm_hazard_per_s * gap_s)
        start = ~self.offline & ~just_back & (rng.random(self.offline.size) < hazard)
        lamps = np.flatnonzero(start)
        if lamps.size:
            low, high = config.comm_loss_bounds_min
            minutes = np.clip(
                config.comm_loss_median_min * np.exp(config.comm_loss_sigma * rng.normal(0.0, 1.0, lamps.size)),
                low,
                high,
            )
            self.offline[lamps] = True
            self.offline_since_s[lamps] = t
            self.offline_until_s[lamps] = t + minutes * 60.0

    def changes_since_last_step(self) -> tuple[np.ndarray, np.ndarray]:
        """(went offline, came back online) since the previous step, as masks; starts a new step."""
        went = self.offline & ~self.offline_at_last_step
        back = ~self.offline & self.offline_at_last_step
        self.offline_at_last_step = self.offline.copy()
        return went, back
