"""`streetlight db ...` and `streetlight lamps ...`: the schema, housekeeping and the lamp inventory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import psycopg

from core import backup, db, inventory
from core.commands import AddCommand, CliError, Subparsers, require_database
from core.settings import Settings

# The tables `db info` counts, in the order it prints them.
COUNTED_TABLES = ("lamps", "readings", "events", "dead_letters", "unknown_lamps", "plan_pushes")


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `db` and `lamps` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
    db_ = sub.add_parser("db", help="Database schema and housekeeping").add_subparsers(dest="db_command", required=True)
    up = add(db_, "upgrade", cmd_db_upgrade, "Apply pending migrations (safe to run twice)")
    up.add_argument("--wait", type=float, default=30.0, help="seconds to wait for the database")
    add(db_, "info", cmd_db_info, "Show the storage backend and table sizes")
    ret = add(db_, "retention", cmd_db_retention, "Drop raw readings older than the retention period now")
    ret.add_argument("--days", type=int, help="override STREETLIGHT_RETENTION_DAYS")
    bin_help = "directory of pg_dump and pg_restore (default: the server's version's, then PATH)"
    bak = add(db_, "backup", cmd_db_backup, "Write the whole database to FILE (pg_dump, custom format)")
    bak.add_argument("file")
    bak.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    bak.add_argument("--bin-dir", type=Path, help=bin_help)
    res = add(db_, "restore", cmd_db_restore, "Restore a backup made by `db backup` into an empty or new database")
    res.add_argument("file")
    res.add_argument(
        "--replace",
        action="store_true",
        help="drop the configured database and create it again before restoring (refused while clients are connected)",
    )
    res.add_argument("--bin-dir", type=Path, help=bin_help)

    lamps = sub.add_parser("lamps", help="Lamp inventory").add_subparsers(dest="lamps_command", required=True)
    imp = add(lamps, "import", cmd_lamps_import, "Import or update lamps from CSV or GeoJSON")
    imp.add_argument("file")
    imp.add_argument("--skip-bad", action="store_true", help="import the good rows even if some are bad")
    imp.add_argument("--format", choices=["csv", "geojson"], help="default: from the file name")


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> None:
    url = require_database(settings)
    db.wait_for_database(url, timeout_s=args.wait)
    applied = db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)
    with db.connect(url) as conn:
        info = db.storage_info(conn)
    if applied:
        for m in applied:
            print(f"applied {m.version:04d}_{m.name}")
    else:
        print("database schema is up to date")
    print(describe_storage(info))


def describe_storage(info: db.StorageInfo) -> str:
    version = info.server_version.split()[0]
    if info.timescaledb_version:
        compression = "on" if info.compression_enabled else f"off (licence {info.timescaledb_license})"
        return (
            f"storage: PostgreSQL {version} with TimescaleDB {info.timescaledb_version};"
            f" readings hypertable: {'yes' if info.readings_is_hypertable else 'no'}; compression {compression}"
        )
    return f"storage: PostgreSQL {version} (no TimescaleDB; plain tables)"


def cmd_db_info(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_database(settings)) as conn:
        print(describe_storage(db.storage_info(conn)))
        for table in COUNTED_TABLES:
            # The table names are the constants above, never user input.
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
            assert row is not None
            print(f"{table:>14}: {row[0]}")


def cmd_db_retention(args: argparse.Namespace, settings: Settings) -> None:
    days = args.days or settings.retention_days
    with db.connect(require_database(settings)) as conn:
        removed = db.apply_retention(conn, days)
        kind = "chunks" if db.storage_info(conn).readings_is_hypertable else "rows"
    print(f"removed {removed} {kind} of readings older than {days} days")


def cmd_db_backup(args: argparse.Namespace, settings: Settings) -> None:
    try:
        backup.back_up(require_database(settings), Path(args.file), bin_dir=args.bin_dir, overwrite=args.overwrite)
    except (backup.BackupError, psycopg.Error) as exc:
        raise CliError(str(exc)) from None


def cmd_db_restore(args: argparse.Namespace, settings: Settings) -> None:
    try:
        backup.restore(require_database(settings), Path(args.file), bin_dir=args.bin_dir, replace=args.replace)
    except (backup.BackupError, psycopg.Error) as exc:
        raise CliError(str(exc)) from None
    print("then: `streetlight db upgrade` if this streetlight is newer than the one that made the backup")


def cmd_lamps_import(args: argparse.Namespace, settings: Settings) -> None:
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
    url = require_database(settings)
    db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)
    with db.connect(url) as conn:
        report = inventory.import_inventory(conn, parsed, skip_bad=args.skip_bad)
    print(
        f"{path}: {report.inserted} added, {report.updated} updated, {report.unchanged} unchanged,"
        f" {report.skipped} skipped, {report.commissioned} commissioned from the unknown-lamp list"
    )
