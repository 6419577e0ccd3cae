"""The runs: `streetlight ingest` processes, the naive reference and the broker's own ceiling."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass, field

from benchmarks.common import (
    ServiceProcess,
    Watcher,
    clear_mqtt_session,
    fresh_database,
    register_lamps,
    say,
    service_env,
    start_service,
    wait_until,
)
from benchmarks.ingest.bench import PROBE_LAMP, Bench, take_meter
from benchmarks.ingest.naive import NaiveIngester
from benchmarks.ingest.profiling import start_py_spy, stop_py_spy
from benchmarks.ingest.results import RunResult, ingester_stats


@dataclass
class Ingesters:
    """The `streetlight ingest` processes of one run, one client id each."""

    mqtt_url: str
    client_ids: list[str]
    services: list[ServiceProcess] = field(default_factory=list)

    def start(self, bench: Bench, url: str, prefix: str, settings: dict[str, str]) -> None:
        for client_id in self.client_ids:
            env = service_env(
                STREETLIGHT_DATABASE_URL=url,
                STREETLIGHT_MQTT_URL=self.mqtt_url,
                STREETLIGHT_TOPIC_PREFIX=prefix,
                STREETLIGHT_INGEST_CLIENT_ID=client_id,
                **settings,
            )
            self.services.append(start_service(client_id, ["ingest"], env, bench.log_dir / f"{client_id}.log"))
        for service in self.services:
            wait_until(service.subscribed, 90, f"{service.name} to subscribe")

    @property
    def pids(self) -> list[int]:
        return [s.process.pid for s in self.services]

    def check_alive(self) -> None:
        for service in self.services:
            service.check_alive()

    def pause(self) -> None:
        for service in self.services:
            os.kill(service.process.pid, signal.SIGSTOP)

    def resume(self) -> None:
        for service in self.services:
            os.kill(service.process.pid, signal.SIGCONT)

    def stop(self) -> None:
        """Stop them and drop their broker sessions; a second call finds nothing to do."""
        for service in self.services:
            with contextlib.suppress(ProcessLookupError):
                os.kill(service.process.pid, signal.SIGCONT)
            service.stop()
        for client_id in self.client_ids:
            clear_mqtt_session(self.mqtt_url, client_id)
        self.client_ids.clear()

    def count_duplicates(self) -> int:
        return sum(ingester_stats(s.log_text()).get("readings_duplicate", 0) for s in self.services)

    def count_warnings(self) -> int:
        return sum(
            1
            for service in self.services
            for line in service.log_text().splitlines()
            if " WARNING " in line or " ERROR " in line
        )


def _announce_ingester_run(
    what: str, processes: int, messages: int, readings_per_message: int, readings_per_s: float | None, backlog: bool
) -> str:
    label = f"{what} ({processes} ingester{'s' if processes > 1 else ''})"
    how = (
        f"paced at {readings_per_s:,.0f} readings/s"
        if readings_per_s
        else "queued first, then drained"
        if backlog
        else "as fast as possible"
    )
    say(f"\n{label}: {messages:,} messages of {readings_per_message} reading(s), {how}")
    return label


def run_ingesters(
    bench: Bench,
    what: str,
    processes: int,
    readings: int,
    readings_per_message: int = 1,
    readings_per_s: float | None = None,
    backlog: bool = False,
) -> RunResult:
    """`processes` × `streetlight ingest`, a shared subscription when more than one.

    backlog: the ingesters are paused (SIGSTOP) while the whole load is published
    and queued by the broker, then resumed: their own capacity, with the load
    generator out of the way. The rate then counts from the resume.
    """
    messages = readings // readings_per_message
    readings = messages * readings_per_message
    label = _announce_ingester_run(what, processes, messages, readings_per_message, readings_per_s, backlog)
    result = RunResult(
        what,
        f"{processes} ingester process{'es' if processes > 1 else ''}",
        readings_per_message,
        messages,
        readings,
        ingesters=processes,
    )
    prefix = bench.prefix(what)
    ingesters = Ingesters(bench.o.mqtt_url, [f"bench-{bench.tag}-{what}-{k + 1}" for k in range(processes)])
    settings = bench.ingester_settings()
    if processes > 1:
        settings["STREETLIGHT_INGEST_SHARE_GROUP"] = f"bench{bench.tag}"
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_database(bench.o.timescale_url, bench.name(what)))
        register_lamps(url, [*bench.lamp_ids, PROBE_LAMP])
        stack.callback(ingesters.stop)
        ingesters.start(bench, url, prefix, settings)
        watcher = stack.enter_context(Watcher(url))
        bench.probe(prefix, watcher)
        load = bench.make_load(what, messages, readings_per_message, readings_per_s)
        stack.callback(load.close)
        if backlog:
            ingesters.pause()
            load_result = bench.publish_all(label, load)
            # Metered from before the resume, so that the ingesters' processor time covers all their work.
            meter = bench.cpu_meter(url, ingesters.pids, load)
            since = time.time()
            ingesters.resume()
        else:
            load.start()
            meter = bench.cpu_meter(url, ingesters.pids, load)
        spies = start_py_spy(bench.o.py_spy_dir, f"{bench.tag}-{what}", ingesters.services)
        bench.wait_stored(label, load, watcher, readings, ingesters.check_alive)
        meter.stop()
        result.restarted = bench.restarted(meter, url)
        stop_py_spy(spies)
        if not backlog:
            load_result = load.result()
            since = load_result.first_publish
        bench.measure(result, watcher, since)
        result.published_per_s = load_result.published_per_s
        if backlog:  # the lag is the time spent queued: not informative
            result.lag_p50_s = result.lag_p99_s = result.lag_max_s = None
        take_meter(result, meter)
        result.consumer_cpu_s = meter.cpu_s.get("consumer")
        ingesters.stop()
        result.duplicates = ingesters.count_duplicates()
        result.warnings = ingesters.count_warnings()
        ingesters.services.clear()
    return result


def run_naive(bench: Bench) -> RunResult:
    what = "naive"
    messages = bench.o.naive_messages
    say(f"\nnaive ingester (one INSERT and one commit per message): {messages:,} messages")
    result = RunResult(what, "naive ingester, 1 process", 1, messages, messages)
    prefix = bench.prefix(what)
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(fresh_database(bench.o.timescale_url, bench.name(what)))
        register_lamps(url, [*bench.lamp_ids, PROBE_LAMP])
        naive = NaiveIngester(url, bench.o.mqtt_url, prefix, f"bench-{bench.tag}-naive")
        stack.callback(clear_mqtt_session, bench.o.mqtt_url, naive.client_id)
        stack.callback(naive.stop)
        naive.start()
        watcher = stack.enter_context(Watcher(url))
        bench.probe(prefix, watcher)
        load = bench.make_load(what, messages)
        stack.callback(load.close)
        load.start()
        meter = bench.cpu_meter(url, [naive.pid], load)
        bench.wait_stored("naive ingester", load, watcher, messages, naive.check_alive)
        meter.stop()
        result.restarted = bench.restarted(meter, url)
        load_result = load.result()
        bench.measure(result, watcher, load_result.first_publish)
        result.published_per_s = load_result.published_per_s
        take_meter(result, meter)
        result.consumer_cpu_s = meter.cpu_s.get("consumer")
    return result
