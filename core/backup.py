"""Backups of the service's database: pg_dump's custom format out, pg_restore back in.

Where the database has TimescaleDB, a restore follows TimescaleDB's documented procedure
for pg_dump and pg_restore: a database created with the extension at the version the
backup was made with, `timescaledb_pre_restore()` before pg_restore and
`timescaledb_post_restore()` after, and no parallel restore (TimescaleDB's catalog does
not come back right with `pg_restore -j`). Without TimescaleDB it is a plain restore.

Where to find the tools, their command lines and reading their output are pure and live
in `core.pgdump`; this module runs them.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import db
from core.pgdump import (
    CLIENT_PACKAGES,
    ArchiveInfo,
    BackupError,
    Connection,
    ToolOutput,
    check_server_not_older,
    dump_command,
    list_command,
    parse_archive_list,
    parse_timescaledb_version,
    parse_tool_major,
    restore_command,
    server_major_of,
    size_text,
    timescaledb_metadata_command,
    tool_candidates,
)

__all__ = ["BackupError", "BackupResult", "RestoreResult", "back_up", "check_timescaledb_available", "restore"]

Report = Callable[[str], None]

# ---------------------------------------------------------------------------- running the tools


@dataclass(frozen=True, slots=True)
class Tool:
    path: Path
    major: int


def find_tool(tool: str, server_major: int, bin_dir: Path | None = None) -> Tool:
    """The first `tool` at least as new as the server: an older pg_dump refuses a newer
    server, and an older pg_restore cannot read a newer pg_dump's archive."""
    seen: list[str] = []
    for path in tool_candidates(tool, server_major, bin_dir, shutil.which(tool)):
        if not path.is_file():
            continue
        try:
            answer = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired) as exc:
            seen.append(f"{path} ({getattr(exc, 'strerror', None) or 'no answer to --version'})")
            continue
        major = parse_tool_major(answer.stdout)
        if major is None:
            seen.append(f"{path} (no version: {answer.stderr.strip()[:200]})")
        elif major < server_major:
            seen.append(f"{path} (version {major})")
        else:
            return Tool(path, major)
    where = str(bin_dir) if bin_dir is not None else f"/usr/lib/postgresql/{server_major}/bin, PATH"
    found = f"; found only {', '.join(seen)}" if seen else ""
    raise BackupError(
        f"no {tool} of PostgreSQL {server_major} or newer (looked in {where}{found}); the server runs"
        f" PostgreSQL {server_major}: install its client tools ({CLIENT_PACKAGES.format(major=server_major)}),"
        " or name their directory with --bin-dir"
    )


def _run_quiet(command: list[str]) -> str:
    done = subprocess.run(command, capture_output=True, text=True, errors="replace")
    if done.returncode != 0:
        raise BackupError(f"{Path(command[0]).name} failed: {done.stderr.strip()[-800:]}")
    return done.stdout


class _Progress:
    """A line at most every `interval_s` while a tool runs, and how long it took."""

    def __init__(self, report: Report, interval_s: float, describe: Callable[[], str]) -> None:
        self.report, self.interval_s, self.describe = report, interval_s, describe
        self.started = self.last = time.monotonic()

    def tick(self) -> None:
        now = time.monotonic()
        if now - self.last >= self.interval_s:
            self.last = now
            self.report(f"  {self.describe()}, {now - self.started:.0f} s")

    @property
    def elapsed_s(self) -> float:
        return time.monotonic() - self.started


def _run_tool(command: list[str], env: dict[str, str], output: ToolOutput, progress: _Progress, report: Report) -> None:
    """Run a tool, reading its stderr line by line; raise BackupError with its last words if it fails.

    A thread reads the lines so that progress is reported also while one large table takes
    minutes without a line.
    """
    proc = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        env=env,
    )
    stderr = proc.stderr
    assert stderr is not None
    received: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        for line in stderr:
            received.put(line)
        received.put(None)

    threading.Thread(target=read, name=f"{output.tool}-stderr", daemon=True).start()
    try:
        while True:
            try:
                line = received.get(timeout=max(progress.interval_s, 0.2))
            except queue.Empty:
                progress.tick()
                continue
            if line is None:
                break
            for shown in output.feed(line):
                report(shown)
            progress.tick()
        for shown in output.finish():
            report(shown)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: the tool must not go on writing
            proc.terminate()
            proc.wait()
    if returncode != 0:
        last = [line for line in output.recent if "error" in line.lower()] or output.recent[-5:]
        raise BackupError(f"{output.tool} failed (exit code {returncode}): {' / '.join(last)[-1500:]}")


# ---------------------------------------------------------------------------- backup


@dataclass(frozen=True, slots=True)
class BackupResult:
    path: Path
    size_bytes: int
    tables: int
    seconds: float
    server_version: str
    timescaledb_version: str | None


