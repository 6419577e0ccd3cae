"""The ingest benchmark's report: the machine, one row per run, every attempt, the targets."""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.common import format_rate, format_seconds, format_table, say
from benchmarks.ingest.load import PUBLISHER_NAMES
from benchmarks.ingest.options import Options
from benchmarks.ingest.results import DISTURBED_ABOVE, RunResult

# Targets (docs/performance.md): sustained one-reading messages, nothing lost, and
# a clear margin over the obvious one-commit-per-message design.
TARGET_READINGS_PER_S = 20_000
TARGET_NAIVE_RATIO = 8.0

LEGEND = (
    "\nreadings/s: readings stored / (commit of the last row - first publish); backlog runs: from the resume."
    "\npublished/s: messages acknowledged by the broker / time from the first publish to the last acknowledgement."
    "\nlag: received_at (database clock at insert) - ts (publisher clock at send), percentile_cont over every row."
    "\nCPU busy: the whole machine over the run (100% = every processor)."
    "\ncores: processor time / wall time of the consumer (ingesters), the load generator, the broker and the"
    " database server;\nuntracked: cores busy with anything else (other people's work on a shared machine);"
    " iowait: the machine idle waiting for the disk."
    "\nconsumer µs/reading: processor time of the consumer over the run / readings: its cost, robust to other load."
    "\nrange: lowest and highest readings/s over the attempts (--repeat). The row shows the median of the"
    f" attempts\nthat other work did not disturb (untracked <= {DISTURBED_ABOVE} cores), of all when each was."
)


def _cores(r: RunResult) -> str:
    return "/".join(f"{r.cores[k]:.2f}" if k in r.cores else "-" for k in ("consumer", "load", "broker", "database"))


def _consumer_us_per_reading(r: RunResult) -> str:
    if r.consumer_cpu_s is None or not r.readings:
        return "-"
    return f"{r.consumer_cpu_s / r.readings * 1e6:.1f}"


def _spread(r: RunResult) -> str:
    rates = [a.stored_per_s for a in r.attempts if a.stored_per_s]
    if len(rates) < 2:
        return "-"
    return f"{min(rates) / 1000:.1f}k-{max(rates) / 1000:.1f}k"


# (header, right-aligned, value)
COLUMNS: tuple[tuple[str, bool, Callable[[RunResult], object]], ...] = (
    ("run", False, lambda r: r.name),
    ("consumer", False, lambda r: r.consumer),
    ("per msg", True, lambda r: r.readings_per_message),
    ("messages", True, lambda r: f"{r.messages:,}"),
    ("published/s", True, lambda r: format_rate(r.published_per_s)),
    ("readings/s", True, lambda r: format_rate(r.stored_per_s)),
    ("range", True, _spread),
    ("lag p50", True, lambda r: format_seconds(r.lag_p50_s)),
    ("lag p99", True, lambda r: format_seconds(r.lag_p99_s)),
    ("stored", True, lambda r: "-" if r.stored is None else f"{r.stored:,}"),
    ("check", False, lambda r: r.check),
    ("CPU busy", True, lambda r: f"{r.machine_busy:.0%}"),
    ("untracked", True, lambda r: f"{r.untracked:.2f}"),
    ("iowait", True, lambda r: f"{r.iowait:.0%}"),
    ("cores: consumer/load/broker/db", True, _cores),
    ("consumer µs/reading", True, _consumer_us_per_reading),
    ("note", False, lambda r: r.note),
)


def print_results(results: list[RunResult], machine: list[tuple[str, str]], o: Options) -> None:
    say("\n" + "=" * 100)
    say(f"Ingest benchmark: MQTT (QoS 1) -> ingester -> TimescaleDB, {o.lamps:,} lamps registered")
    say("=" * 100)
    described = [*machine, *_setup(o)]
    width = max(len(k) for k, _ in described)
    for key, value in described:
        say(f"{key:>{width}}: {value}")
    say("")
    say(format_table([c[0] for c in COLUMNS], [[c[2](r) for c in COLUMNS] for r in results], [c[1] for c in COLUMNS]))
    say(LEGEND)
    if any(len(r.attempts) > 1 for r in results):
        _print_attempts(results)
    comparison = comparison_rows(results)
    if comparison:
        say("\nComparison, one reading per message")
        say(format_table(("", "figure", "from", "target", ""), comparison))
    _print_problems(results)


