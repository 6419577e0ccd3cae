"""Dimming benchmark: a town-wide change, every lamp's plan resolved, pushed and acknowledged.

The service's plan scheduler pushes first plans, then a town-wide profile change, to
simulated controllers, beside a one-lamp-at-a-time baseline measured on a sample.
What it measures, and the latest figures, are in docs/performance.md.

    scripts/timescaledb start && scripts/mosquitto start && .venv/bin/python benchmarks/dimming.py
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg

from benchmarks.common import (
    DEFAULT_MQTT_URL,
    BenchmarkError,
    Progress,
    ServiceProcess,
    Watcher,
    default_timescale_url,
    format_table,
    fresh_database,
    mqtt_client,
    run_id,
    say,
    scalar,
    service_env,
    start_service,
    wait_until,
)
from benchmarks.machine import CpuMeter, broker_pids, database_server_pids, describe_machine, process_cpu_s
from core.contract import Topics
from core.mqtt import BrokerConfig

if TYPE_CHECKING:
    from multiprocessing.process import BaseProcess

    from dimming.scheduler import PlanScheduler

TARGET_PUSH_S = 30.0
TIMEZONE = "Europe/Paris"
PROFILE_V1 = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "23:00", "level": 50},
    {"anchor": "clock", "time": "05:00", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]
# The town-wide change: deeper dimming, an hour earlier.
PROFILE_V2 = [
    {"anchor": "dusk", "offset_min": 0, "level": 100},
    {"anchor": "clock", "time": "22:00", "level": 30},
    {"anchor": "clock", "time": "05:30", "level": 100},
    {"anchor": "dawn", "offset_min": 0, "level": 0},
]


# --- the town ---------------------------------------------------------------------------
def load_town(url: str, lamps: int, seed: int) -> int:
    """Write the generated town's lamps; assign one profile to the whole town. Returns its id."""
    from dimming import ProfileSpec, assign, create_profile
    from simulators.town import generate_town

    town = generate_town(lamps, seed=seed)
    with psycopg.connect(url) as conn:
        with conn.cursor().copy(
            "COPY lamps (lamp_id, name, lat, lon, street, circuit, group_name, lighting_class, technology,"
            " rated_power_w) FROM STDIN"
        ) as copy:
            for lamp in town:
                copy.write_row(
                    (lamp.lamp_id, lamp.name, lamp.lat, lamp.lon, lamp.street, lamp.circuit, lamp.group,
                     lamp.lighting_class, lamp.technology, lamp.rated_power_w)
                )  # fmt: skip
        spec = ProfileSpec.model_validate({"name": "Town", "steps": PROFILE_V1})
        profile = create_profile(conn, spec, "benchmark")
        assign(conn, "town", "", profile["id"], "benchmark")
        conn.commit()
    return profile["id"]


def change_town_profile(url: str, profile_id: int) -> datetime:
    """Edit the town's profile (a new version); returns the commit time."""
    from dimming import ProfileSpec, update_profile

    with psycopg.connect(url) as conn:
        update_profile(
            conn, profile_id, ProfileSpec.model_validate({"name": "Town", "steps": PROFILE_V2}), 1, "benchmark"
        )
        conn.commit()
    return datetime.now(UTC)


# --- the controllers (a child process) ----------------------------------------------------
def _controllers_main(
    mqtt_url: str, prefix: str, lamps: int, seed: int, client_prefix: str, ready: Any, stop: Any, results: Any
) -> None:
    import logging

    from simulators.controllers import Simulation, SimulationOptions

    logging.basicConfig(level=logging.WARNING)
    options = SimulationOptions(
        broker=BrokerConfig.from_url(mqtt_url),
        topic_prefix=prefix,
        lamps=lamps,
        seed=seed,
        client_id_prefix=client_prefix,
    )
    simulation = Simulation(options)
    summary = simulation.answer_plans(stop, on_ready=ready.set)
    results.put({"applied": summary.plans_applied, "rejected": summary.plans_rejected})