def back_up(
    url: str,
    out: Path,
    *,
    bin_dir: Path | None = None,
    overwrite: bool = False,
    report: Report = print,
    progress_interval_s: float = 5.0,
) -> BackupResult:
    """Write the whole database to `out` in pg_dump's custom format (compressed, for pg_restore).

    The file appears only when complete: pg_dump writes `out.partial`, renamed at the end.
    """
    if out.exists() and not overwrite:
        raise BackupError(f"{out} exists; choose another name, or pass --overwrite to replace it")
    if not out.parent.is_dir():
        raise BackupError(f"no such directory: {out.parent}")
    target = Connection.from_url(url)
    with db.connect(url) as conn:
        dbname = str(db.scalar(conn, "SELECT current_database()"))
        server_version = str(db.scalar(conn, "SHOW server_version"))
        major = server_major_of(int(db.scalar(conn, "SHOW server_version_num")))
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    timescaledb_version = row[0] if row else None
    pg_dump = find_tool("pg_dump", major, bin_dir)
    with_ts = f" with TimescaleDB {timescaledb_version}" if timescaledb_version else ""
    report(
        f"backing up database {dbname} (PostgreSQL {server_version.split()[0]}{with_ts})"
        f" to {out} with {pg_dump.path} ..."
    )
    partial = out.with_name(out.name + ".partial")
    output = ToolOutput("pg_dump")

    def describe() -> str:
        written = partial.stat().st_size if partial.exists() else 0
        return f"{output.tables} tables dumped (now {output.current or '-'}), {size_text(written)} written"

    progress = _Progress(report, progress_interval_s, describe)
    try:
        _run_tool(dump_command(pg_dump.path, target, partial), target.env(os.environ), output, progress, report)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    result = BackupResult(
        out, out.stat().st_size, output.tables, progress.elapsed_s, server_version, timescaledb_version
    )
    report(f"backup complete: {out}, {size_text(result.size_bytes)}, {result.tables} tables, {result.seconds:.1f} s")
    return result


# ---------------------------------------------------------------------------- restore


@dataclass(frozen=True, slots=True)
class RestoreResult:
    archive: ArchiveInfo
    tables: int
    seconds: float
    timescaledb_version: str | None


def _database_url(url: str, dbname: str) -> str:
    params = conninfo_to_dict(url)
    params["dbname"] = dbname
    return make_conninfo("", **params)


def _maintenance_url(url: str, target_db: str) -> str:
    """Where to connect to create or drop the target database: another database of the server."""
    return _database_url(url, "template1" if target_db == "postgres" else "postgres")


def user_relations(conn: psycopg.Connection, limit: int = 5) -> tuple[int, list[str]]:
    """How many tables and views the database holds beyond its extensions' own, and the
    first few names: what a restore would collide with."""
    count_sql = """
        SELECT count(*) OVER (), n.nspname || '.' || c.relname
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_toast%%'
          AND NOT EXISTS (SELECT 1 FROM pg_depend d
                          WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
        ORDER BY n.nspname <> 'public', 2 LIMIT %s"""
    rows = conn.execute(count_sql, (limit,)).fetchall()
    return (int(rows[0][0]) if rows else 0), [str(r[1]) for r in rows]


def _database_exists(maintenance_url: str, name: str) -> bool:
    with db.connect(maintenance_url, autocommit=True) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _create_database(maintenance_url: str, name: str, *, drop_first: bool) -> None:
    with db.connect(maintenance_url, autocommit=True) as conn:
        if drop_first:
            others = db.scalar(
                conn,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND backend_type = 'client backend'"
                " AND pid <> pg_backend_pid()",
                (name,),
            )
            if others:
                raise BackupError(
                    f"{others} other session(s) are connected to database {name}: stop the service, the ingesters"
                    " and any other client of it first"
                )
            # FORCE ends TimescaleDB's background workers, which hold a session on the database.
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        # template0: no local additions of template1 to collide with the backup's objects.
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))


def _prepare_database(url: str, target: Connection, *, replace: bool, report: Report) -> None:
    """An empty target database: created if missing, dropped and created again with `replace`,
    refused if it holds anything."""
    maintenance = _maintenance_url(url, target.dbname)
    try:
        with db.connect(url) as conn:
            count, names = user_relations(conn)
    except psycopg.OperationalError as exc:
        try:
            exists = _database_exists(maintenance, target.dbname)
        except psycopg.OperationalError:
            raise BackupError(f"cannot connect to database {target.dbname}: {exc}") from None
        if exists:
            raise BackupError(f"cannot connect to database {target.dbname}: {exc}") from None
        report(f"creating database {target.dbname} ...")
        _create_database(maintenance, target.dbname, drop_first=False)
        return
    if not count:
        return
    if not replace:
        more = ", ..." if count > len(names) else ""
        raise BackupError(
            f"database {target.dbname} is not empty ({count} tables or views: {', '.join(names)}{more});"
            " restore into a new or empty database, or pass --replace to drop this one and restore in its place"
        )
    report(f"dropping database {target.dbname} ({count} tables or views) and creating it again, empty ...")
    _create_database(maintenance, target.dbname, drop_first=True)


