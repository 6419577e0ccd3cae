"""What the runs share: names, the probe, waiting for the rows, the figures of a finished run, repeats."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import psycopg

from benchmarks.common import BenchmarkError, Progress, Watcher, mqtt_client, run_id, say, wait_until
from benchmarks.ingest.load import Load, LoadResult, make_load
from benchmarks.ingest.messages import STALL_S, Stamper, reading_json
from benchmarks.ingest.options import QUIET_BELOW, Options
from benchmarks.ingest.results import RunResult, median_attempt
from benchmarks.machine import CpuMeter, background_load, broker_pids, database_server_pids
from core.contract import Topics

PROBE_LAMP = "bench-probe"
PROBE_MESSAGES = 20
# What makes an attempt fail without ending the benchmark: it is reported and left out of the median.
ATTEMPT_ERRORS = (BenchmarkError, psycopg.Error, OSError, subprocess.SubprocessError)


def no_check() -> None:
    """For runs with nothing of their own to watch while waiting."""


class Bench:
    def __init__(self, options: Options) -> None:
        self.o = options
        self.rid = run_id()
        self.lamp_ids = [f"L{n:06d}" for n in range(options.lamps)]
        self.log_dir = Path(tempfile.mkdtemp(prefix="streetlight-bench-"))
        self.keep_logs = False
        self.attempt = 1

    @property
    def tag(self) -> str:
        """Names this attempt's databases, topic prefixes and client ids."""
        return f"{self.rid}r{self.attempt}"

    def name(self, what: str) -> str:
        return f"bench_ingest_{self.tag}_{what.replace('-', '_')}"

    def prefix(self, what: str) -> str:
        return f"bench/{self.tag}/{what}"

    def make_load(
        self, what: str, messages: int, readings_per_message: int = 1, readings_per_s: float | None = None
    ) -> Load:
        """The publishers of run `what`, over every lamp, under the run's topic prefix."""
        return make_load(
            self.o.mqtt_url,
            f"{self.tag}-{what}",
            self.prefix(what),
            self.lamp_ids,
            messages,
            self.o.publishers,
            readings_per_message,
            readings_per_s,
            publisher=self.o.publisher,
        )

    def probe(self, prefix: str, watcher: Watcher) -> None:
        """Send a few readings end to end and delete them: everything is connected and warm."""
        client, broker = mqtt_client(self.o.mqtt_url, f"{self.tag}-probe")
        client.connect(broker.host, broker.port, keepalive=30)
        client.loop_start()
        try:
            topic = Topics(prefix).telemetry(PROBE_LAMP)
            stamper = Stamper()
            for n in range(PROBE_MESSAGES):
                client.publish(topic, reading_json(stamper.stamp(), n).encode(), qos=1)
            wait_until(
                lambda: (
                    watcher.value("SELECT count(*) FROM readings WHERE lamp_id = %s", (PROBE_LAMP,)) >= PROBE_MESSAGES
                ),
                60,
                "the probe readings to be stored",
                0.05,
            )
        finally:
            client.disconnect()
            client.loop_stop()
        watcher.one("DELETE FROM readings WHERE lamp_id = %s", (PROBE_LAMP,))

    @staticmethod
    def publish_all(label: str, load: Load, alive: Callable[[], None] = no_check) -> LoadResult:
        """Publish the whole load with nobody consuming it (it queues in the broker)."""
        progress = Progress()
        load.start()
        started = time.monotonic()
        while not load.finished():
            alive()
            progress.update(
                f"  {label}: {time.monotonic() - started:5.1f} s  queueing in the broker:"
                f" published {load.published:>9,}  acked {load.acked:>9,}"
            )
            time.sleep(0.5)
        progress.done(
            f"  {label}: {load.specs and load.messages:,} messages queued in {time.monotonic() - started:.1f} s"
        )
        return load.result()

    @staticmethod
    def wait_stored(
        label: str, load: Load, watcher: Watcher, expected: int, alive: Callable[[], None] = no_check
    ) -> None:
        """Wait until `expected` rows are stored, or nothing has moved for STALL_S."""
        progress = Progress()
        started = time.monotonic()
        last_count, last_change = 0, started
        last_rate_at, last_rate_count, rate = started, 0, 0.0
        while True:
            alive()
            count = watcher.value("SELECT count(*) FROM readings")
            now = time.monotonic()
            if count != last_count:
                last_count, last_change = count, now
            if now - last_rate_at >= 1.0:
                rate = (count - last_rate_count) / (now - last_rate_at)
                last_rate_at, last_rate_count = now, count
            progress.update(
                f"  {label}: {now - started:5.1f} s  published {load.published:>9,}  acked {load.acked:>9,}"
                f"  stored {count:>9,} / {expected:,}  ({rate:,.0f}/s)"
            )
            if count >= expected:
                break
            if now - last_change > STALL_S and load.finished():
                progress.done(f"  {label}: no progress for {STALL_S:.0f} s, giving up at {count:,} of {expected:,}")
                return
            time.sleep(0.5)
        progress.done(f"  {label}: stored {last_count:,} in {time.monotonic() - started:.1f} s")

    @staticmethod
    def measure(result: RunResult, watcher: Watcher, since: float, quiet_s: float = 1.5) -> None:
        """Stored count, rate since `since` (epoch seconds) and lag of a finished run."""
        time.sleep(quiet_s)  # long enough for a double to show up in the count
        stored, last_commit, p50, p99, lag_max = watcher.row(
            """SELECT count(*), extract(epoch FROM max(received_at))::float8,
                      percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)::float8),
                      percentile_cont(0.99) WITHIN GROUP (ORDER BY extract(epoch FROM received_at - ts)::float8),
                      extract(epoch FROM max(received_at - ts))::float8
               FROM readings"""
        )
        result.stored = stored
        result.lag_p50_s, result.lag_p99_s, result.lag_max_s = p50, p99, lag_max
        result.dead_letters = watcher.value("SELECT count(*) FROM dead_letters")
        if stored and last_commit and last_commit > since:
            result.stored_per_s = stored / (last_commit - since)

    def wait_for_quiet(self) -> float:
        """Wait (up to --quiet-wait-s) until the machine is not busy with other work; return the last reading."""
        deadline = time.monotonic() + self.o.quiet_wait_s
        other = background_load()
        if other > QUIET_BELOW:
            say(f"\nthe machine is {other:.0%} busy with other work; waiting up to {self.o.quiet_wait_s:.0f} s for it")
            while other > QUIET_BELOW and time.monotonic() < deadline:
                time.sleep(2)
                other = background_load()
        return other

    def ingester_settings(self) -> dict[str, str]:
        settings = {}
        if self.o.batch_size:
            settings["STREETLIGHT_INGEST_BATCH_SIZE"] = str(self.o.batch_size)
        if self.o.flush_interval_s:
            settings["STREETLIGHT_INGEST_FLUSH_INTERVAL_S"] = str(self.o.flush_interval_s)
        return settings

    def cpu_meter(self, url: str | None, consumer_pids: list[int], load: Load) -> CpuMeter:
        """Processor time of the consumer, the load generator, the broker and the database server."""
        return CpuMeter(
            {
                "consumer": consumer_pids,
                "load": load.pids,
                "broker": broker_pids(self.o.mqtt_url),
                "database": database_server_pids(url) if url else [],
            }
        )

    def restarted(self, meter: CpuMeter, url: str | None) -> list[str]:
        """Which shared server was restarted (or replaced) while `meter` ran: their processes changed."""
        found = []
        if set(meter.groups["broker"]) != set(broker_pids(self.o.mqtt_url)):
            found.append("broker")
        if url and meter.groups["database"][:1] != database_server_pids(url)[:1]:
            found.append("database")
        return found

    def repeated(self, label: str, measurement: Callable[[], RunResult], note: str = "") -> RunResult:
        """Run `measurement` --repeat times; the median by readings/s, with every attempt attached.

        An attempt that fails (a server restarted by someone else, a timeout) is
        reported and left out of the median; the others still count.
        """
        attempts = []
        for attempt in range(1, self.o.repeat + 1):
            self.attempt = attempt
            other = self.wait_for_quiet()
            try:
                result = measurement()
            except ATTEMPT_ERRORS as exc:
                say(f"  {label}: attempt {attempt} failed: {exc}")
                self.keep_logs = True
                result = RunResult(label, "-", 0, 0, 0, error=str(exc).splitlines()[0][:120])
            result.other_load = other
            if other > QUIET_BELOW:
                result.note = "; ".join(filter(None, (result.note, f"machine {other:.0%} busy before")))
            attempts.append(result)
        chosen = median_attempt(attempts)
        restarts = [
            f"attempt {n}: {' and '.join(r.restarted)} restarted by other work during the run"
            for n, r in enumerate(attempts, 1)
            if r.restarted
        ]
        chosen.note = "; ".join(filter(None, (note, chosen.note, *restarts)))
        return chosen

    def cleanup(self) -> None:
        if self.keep_logs:
            say(f"service logs kept in {self.log_dir}")
        else:
            shutil.rmtree(self.log_dir, ignore_errors=True)


def take_meter(result: RunResult, meter: CpuMeter) -> None:
    """Copy a stopped meter's figures into `result` (the consumer's processor seconds excepted)."""
    result.machine_busy, result.cores, result.untracked = meter.machine_busy, meter.cores, meter.untracked
    result.iowait = meter.iowait