# --- the baseline --------------------------------------------------------------------------
def baseline_per_lamp_s(url: str, mqtt_url: str, prefix: str, sample: int, horizon_h: int) -> float:
    """Seconds per lamp, one at a time: resolve, insert + commit, publish + wait, stamp + commit."""
    from dimming import store
    from dimming.push import PlanEncoder, generation_time, plan_points
    from dimming.resolve import resolve_plans

    topics = Topics(prefix)
    client, broker = mqtt_client(mqtt_url, f"bench-dim-naive-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    encoder = PlanEncoder()
    tz = ZoneInfo(TIMEZONE)
    try:
        with psycopg.connect(url) as conn:
            lamps = store.load_lamps(conn)[:sample]
            started = time.monotonic()
            for lamp in lamps:
                now = generation_time(datetime.now(UTC))
                config = store.load_config(conn, now)
                points = resolve_plans(config, [lamp], now, horizon_h, tz)[lamp.lamp_id]
                version = scalar(
                    conn, "SELECT coalesce(max(version), 0) + 1 FROM plan_pushes WHERE lamp_id = %s", (lamp.lamp_id,)
                )
                payload = encoder.encode(version, now, plan_points(points, now, now + timedelta(hours=horizon_h)))
                conn.execute(
                    "INSERT INTO plan_pushes (lamp_id, version, plan) VALUES (%s, %s, %s)",
                    (lamp.lamp_id, version, payload.decode()),
                )
                conn.commit()
                client.publish(topics.plan(lamp.lamp_id), payload, qos=1, retain=True).wait_for_publish(30)
                conn.execute(
                    "UPDATE plan_pushes SET pushed_at = now(), attempts = attempts + 1 WHERE lamp_id = %s"
                    " AND version = %s",
                    (lamp.lamp_id, version),
                )
                conn.commit()
            return (time.monotonic() - started) / len(lamps)
    finally:
        client.disconnect()
        client.loop_stop()


# --- the run -----------------------------------------------------------------------------------
@dataclass
class Phase:
    name: str
    lamps: int
    resolve_s: float
    compare_s: float
    record_s: float
    publish_s: float
    pushed_s: float  # from the start (change commit) until the last new version was taken by the broker
    acked_s: float  # ... until the last answer was stored
    cores: dict[str, float]


def wait_phase(
    watcher: Watcher, version: int, lamps: int, since: float, progress: Progress, stall_s: float = 120
) -> tuple[float, float]:
    """Seconds after `since` until every lamp's `version` is pushed, and until it is answered."""
    pushed_s: float | None = None
    acked_s: float | None = None
    last, last_change = -1, time.monotonic()
    while acked_s is None:
        pushed, answered = watcher.row(
            "SELECT count(*) FILTER (WHERE pushed_at IS NOT NULL), count(*) FILTER (WHERE ack_status IS NOT NULL)"
            " FROM plan_pushes WHERE version = %s",
            (version,),
        )
        now = time.monotonic()
        if pushed_s is None and pushed >= lamps:
            pushed_s = now - since
        if answered >= lamps:
            acked_s = now - since
        if pushed + answered != last:
            last, last_change = pushed + answered, now
        elif now - last_change > stall_s:
            raise BenchmarkError(f"stalled: {pushed} pushed, {answered} answered of {lamps} (version {version})")
        progress.update(f"version {version}: {pushed:,} pushed, {answered:,} answered of {lamps:,}")
        time.sleep(0.2)
    if pushed_s is None:
        raise BenchmarkError(f"version {version} was answered by every lamp before it was seen pushed to all")
    progress.done(f"version {version}: pushed after {pushed_s:.1f} s, answered after {acked_s:.1f} s")
    return pushed_s, acked_s


def _start_ingester(url: str, mqtt_url: str, prefix: str, rid: str, log_dir: Path) -> ServiceProcess:
    env = service_env(
        STREETLIGHT_DATABASE_URL=url,
        STREETLIGHT_MQTT_URL=mqtt_url,
        STREETLIGHT_TOPIC_PREFIX=prefix,
        STREETLIGHT_INGEST_CLIENT_ID=f"bench-dim-ingest-{rid}",
    )
    return start_service("ingester", ["ingest"], env, log_dir / "ingest.log")


def _make_scheduler(url: str, args: argparse.Namespace, prefix: str, rid: str) -> PlanScheduler:
    from dimming.scheduler import PlanScheduler, SchedulerOptions

    return PlanScheduler(
        SchedulerOptions(
            database_url=url,
            broker=BrokerConfig.from_url(args.mqtt_url),
            topic_prefix=prefix,
            client_id=f"bench-dim-plans-{rid}",
            horizon_hours=args.horizon,
            town_timezone=TIMEZONE,
            check_interval_s=3600,
            retry_check_s=3600,  # nothing is retried while measuring
            name=f"benchmark-{rid}",
        )
    )


@dataclass
class Measuring:
    """What every phase is measured with."""

    scheduler: PlanScheduler
    watcher: Watcher
    groups: dict[str, list[int]]  # processes whose processor time is shown, by name
    lamps: int
    progress: Progress


def _measure_phase(name: str, version: int, start_phase: Callable[[], object], m: Measuring) -> Phase:
    """Start a phase, wait until every lamp has answered its new version; the scheduler's figures and the cores."""
    scheduler = m.scheduler
    meter = CpuMeter(m.groups)
    own_cpu_s = process_cpu_s(os.getpid())
    since = time.monotonic()
    start_phase()
    pushed_s, acked_s = wait_phase(m.watcher, version, m.lamps, since, m.progress)
    meter.stop()
    wait_until(lambda: scheduler.cycles >= version, 60, "the scheduler's cycle to end")
    result = scheduler.last_result
    if result is None:
        raise BenchmarkError("the scheduler ended a cycle without a result")
    own_s = process_cpu_s(os.getpid()) - own_cpu_s
    cores = {"scheduler": own_s / (time.monotonic() - since)} | dict(meter.cores)
    cores["everything else"] = meter.untracked
    return Phase(
        name,
        result.lamps,
        result.resolve_s,
        result.compare_s,
        result.record_s,
        result.publish_s,
        pushed_s,
        acked_s,
        cores,
    )


def _process_pid(process: BaseProcess) -> int:
    if process.pid is None:
        raise BenchmarkError(f"{process.name} has not started")
    return process.pid


def run(args: argparse.Namespace) -> list[Phase]:
    """The whole benchmark in a fresh database; its phases, also printed as a table."""
    rid = run_id()
    prefix = f"bench/dim-{rid}/v1"
    with fresh_database(args.admin_url, f"bench_dimming_{rid}") as url, tempfile.TemporaryDirectory() as tmp:
        say(f"town of {args.lamps:,} lamps in database bench_dimming_{rid}, topics under {prefix}")
        started = time.monotonic()
        profile_id = load_town(url, args.lamps, args.seed)
        say(f"town loaded in {time.monotonic() - started:.1f} s")
        ingester = _start_ingester(url, args.mqtt_url, prefix, rid, Path(tmp))
        context = multiprocessing.get_context("spawn")
        ready, stop, results = context.Event(), context.Event(), context.Queue()
        controllers = context.Process(
            target=_controllers_main,
            args=(args.mqtt_url, prefix, args.lamps, args.seed, f"bench-dim-ctrl-{rid}", ready, stop, results),
        )
        controllers.start()
        scheduler = _make_scheduler(url, args, prefix, rid)
        phases: list[Phase] = []
        try:
            wait_until(ingester.subscribed, 60, "the ingester")
            if not ready.wait(180):
                raise BenchmarkError("the simulated controllers did not connect")
            say("ingester and simulated controllers connected")
            groups = {
                "ingester": [ingester.process.pid],
                "controllers": [_process_pid(controllers)],
                "broker": broker_pids(args.mqtt_url),
                "database": database_server_pids(url),
            }
            with Watcher(url) as watcher:
                measuring = Measuring(scheduler, watcher, groups, args.lamps, Progress())
                phases.append(_measure_phase("first plans", 1, scheduler.start, measuring))
                change = partial(change_town_profile, url, profile_id)
                phases.append(_measure_phase("town-wide change", 2, change, measuring))
            scheduler.stop()
            say(f"baseline: one lamp at a time, on {args.sample} lamps ...")
            per_lamp_s = baseline_per_lamp_s(url, args.mqtt_url, prefix, args.sample, args.horizon)
        finally:
            scheduler.stop()
            stop.set()
            controllers.join(60)
            summary = results.get(timeout=5) if not results.empty() else None
            ingester.stop()
            clear_retained(args.mqtt_url, prefix, args.lamps, args.seed)
        report(args, url, phases, per_lamp_s, summary)
    return phases


def clear_retained(mqtt_url: str, prefix: str, lamps: int, seed: int) -> None:
    """Remove this run's retained plans from the broker."""
    from simulators.town import generate_town

    topics = Topics(prefix)
    client, broker = mqtt_client(mqtt_url, f"bench-dim-clean-{uuid.uuid4().hex[:6]}")
    client.connect(broker.host, broker.port)
    client.loop_start()
    info = None
    for lamp in generate_town(lamps, seed=seed):
        info = client.publish(topics.plan(lamp.lamp_id), b"", qos=1, retain=True)
        if info.mid % 5000 == 0:
            info.wait_for_publish(60)
    if info:
        info.wait_for_publish(60)
    client.disconnect()
    client.loop_stop()


def _phase_row(phase: Phase) -> tuple[str, ...]:
    return (
        phase.name,
        f"{phase.lamps:,}",
        f"{phase.resolve_s:.1f}",
        f"{phase.compare_s:.1f}",
        f"{phase.record_s:.1f}",
        f"{phase.publish_s:.1f}",
        f"{phase.pushed_s:.1f}",
        f"{phase.acked_s:.1f}",
        f"{phase.lamps / phase.pushed_s:,.0f}",
        "met" if phase.pushed_s < TARGET_PUSH_S else "missed",
    )


def report(
    args: argparse.Namespace, url: str, phases: list[Phase], per_lamp_s: float, summary: dict[str, int] | None
) -> None:
    say("")
    for label, value in describe_machine(url, args.mqtt_url):
        say(f"{label:>11}: {value}")
    say("")
    rows = [_phase_row(phase) for phase in phases]
    rows.append(
        (f"baseline: one lamp at a time ({args.sample} lamps)", f"{args.lamps:,}", "", "", "", "",
         f"{per_lamp_s * args.lamps:.0f} (extrapolated)", "", f"{1 / per_lamp_s:,.0f}", "")
    )  # fmt: skip
    say(
        format_table(
            ["Run", "Lamps", "Resolve s", "Compare s", "Record s", "Publish s", "All pushed s", "All answered s",
             "Pushed/s", f"< {TARGET_PUSH_S:.0f} s"],
            rows,
            right=[False, True, True, True, True, True, True, True, True, False],
        )
    )  # fmt: skip
    say("")
    for phase in phases:
        cores = ", ".join(f"{name} {value:.2f}" for name, value in phase.cores.items())
        say(f"cores during {phase.name} (until all answered): {cores}")
    if summary:
        say(f"controllers: {summary['applied']:,} plans applied, {summary['rejected']:,} rejected")
    if phases:
        say(f"speed-up of the scheduler over the baseline: {per_lamp_s * args.lamps / phases[-1].pushed_s:.0f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--admin-url", default=default_timescale_url())
    parser.add_argument("--mqtt-url", default=DEFAULT_MQTT_URL)
    parser.add_argument("--lamps", type=int, default=100_000)
    parser.add_argument("--horizon", type=int, default=72, help="plan horizon in hours (the service's default)")
    parser.add_argument("--sample", type=int, default=300, help="lamps pushed one at a time for the baseline")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        run(args)
    except BenchmarkError as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