def check_timescaledb_available(conn: psycopg.Connection, version: str) -> None:
    """Refuse, before anything is dropped or created, a server that cannot take the backup's TimescaleDB."""
    if not db.timescaledb_loadable(conn):
        raise BackupError(
            f"the backup holds TimescaleDB {version} hypertables, but this server cannot load TimescaleDB:"
            " install it (Debian: postgresql-<major>-timescaledb) and add it to shared_preload_libraries"
        )
    available = [
        str(r[0])
        for r in conn.execute(
            "SELECT version FROM pg_available_extension_versions WHERE name = 'timescaledb' ORDER BY version"
        )
    ]
    if version not in available:
        raise BackupError(
            f"the backup was made with TimescaleDB {version}, which this server does not have"
            f" (it has {', '.join(available) or 'none'}): restore onto a server with TimescaleDB {version},"
            " then update the extension there (ALTER EXTENSION timescaledb UPDATE)"
        )


def _prepare_timescaledb(url: str, version: str, report: Report) -> None:
    """The extension at exactly the backup's version, in restore mode."""
    with db.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        if row and row[0] != version:
            # The database is empty: nothing but the extension itself goes with it.
            conn.execute("DROP EXTENSION timescaledb")
            row = None
    # A new session: TimescaleDB loads the library of the version being created.
    with db.connect(url, autocommit=True) as conn:
        if row is None:
            conn.execute(sql.SQL("CREATE EXTENSION timescaledb VERSION {}").format(sql.Literal(version)))
        conn.execute("SELECT timescaledb_pre_restore()")
    report(f"TimescaleDB {version} created in the database and put in restore mode (timescaledb_pre_restore)")


def _post_restore(url: str, report: Report) -> None:
    with db.connect(url, autocommit=True) as conn:
        conn.execute("SELECT timescaledb_post_restore()")
    report("TimescaleDB back to normal operation (timescaledb_post_restore)")


def read_archive(archive: Path, pg_restore: Tool) -> tuple[ArchiveInfo, str | None]:
    """The archive's header and entries, and the TimescaleDB version it was made with."""
    try:
        info = parse_archive_list(_run_quiet(list_command(pg_restore.path, archive)))
    except BackupError as exc:
        raise BackupError(
            f"{archive} cannot be read by {pg_restore.path} (a backup made by `streetlight db backup`, perhaps with"
            f" a newer pg_dump: then name a newer pg_restore's directory with --bin-dir): {exc}"
        ) from None
    version = None
    if info.has_timescaledb:
        version = parse_timescaledb_version(_run_quiet(timescaledb_metadata_command(pg_restore.path, archive)))
        if version is None:
            raise BackupError(f"{archive} holds TimescaleDB objects but not the version they were made with")
    return info, version


def _server_connection(url: str, target_db: str) -> psycopg.Connection:
    """A session on the target's server: on its maintenance database, or on the target itself."""
    try:
        return db.connect(_maintenance_url(url, target_db))
    except psycopg.OperationalError:
        return db.connect(url)


def restore(
    url: str,
    archive: Path,
    *,
    bin_dir: Path | None = None,
    replace: bool = False,
    report: Report = print,
    progress_interval_s: float = 5.0,
) -> RestoreResult:
    """Restore a backup made by `back_up` into the database of `url`, which must be empty or
    missing (it is created), or is dropped and created again with `replace`."""
    if not archive.is_file():
        raise BackupError(f"no such file: {archive}")
    target = Connection.from_url(url)
    if not target.dbname:
        # The name is what gets created, or dropped with --replace: never a default of libpq's.
        raise BackupError("the database URL must name the database to restore into (…/DBNAME)")
    with _server_connection(url, target.dbname) as conn:
        major = server_major_of(int(db.scalar(conn, "SHOW server_version_num")))
        pg_restore = find_tool("pg_restore", major, bin_dir)
        info, ts_version = read_archive(archive, pg_restore)
        check_server_not_older(info, major, archive)
        if ts_version:
            check_timescaledb_available(conn, ts_version)
    with_ts = f", TimescaleDB {ts_version}" if ts_version else ""
    report(
        f"restoring {archive} (database {info.dbname}, PostgreSQL {info.server_version.split()[0]}{with_ts};"
        f" {info.table_data} tables) into database {target.dbname} with {pg_restore.path} ..."
    )
    _prepare_database(url, target, replace=replace, report=report)
    output = ToolOutput("pg_restore")

    def describe() -> str:
        return (
            f"{output.tables} of {info.table_data} tables restored (now {output.current or '-'}),"
            f" {output.post_data} of {info.post_data} indexes, constraints and triggers"
        )

    progress = _Progress(report, progress_interval_s, describe)
    if ts_version:
        _prepare_timescaledb(url, ts_version, report)
    try:
        _run_tool(restore_command(pg_restore.path, target, archive), target.env(os.environ), output, progress, report)
    except BackupError as exc:
        raise BackupError(f"{exc}. Database {target.dbname} is partly restored: restore again with --replace") from None
    finally:
        if ts_version:
            _post_restore(url, report)
    result = RestoreResult(info, output.tables, progress.elapsed_s, ts_version)
    report(f"restore complete: {output.tables} tables into database {target.dbname}, {result.seconds:.1f} s")
    return result
