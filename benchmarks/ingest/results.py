"""What one run measured, the median of repeated attempts, and an ingester's own counters."""

from __future__ import annotations

import ast
import contextlib
from dataclasses import dataclass, field
from typing import Any

# An attempt during which other processes used more than this many cores counts as disturbed.
DISTURBED_ABOVE = 0.15


def ingester_stats(log_text: str) -> dict[str, Any]:
    """The counters an ingester logs when it stops ("ingester stopped: {...}"), or {}."""
    for line in reversed(log_text.splitlines()):
        head, sep, counters = line.partition("ingester stopped: ")
        if sep:
            with contextlib.suppress(ValueError, SyntaxError):
                return ast.literal_eval(counters)
    return {}


@dataclass
class RunResult:
    name: str
    consumer: str
    readings_per_message: int
    messages: int
    readings: int
    published_per_s: float | None = None
    stored_per_s: float | None = None
    stored: int | None = None
    lag_p50_s: float | None = None
    lag_p99_s: float | None = None
    lag_max_s: float | None = None
    dead_letters: int = 0
    machine_busy: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)  # by group: consumer, load, broker, database
    consumer_cpu_s: float | None = None  # processor seconds the consumer used over the run
    warnings: int = 0
    note: str = ""
    other_load: float = 0.0  # share of the machine busy with other work just before the run
    untracked: float = 0.0  # cores busy during the run outside the processes measured (others' work)
    iowait: float = 0.0  # share of the machine idle while waiting for the disk during the run
    duplicates: int = 0  # redelivered readings the ingesters absorbed (ON CONFLICT DO NOTHING)
    error: str | None = None  # why the attempt could not be completed
    restarted: list[str] = field(default_factory=list)  # servers restarted by someone else during the run
    attempts: list[RunResult] = field(default_factory=list)  # every attempt when repeated, this one included
    ingesters: int = 0

    @property
    def check(self) -> str:
        """OK, or what went wrong in the worst attempt."""
        for attempt in self.attempts:
            if attempt is not self and attempt.own_check.startswith(("LOST", "DOUBLED")):
                return attempt.own_check
        return self.own_check

    @property
    def own_check(self) -> str:
        if self.error is not None:
            return "FAILED"
        if self.stored is None:
            return "-"
        if self.stored == self.readings:
            return "OK"
        if self.stored < self.readings:
            return f"LOST {self.readings - self.stored:,}"
        return f"DOUBLED {self.stored - self.readings:,}"


def median_attempt(attempts: list[RunResult]) -> RunResult:
    """The median attempt by readings/s, with every attempt attached to it.

    Someone else's work slows an attempt down; such an attempt is not a measurement
    of this system. The median is taken over the undisturbed attempts that succeeded
    when there are any, over the succeeded ones otherwise, over all at worst.
    """
    succeeded = [r for r in attempts if r.error is None] or attempts
    undisturbed = [r for r in succeeded if r.untracked <= DISTURBED_ABOVE and not r.restarted] or succeeded
    ranked = sorted(undisturbed, key=lambda r: r.stored_per_s or 0.0)
    chosen = ranked[(len(ranked) - 1) // 2]
    chosen.attempts = attempts
    return chosen