def _setup(o: Options) -> list[tuple[str, str]]:
    """How the ingesters and the load generator were set up."""
    settings = []
    if o.batch_size:
        settings.append(f"STREETLIGHT_INGEST_BATCH_SIZE={o.batch_size}")
    if o.flush_interval_s:
        settings.append(f"STREETLIGHT_INGEST_FLUSH_INTERVAL_S={o.flush_interval_s}")
    return [
        ("ingester", " ".join(settings) or "default settings (batch 5000 messages, flush 0.2 s)"),
        (
            "load",
            f"{o.publishers} publisher process(es): {PUBLISHER_NAMES[o.publisher]}, QoS 1, at most 1000"
            " unacknowledged, readings of ~190 bytes",
        ),
    ]


def _print_attempts(results: list[RunResult]) -> None:
    say("\nEvery attempt")
    rows = [
        (r.name, n, format_rate(a.stored_per_s), a.own_check if a.error is None else f"FAILED: {a.error}",
         f"{a.untracked:.2f}", f"{a.iowait:.0%}", _consumer_us_per_reading(a),
         "; ".join(filter(None, ("median" if a is r else "", *(f"{x} restarted" for x in a.restarted)))))
        for r in results
        for n, a in enumerate(r.attempts, 1)
    ]  # fmt: skip
    say(format_table(("run", "attempt", "readings/s", "check", "untracked", "iowait", "consumer µs/reading", ""),
                     rows, (False, True, True, False, True, True, True, False)))  # fmt: skip


def _rate(r: RunResult) -> float:
    return r.stored_per_s or 0.0


def _verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def comparison_rows(results: list[RunResult]) -> list[tuple[str, str, str, str, str]]:
    """The best ingester run against the target, the naive reference and the broker's ceiling."""

    def best_of(prefix: str) -> RunResult | None:
        return max(
            (r for r in results if r.name.startswith(prefix) and r.stored_per_s and r.check == "OK"),
            key=_rate,
            default=None,
        )

    def first(name: str) -> RunResult | None:
        return next((r for r in results if r.name == name and r.stored_per_s), None)

    best, drained = best_of("single"), best_of("backlog")
    naive, broker, broker_backlog = first("naive"), first("broker"), first("broker-backlog")
    lines = []
    if best:
        lines.append(
            ("ingester, nothing lost (best)", f"{_rate(best):,.0f} readings/s", best.consumer,
             f">= {TARGET_READINGS_PER_S:,}/s", _verdict(_rate(best) >= TARGET_READINGS_PER_S))
        )  # fmt: skip
    elif any(r.name.startswith("single") for r in results):
        lines.append(
            ("ingester, nothing lost (best)", "-", "no run stored every reading", f">= {TARGET_READINGS_PER_S:,}/s",
             "MISSED")
        )  # fmt: skip
    if best and naive:
        ratio = _rate(best) / _rate(naive)
        lines.append(
            ("ingester / naive", f"{ratio:.1f}x", f"{_rate(best):,.0f} / {_rate(naive):,.0f}",
             f">= {TARGET_NAIVE_RATIO:g}x", _verdict(ratio >= TARGET_NAIVE_RATIO))
        )  # fmt: skip
    if best and broker:
        lines.append(
            ("ingester / broker ceiling", f"{_rate(best) / _rate(broker):.0%}",
             f"{_rate(best):,.0f} / {_rate(broker):,.0f}", "", "")
        )  # fmt: skip
    if drained:
        lines.append(
            ("ingester draining a backlog (best)", f"{_rate(drained):,.0f} readings/s", drained.consumer,
             "(no publisher running)", "")
        )  # fmt: skip
    if drained and broker_backlog:
        lines.append(
            ("  / broker draining a backlog", f"{_rate(drained) / _rate(broker_backlog):.0%}",
             f"{_rate(drained):,.0f} / {_rate(broker_backlog):,.0f}", "", "")
        )  # fmt: skip
    return lines


def _print_problems(results: list[RunResult]) -> None:
    failed = [r for r in results if r.check.startswith(("LOST", "DOUBLED"))]
    if failed:
        say("\nRuns that lost or doubled readings: " + ", ".join(f"{r.name} ({r.check})" for r in failed))
    broken = [(r.name, a.error) for r in results for a in r.attempts if a.error]
    if broken:
        say("Attempts that could not be completed (left out of the medians):")
        for name, error in broken:
            say(f"  {name}: {error}")
    absorbed = [r for r in results if r.duplicates]
    if absorbed:
        say(
            "Redelivered readings stored once (ON CONFLICT): "
            + ", ".join(f"{r.name}: {r.duplicates}" for r in absorbed)
        )
    dead = [r for r in results if r.dead_letters]
    if dead:
        say("Dead letters: " + ", ".join(f"{r.name}: {r.dead_letters}" for r in dead))
    warned = [r for r in results if r.warnings]
    if warned:
        say("Ingester warnings/errors logged: " + ", ".join(f"{r.name}: {r.warnings}" for r in warned))
