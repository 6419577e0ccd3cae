"""The ingest benchmark's command: every run selected, repeated, then the report."""

from __future__ import annotations

import signal
from collections.abc import Sequence
from functools import partial
from types import FrameType

from benchmarks.common import fresh_database, say
from benchmarks.ingest.bench import ATTEMPT_ERRORS, Bench
from benchmarks.ingest.ceiling import run_broker_ceiling
from benchmarks.ingest.options import Options, parse_args
from benchmarks.ingest.report import print_results
from benchmarks.ingest.results import RunResult
from benchmarks.ingest.runs import run_ingesters, run_naive
from benchmarks.machine import describe_machine


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # so that SIGTERM, too, stops what was started and drops the databases


def run_selected(bench: Bench, o: Options, results: list[RunResult]) -> None:
    """Every run not skipped, in order; each result is appended to `results` as soon as it is in."""
    if "broker" not in o.skip:
        results.append(bench.repeated("broker", partial(run_broker_ceiling, bench)))
    if "broker-backlog" not in o.skip:
        results.append(bench.repeated("broker-backlog", partial(run_broker_ceiling, bench, backlog=True)))
    if "naive" not in o.skip:
        results.append(bench.repeated("naive", partial(run_naive, bench)))
    if "single" not in o.skip:
        for n in o.ingesters:
            what = f"single-x{n}"
            results.append(bench.repeated(what, partial(run_ingesters, bench, what, n, o.messages)))
    if "batched" not in o.skip:
        n = o.batched_ingesters
        what = f"batched{o.batch_readings}-x{n}"
        batched = partial(run_ingesters, bench, what, n, o.messages, readings_per_message=o.batch_readings)
        results.append(bench.repeated(what, batched))
    if "backlog" not in o.skip:
        for n in o.backlog_ingesters:
            what = f"backlog-x{n}"
            backlog = partial(run_ingesters, bench, what, n, o.messages, backlog=True)
            results.append(bench.repeated(what, backlog, note="queued first, then drained"))
    if "lag" not in o.skip:
        n = o.lag_ingesters
        what = f"paced-x{n}"
        paced = partial(run_ingesters, bench, what, n, int(o.lag_rate * o.lag_seconds), readings_per_s=o.lag_rate)
        results.append(bench.repeated(what, paced, note=f"paced at {o.lag_rate:,}/s for {o.lag_seconds:g} s"))


def main(argv: Sequence[str] | None = None) -> int:
    o = parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    bench = Bench(o)
    say(f"ingest benchmark {bench.rid}: TimescaleDB {o.timescale_url}, broker {o.mqtt_url}")
    results: list[RunResult] = []
    machine: list[tuple[str, str]] = []
    try:
        with fresh_database(o.timescale_url, bench.name("info")) as url:
            machine = describe_machine(url, o.mqtt_url)
        run_selected(bench, o, results)
    except ATTEMPT_ERRORS as exc:
        bench.keep_logs = True
        say(f"\nbenchmark aborted: {exc}")
        if results:
            print_results(results, machine, o)
        return 1
    except KeyboardInterrupt:
        bench.keep_logs = True
        say("\ninterrupted")
        return 130
    finally:
        bench.cleanup()
    print_results(results, machine, o)
    return 0 if all(r.check in ("OK", "-") for r in results) else 1  # a loss, a double or no result
