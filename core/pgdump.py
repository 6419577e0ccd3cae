"""pg_dump and pg_restore without running them: where to look for them, their command lines,
and what their output says. Pure, so that `core.backup` only runs what is built here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict, make_conninfo

# TimescaleDB's catalog tables refer to each other; pg_dump warns of the cycle on every
# backup, and TimescaleDB's documentation says these messages can be ignored.
TIMESCALEDB_CYCLE_TABLES = frozenset({"hypertable", "chunk", "continuous_agg"})
HARMLESS_NOTICES = ("hypertable data are in the chunks, no data will be copied",)
CLIENT_PACKAGES = (
    "Debian/Ubuntu: postgresql-client-{major} (from apt.postgresql.org where the release lacks it);"
    " RHEL/Fedora: postgresql{major} from the PGDG repository; Alpine: postgresql{major}-client;"
    " macOS: Homebrew postgresql@{major}"
)


class BackupError(Exception):
    """A backup or restore that cannot go on, in one line the user can act on."""


def tool_candidates(tool: str, server_major: int, bin_dir: Path | None, on_path: str | None) -> list[Path]:
    """Where to look for `tool`, best first: the directory given, else the server's major
    version's own directory (Debian's and PGDG's layouts), then the one on PATH."""
    if bin_dir is not None:
        return [bin_dir / tool]
    found = [
        Path(f"/usr/lib/postgresql/{server_major}/bin") / tool,
        Path(f"/usr/pgsql-{server_major}/bin") / tool,
    ]
    if on_path:
        found.append(Path(on_path))
    return found


_TOOL_VERSION = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?")


def parse_tool_major(version_output: str) -> int | None:
    """17 from `pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)`; 9 from `... 9.6.24`."""
    match = _TOOL_VERSION.search(version_output)
    return int(match.group(1)) if match else None


def server_major_of(server_version_num: int) -> int:
    """17 from 170012 (`SHOW server_version_num`); 9 from 90624, whose major was 9.6."""
    return server_version_num // 10000


@dataclass(frozen=True, slots=True)
class Connection:
    """A libpq connection string without the password, which goes in PGPASSWORD instead
    (a command line is visible to every user of the machine)."""

    conninfo: str
    password: str | None
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> Connection:
        params = conninfo_to_dict(url)
        password = params.pop("password", None)
        dbname = str(params.get("dbname") or "")
        return cls(make_conninfo("", **params), str(password) if password is not None else None, dbname)

    def env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The tool's environment: `base` (the caller's), with the password if the URL had one."""
        env = dict(base)
        if self.password is not None:
            env["PGPASSWORD"] = self.password
        return env


def dump_command(pg_dump: Path, target: Connection, out: Path) -> list[str]:
    return [
        str(pg_dump),
        "--format=custom",
        "--verbose",
        "--no-password",
        f"--file={out}",
        f"--dbname={target.conninfo}",
    ]


def list_command(pg_restore: Path, archive: Path) -> list[str]:
    return [str(pg_restore), "--list", str(archive)]


def timescaledb_metadata_command(pg_restore: Path, archive: Path) -> list[str]:
    """The archive's copy of TimescaleDB's metadata table, as SQL on stdout."""
    return [
        str(pg_restore),
        "--data-only",
        "--schema=_timescaledb_catalog",
        "--table=metadata",
        "--file=-",
        str(archive),
    ]


def restore_command(pg_restore: Path, target: Connection, archive: Path) -> list[str]:
    # No --jobs: TimescaleDB's catalog is not restored correctly in parallel.
    # --no-owner: the objects belong to the user the service connects as.
    return [
        str(pg_restore),
        "--verbose",
        "--exit-on-error",
        "--no-owner",
        "--no-password",
        f"--dbname={target.conninfo}",
        str(archive),
    ]


@dataclass(frozen=True, slots=True)
class ArchiveInfo:
    dbname: str
    server_version: str  # "Dumped from database version"
    dump_version: str  # "Dumped by pg_dump version"
    has_timescaledb: bool
    table_data: int  # TABLE DATA entries: tables whose rows the archive holds
    post_data: int  # indexes, constraints and triggers built after the data

    @property
    def server_major(self) -> int | None:
        match = re.match(r"(\d+)", self.server_version)
        return int(match.group(1)) if match else None


_POST_DATA_KINDS = (" INDEX ", " CONSTRAINT ", " FK CONSTRAINT ", " TRIGGER ")


def parse_archive_list(listing: str) -> ArchiveInfo:
    """What `pg_restore --list` says of an archive: its header and how many entries of each kind."""
    header: dict[str, str] = {}
    has_timescaledb = False
    table_data = post_data = 0
    for line in listing.splitlines():
        if line.startswith(";"):
            key, sep, value = line[1:].strip().partition(":")
            if sep:
                header[key.strip()] = value.strip()
            continue
        entry = f" {line} "
        if " EXTENSION - timescaledb " in entry:
            has_timescaledb = True
        elif " TABLE DATA " in entry:
            table_data += 1
        elif any(kind in entry for kind in _POST_DATA_KINDS):
            post_data += 1
    if "Dumped by pg_dump version" not in header:
        raise BackupError("not a pg_dump archive in custom format (no header in `pg_restore --list`)")
    return ArchiveInfo(
        dbname=header.get("dbname", ""),
        server_version=header.get("Dumped from database version", ""),
        dump_version=header["Dumped by pg_dump version"],
        has_timescaledb=has_timescaledb,
        table_data=table_data,
        post_data=post_data,
    )


def check_server_not_older(info: ArchiveInfo, server_major: int, archive: Path) -> None:
    """pg_dump's output is meant for the same PostgreSQL version or a newer one, never an older."""
    if info.server_major is not None and info.server_major > server_major:
        raise BackupError(
            f"{archive} is a backup of PostgreSQL {info.server_version}; this server runs PostgreSQL"
            f" {server_major}: restore it onto a server of the same version or newer"
        )


