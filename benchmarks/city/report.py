"""The city benchmark's table: what, measured, floor, target, met or missed."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from benchmarks.common import format_seconds, format_table

if TYPE_CHECKING:
    from benchmarks.city.browser import DashboardTiming
    from benchmarks.city.heavy import Scoring
    from benchmarks.city.requests import Timing
    from benchmarks.dimming import Phase
    from benchmarks.inventory_import import Step


def _verdict(measured: float, target: float | None) -> str:
    if target is None:
        return ""
    return "met" if measured < target else "MISSED"


def _mib(value_bytes: int) -> str:
    return f"{value_bytes / 2**20:,.0f} MiB"


@dataclass(frozen=True, slots=True)
class Row:
    what: str
    measured: str
    floor: str
    target: str
    verdict: str

    @classmethod
    def of_requests(cls, database_floor: Timing, timings: Sequence[Timing]) -> list[Row]:
        """Median (slowest, first) of each request; the floor column: the token-checked no-op's median."""
        request_floor = next((t for t in timings if t.floor), None)
        floor_text = format_seconds(request_floor.median_s) if request_floor else ""
        rows = [
            cls(database_floor.name, _spread(database_floor), "", "", ""),
        ]
        for timing in timings:
            if timing.error:
                rows.append(cls(timing.name, f"answered {timing.error}", "", "", "not measured"))
                continue
            rows.append(
                cls(
                    f"{timing.name} ({timing.answer_bytes / 1024:,.0f} KiB)",
                    _spread(timing),
                    "" if timing.floor else floor_text,
                    f"< {format_seconds(timing.target_s)}" if timing.target_s else "",
                    _verdict(timing.median_s, timing.target_s),
                )
            )
        return rows

    @classmethod
    def of_dashboard(cls, dashboard: DashboardTiming) -> Row:
        from benchmarks.city.browser import DASHBOARD_TARGET_S

        median = statistics.median(dashboard.drawn_s)
        loads = ", ".join(f"{s:.1f}" for s in dashboard.drawn_s)
        received = statistics.median(dashboard.map_received_s)
        return cls(
            f"dashboard: navigation until the map shows {dashboard.lamps:,} lamps (loads: {loads} s)",
            format_seconds(median),
            f"map answer received after {format_seconds(received)}",
            f"< {format_seconds(DASHBOARD_TARGET_S)}",
            _verdict(median, DASHBOARD_TARGET_S),
        )

    @classmethod
    def of_scoring(cls, scoring: Scoring) -> list[Row]:
        from benchmarks.city.heavy import SCORING_TARGET_S

        floor_s = scoring.per_lamp_floor_s * scoring.lamps
        return [
            cls(
                f"nightly scoring, {scoring.lamps:,} lamps",
                format_seconds(scoring.score_s),
                f"lamp by lamp: {floor_s:,.0f} s (extrapolated)",
                f"< {format_seconds(SCORING_TARGET_S)}",
                _verdict(scoring.score_s, SCORING_TARGET_S),
            ),
            cls("nightly daily aggregates (before scoring; no target)", format_seconds(scoring.refresh_s), "", "", ""),
        ]

    @classmethod
    def of_dimming(cls, phases: Sequence[Phase]) -> list[Row]:
        from benchmarks.city.heavy import PUSH_TARGET_S

        return [
            cls(
                f"dimming, {phase.name}: {phase.lamps:,} plans pushed (answered after {phase.acked_s:.1f} s)",
                format_seconds(phase.pushed_s),
                "see benchmarks.dimming's baseline above",
                f"< {format_seconds(PUSH_TARGET_S)}",
                _verdict(phase.pushed_s, PUSH_TARGET_S),
            )
            for phase in phases
        ]

    @classmethod
    def of_import(cls, steps: Sequence[Step]) -> list[Row]:
        from benchmarks.inventory_import import TARGET_FIRST_IMPORT_S, TARGET_UNCHANGED_IMPORT_S

        floor, rest = steps[0], steps[1:]
        targets = [TARGET_FIRST_IMPORT_S, TARGET_UNCHANGED_IMPORT_S, None]
        return [
            cls(
                f"inventory import, {step.name} ({step.lamps:,} lamps)",
                format_seconds(step.total_s),
                f"COPY {format_seconds(floor.total_s)}",
                f"< {format_seconds(target)}" if target else "",
                _verdict(step.total_s, target),
            )
            for step, target in zip(rest, targets, strict=False)
        ]


def _spread(timing: Timing) -> str:
    return f"{format_seconds(timing.median_s)} (max {format_seconds(timing.max_s)}, first {format_seconds(timing.first_s)})"


def memory_rows(started: int, after_requests: int, peak: int, end: int, target: int) -> list[Row]:
    return [
        Row("server RSS: peak (sampled every 0.1 s)", _mib(peak), f"at start {_mib(started)}", f"< {_mib(target)}",
            _verdict(peak, target)),
        Row("server RSS: after the requests / at the end", f"{_mib(after_requests)} / {_mib(end)}", "", "", ""),
    ]  # fmt: skip


def table(rows: Sequence[Row]) -> str:
    return format_table(
        ["what", "measured: median (max, first)", "floor", "target", "result"],
        [(r.what, r.measured, r.floor, r.target, r.verdict) for r in rows],
        right=[False, True, False, False, False],
    )
