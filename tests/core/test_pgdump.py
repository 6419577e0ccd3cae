"""The pure half of the backups: where the tools are looked for, their command lines, their output."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.pgdump import (
    BackupError,
    Connection,
    ToolOutput,
    check_server_not_older,
    dump_command,
    feed_all,
    parse_archive_list,
    parse_timescaledb_version,
    parse_tool_major,
    restore_command,
    server_major_of,
    size_text,
    tool_candidates,
)

# Abridged from `pg_restore --list` of a backup of a migrated TimescaleDB database.
LISTING = """;
; Archive created at 2026-12-07 09:55:24 UTC
;     dbname: streetlight
;     TOC Entries: 234
;     Compression: gzip
;     Dump Version: 1.16-0
;     Format: CUSTOM
;     Dumped from database version: 17.12 (Debian 17.12-0+deb13u1)
;     Dumped by pg_dump version: 17.12 (Debian 17.12-0+deb13u1)
;
;
; Selected TOC Entries:
;
3; 3079 1789562 EXTENSION - timescaledb
4526; 0 0 COMMENT - EXTENSION timescaledb
2; 3079 1789349 EXTENSION - pg_trgm
642; 1255 1789549 FUNCTION public lamp_online_from_status() postgres
4100; 0 1789575 TABLE DATA _timescaledb_catalog hypertable postgres
4101; 0 1790000 TABLE DATA _timescaledb_internal _hyper_1_1_chunk postgres
4102; 0 1790100 TABLE DATA public lamps postgres
4278; 2606 1791074 CONSTRAINT _timescaledb_internal _hyper_1_1_chunk 1_1_readings_pkey postgres
4300; 1259 1791200 INDEX public lamps_circuit_idx postgres
4301; 2620 1791300 TRIGGER public lamps lamp_online_from_status postgres
4302; 2606 1791400 FK CONSTRAINT public api_tokens api_tokens_user_id_fkey postgres
"""

PLAIN_LISTING = """;
;     dbname: streetlight
;     Dumped from database version: 15.20 (Debian 15.20-0+deb12u1)
;     Dumped by pg_dump version: 15.20 (Debian 15.20-0+deb12u1)
;
2; 3079 16390 EXTENSION - pg_trgm
4102; 0 1790100 TABLE DATA public lamps postgres
4103; 0 1790200 TABLE DATA public readings postgres
"""

CYCLE_WARNING = [
    "pg_dump: warning: there are circular foreign-key constraints on this table:",
    "pg_dump: detail: {table}",
    "pg_dump: hint: You might not be able to restore the dump without using --disable-triggers or temporarily dropping the constraints.",
    "pg_dump: hint: Consider using a full dump instead of a --data-only dump to avoid this problem.",
]


def test_the_servers_own_version_is_looked_for_first_then_path():
    assert tool_candidates("pg_dump", 17, None, "/usr/bin/pg_dump") == [
        Path("/usr/lib/postgresql/17/bin/pg_dump"),
        Path("/usr/pgsql-17/bin/pg_dump"),
        Path("/usr/bin/pg_dump"),
    ]
    assert tool_candidates("pg_restore", 16, None, None)[-1] == Path("/usr/pgsql-16/bin/pg_restore")
    # A directory given is the only place looked at.
    assert tool_candidates("pg_dump", 17, Path("/opt/pg/bin"), "/usr/bin/pg_dump") == [Path("/opt/pg/bin/pg_dump")]


@pytest.mark.parametrize(
    ("output", "major"),
    [
        ("pg_dump (PostgreSQL) 17.12 (Debian 17.12-0+deb13u1)\n", 17),
        ("pg_restore (PostgreSQL) 15.20\n", 15),
        ("pg_dump (PostgreSQL) 9.6.24\n", 9),
        ("pg_dump (PostgreSQL) 18beta1\n", 18),
        ("something else\n", None),
    ],
)
def test_tool_major_version(output: str, major: int | None):
    assert parse_tool_major(output) == major


def test_server_major_from_version_num():
    assert server_major_of(170012) == 17
    assert server_major_of(150020) == 15


def test_the_password_never_goes_on_the_command_line():
    target = Connection.from_url("postgresql://streetlight:s3cret%20pw@db.example:5433/town?sslmode=require")
    assert target.dbname == "town"
    assert target.password == "s3cret pw"
    assert "s3cret" not in target.conninfo and "sslmode=require" in target.conninfo
    command = dump_command(Path("/usr/bin/pg_dump"), target, Path("/backups/town.dump"))
    assert not [arg for arg in command if "s3cret" in arg]
    assert "--format=custom" in command and "--file=/backups/town.dump" in command
    assert target.env({"PATH": "/usr/bin"}) == {"PATH": "/usr/bin", "PGPASSWORD": "s3cret pw"}
    assert Connection.from_url("postgresql://u@h/town").env({}) == {}


def test_restore_is_never_parallel_and_stops_at_the_first_error():
    command = restore_command(Path("pg_restore"), Connection.from_url("postgresql://u@h/town"), Path("t.dump"))
    assert "--exit-on-error" in command and "--no-owner" in command
    assert not [arg for arg in command if arg.startswith(("-j", "--jobs"))]
    assert command[-1] == "t.dump"


def test_archive_listing():
    info = parse_archive_list(LISTING)
    assert info.dbname == "streetlight"
    assert info.server_major == 17 and info.dump_version.startswith("17.12")
    assert info.has_timescaledb
    assert (info.table_data, info.post_data) == (3, 4)
    plain = parse_archive_list(PLAIN_LISTING)
    assert not plain.has_timescaledb and plain.server_major == 15 and plain.table_data == 2
    with pytest.raises(BackupError, match="not a pg_dump archive"):
        parse_archive_list("nothing useful\n")


def test_a_backup_goes_onto_the_same_postgresql_or_a_newer_one():
    of_17 = parse_archive_list(LISTING)
    check_server_not_older(of_17, 17, Path("t.dump"))
    check_server_not_older(of_17, 18, Path("t.dump"))
    with pytest.raises(BackupError, match="backup of PostgreSQL 17.12.*runs PostgreSQL 15"):
        check_server_not_older(of_17, 15, Path("t.dump"))


def test_timescaledb_version_from_the_archives_metadata():
    copy = (
        "COPY _timescaledb_catalog.metadata (key, value, include_in_telemetry) FROM stdin;\n"
        "install_timestamp\t2026-12-07 09:50:40.970642+00\tt\n"
        "timescaledb_version\t2.19.3\tf\n"
        "\\.\n"
    )
    assert parse_timescaledb_version(copy) == "2.19.3"
    assert parse_timescaledb_version("-- no rows\n") is None


def test_timescaledbs_own_warnings_are_dropped_and_counted_lines_are_progress():
    lines = [
        "pg_dump: reading extensions",
        *[line.format(table="hypertable") for line in CYCLE_WARNING],
        *[line.format(table="chunk") for line in CYCLE_WARNING],
        'pg_dump: dumping contents of table "_timescaledb_catalog.hypertable"',
        "pg_dump: NOTICE:  hypertable data are in the chunks, no data will be copied",
        "DETAIL:  Data for hypertables are stored in the chunks of a hypertable so COPY TO of a hypertable will not copy any data.",
        'HINT:  Use "COPY (SELECT * FROM <hypertable>) TO ..." to copy all data in hypertable, or copy each chunk individually.',
        'pg_dump: dumping contents of table "public.readings"',
    ]
    output = ToolOutput("pg_dump")
    assert feed_all(output, lines) == []
    assert (output.tables, output.current) == (2, "public.readings")


def test_other_warnings_and_errors_reach_the_user():
    cycle = [line.format(table="lamps, work_orders") for line in CYCLE_WARNING]
    assert feed_all(ToolOutput("pg_dump"), cycle) == cycle  # a cycle among the service's own tables

    lines = [
        'pg_restore: processing data for table "public.lamps"',
        'pg_restore: creating INDEX "public.lamps_circuit_idx"',
        'pg_restore: creating FK CONSTRAINT "public.api_tokens api_tokens_user_id_fkey"',
        "pg_restore: error: could not execute query: ERROR:  relation x does not exist",
        "Command was: SELECT 1;",
        'pg_restore: creating TRIGGER "public.lamps lamp_online_from_status"',
    ]
    output = ToolOutput("pg_restore")
    assert feed_all(output, lines) == lines[3:5]
    assert (output.tables, output.post_data) == (1, 3)


def test_sizes_read_as_people_write_them():
    assert [size_text(n) for n in (512, 95_200, 1_234_567, 7_773_544_448)] == ["512 B", "95.2 kB", "1.2 MB", "7.8 GB"]