def parse_timescaledb_version(metadata_sql: str) -> str | None:
    """The `timescaledb_version` row of the metadata table's COPY block, as pg_restore prints it."""
    for line in metadata_sql.splitlines():
        fields = line.split("\t")
        if len(fields) >= 2 and fields[0] == "timescaledb_version":
            return fields[1]
    return None


@dataclass(slots=True)
class ToolOutput:
    """Sorts the stderr lines of pg_dump or pg_restore run with --verbose: progress lines
    counted, TimescaleDB's documented harmless warnings dropped, every other warning and
    error kept for the user."""

    tool: str
    tables: int = 0  # table contents dumped or restored
    current: str = ""  # the table being dumped or restored
    post_data: int = 0  # indexes, constraints, triggers created
    shown: list[str] = field(default_factory=list)  # for the user, as they come
    recent: list[str] = field(default_factory=list)  # the last lines, for an error report
    _block: list[str] = field(default_factory=list)  # a multi-line warning being read
    _harmless_block: bool = False
    _cycle: bool = False  # the block is pg_dump's warning of circular foreign keys

    def feed(self, line: str) -> list[str]:
        """Take one line; return the lines to show the user now."""
        line = line.rstrip("\n")
        self.recent = [*self.recent[-19:], line]
        prefix = f"{self.tool}: "
        body = line[len(prefix) :] if line.startswith(prefix) else line
        if self._block and body.startswith(("detail:", "hint:", "DETAIL:", "HINT:", "Command was:", " ", "\t")):
            self._block.append(line)
            if self._cycle and not body.startswith(("hint:", "HINT:")) and not self._names_catalog(body):
                self._harmless_block = False
            return []
        out = self._flush()
        if body.startswith(("dumping contents of table", "processing data for table")):
            self.tables += 1
            self.current = body.rsplit(" ", 1)[-1].strip('"')
        elif body.startswith(("creating INDEX", "creating CONSTRAINT", "creating FK CONSTRAINT", "creating TRIGGER")):
            self.post_data += 1
        elif "circular foreign-key constraints" in body:
            # Harmless only while every table it names is one of TimescaleDB's catalog.
            self._block, self._harmless_block, self._cycle = [line], True, True
        elif any(notice in body for notice in HARMLESS_NOTICES):
            self._block, self._harmless_block = [line], True
        elif body.startswith(("warning:", "error:", "WARNING:", "ERROR:", "NOTICE:", "FATAL:")):
            self._block = [line]
        return out

    def finish(self) -> list[str]:
        return self._flush()

    def _flush(self) -> list[str]:
        block, harmless = self._block, self._harmless_block
        self._block, self._harmless_block, self._cycle = [], False, False
        if not block or harmless:
            return []
        self.shown.extend(block)
        return block

    @staticmethod
    def _names_catalog(body: str) -> bool:
        """Whether a line of the cycle warning (`detail: a, b` or an indented list) names only
        TimescaleDB's catalog tables."""
        listed = body.split(":", 1)[1] if body.lower().startswith("detail:") else body
        tables = listed.replace(",", " ").split()
        return bool(tables) and all(name.split(".")[-1] in TIMESCALEDB_CYCLE_TABLES for name in tables)


def size_text(n_bytes: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n_bytes < 1000 or unit == "GB":
            return f"{n_bytes:.0f} {unit}" if unit == "B" else f"{n_bytes:.1f} {unit}"
        n_bytes /= 1000
    raise AssertionError("unreachable")


def feed_all(output: ToolOutput, text: Iterable[str]) -> list[str]:
    """Every line `output` would show of `text`, in order."""
    shown: list[str] = []
    for line in text:
        shown.extend(output.feed(line))
    shown.extend(output.finish())
    return shown
