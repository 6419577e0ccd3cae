"""The broker's own ceiling: mosquitto_sub receiving the load at QoS 1 and storing nothing."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass

from benchmarks.common import Progress, clear_mqtt_session, say
from benchmarks.ingest.bench import Bench, take_meter
from benchmarks.ingest.messages import STALL_S
from benchmarks.ingest.results import RunResult
from core.contract import TopicKind, Topics
from core.mqtt import BrokerConfig


@dataclass
class Exit:
    at: float  # epoch seconds
    code: int
    cpu_s: float  # processor seconds the process used


class CountingSubscriber:
    """mosquitto_sub with a persistent session, exiting once it has received `messages`."""

    def __init__(self, mqtt_url: str, topic: str, client_id: str) -> None:
        broker = BrokerConfig.from_url(mqtt_url)
        where = ["-h", broker.host, "-p", str(broker.port)]
        self.command = ["mosquitto_sub", *where, "-q", "1", "-i", client_id, "-t", topic]
        self.exit: Exit | None = None
        self._process: subprocess.Popen | None = None
        self._reaper: threading.Thread | None = None

    def subscribe(self) -> None:
        """Subscribe first (-c: a persistent session), so that nothing published is missed."""
        subprocess.run([*self.command, "-c", "-E"], check=True, timeout=30, stdout=subprocess.DEVNULL)

    def start(self, messages: int) -> None:
        self._process = subprocess.Popen(
            [*self.command, "-c", "-C", str(messages)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self._reaper = threading.Thread(target=self._reap, args=(self._process,), daemon=True)
        self._reaper.start()

    def _reap(self, process: subprocess.Popen) -> None:
        """wait4: the exit time and the processor time of the subscriber."""
        _, status, usage = os.wait4(process.pid, 0)
        self.exit = Exit(time.time(), os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime)
        process.returncode = self.exit.code

    def join(self, timeout_s: float) -> None:
        if self._reaper is not None:
            self._reaper.join(timeout_s)

    def kill(self) -> None:
        if self.exit is None and self._process is not None:
            with contextlib.suppress(ProcessLookupError):
                self._process.kill()
            self.join(5)


def run_broker_ceiling(bench: Bench, backlog: bool = False) -> RunResult:
    """mosquitto_sub at QoS 1 with a persistent session, counting N messages and storing nothing.

    backlog: the messages are published while the subscriber is away (queued in its
    session), then delivered in one go: the broker's own delivery rate, no publisher running.
    """
    what = "broker-backlog" if backlog else "broker"
    messages = bench.o.messages
    how = "queued first, then delivered" if backlog else "delivered while published"
    say(f"\n{what} (mosquitto_sub -q 1 -C {messages}, output discarded): {messages:,} messages, {how}")
    result = RunResult(what, "mosquitto_sub, stores nothing", 1, messages, messages)
    if shutil.which("mosquitto_sub") is None:
        result.note = "mosquitto_sub not installed"
        return result
    client_id = f"bench-{bench.tag}-sub"
    sub = CountingSubscriber(bench.o.mqtt_url, Topics(bench.prefix(what)).subscription(TopicKind.TELEMETRY), client_id)
    with contextlib.ExitStack() as stack:
        stack.callback(clear_mqtt_session, bench.o.mqtt_url, client_id)
        sub.subscribe()
        load = bench.make_load(what, messages)
        stack.callback(load.close)
        if backlog:
            load_result = bench.publish_all(what, load)
        started_wall = time.time()
        sub.start(messages)
        stack.callback(sub.kill)
        progress = Progress()
        if not backlog:
            load.start()
        meter = bench.cpu_meter(None, [], load)
        started = time.monotonic()
        while sub.exit is None and time.monotonic() - started < STALL_S * 5:
            load.check()
            progress.update(
                f"  {what}: {time.monotonic() - started:5.1f} s  published {load.published:>9,}  acked {load.acked:>9,}"
            )
            time.sleep(0.1)
        meter.stop()
        result.restarted = bench.restarted(meter, None)
        sub.join(5)
        if not backlog:
            load_result = load.result()
        progress.done(f"  {what}: done in {time.monotonic() - started:.1f} s")
        result.published_per_s = load_result.published_per_s
        take_meter(result, meter)
        since = started_wall if backlog else load_result.first_publish
        _record_delivery(result, sub.exit, since, started_wall, backlog)
    return result


def _record_delivery(
    result: RunResult, sub_exit: Exit | None, since: float, started_wall: float, backlog: bool
) -> None:
    """The delivery rate and the subscriber's processor time, when it received every message."""
    if sub_exit is not None and sub_exit.code == 0:
        result.stored_per_s = result.messages / (sub_exit.at - since)
        result.cores["consumer"] = sub_exit.cpu_s / (sub_exit.at - started_wall)
        result.consumer_cpu_s = sub_exit.cpu_s
        result.untracked = max(0.0, result.untracked - result.cores["consumer"])
        result.note = "delivered/s, nothing stored" + (", queued first" if backlog else "")
    else:
        result.note = f"mosquitto_sub did not receive all {result.messages:,} messages"
