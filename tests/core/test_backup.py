"""`streetlight db backup` and `db restore` against the real servers: every row back.

The TimescaleDB server is PostgreSQL 17 and needs pg_dump 17. Where the machine has no
/usr/lib/postgresql/17/bin (Debian 12, where scripts/timescaledb runs the server in a
Debian 13 root), the tools are taken from that root, run by the root's own loader.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import backup, db
from tests.conftest import drop_database, fresh_database
from tests.core import backup_data
from tests.helpers import run_cli


def _server_major(admin_url: str) -> int:
    with db.connect(admin_url) as conn:
        return int(db.scalar(conn, "SHOW server_version_num")) // 10000


def _timescaledb_root() -> Path:
    """Where scripts/timescaledb keeps its Debian 13 root (same rule as the script)."""
    cache = os.environ.get("STREETLIGHT_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "streetlight"
    )
    return Path(cache).resolve() / "timescaledb-trixie"


def _wrappers_from_root(root: Path, major: int, into: Path) -> Path:
    """pg_dump and pg_restore of `root`, each run by the root's dynamic loader and libraries,
    since the host's C library may be older than the one they were built against."""
    loaders = sorted(root.glob("lib*/ld-linux*.so.*")) + sorted(root.glob("usr/lib*/ld-linux*.so.*"))
    triplets = sorted(p.name for p in (root / "usr/lib").glob("*-linux-gnu*") if p.is_dir())
    if not loaders or not triplets:
        pytest.fail(f"no dynamic loader or library directory found in {root}")
    library_path = ":".join(f"{root}/lib/{t}:{root}/usr/lib/{t}" for t in triplets)
    into.mkdir(parents=True, exist_ok=True)
    for tool in ("pg_dump", "pg_restore"):
        wrapper = into / tool
        real = root / f"usr/lib/postgresql/{major}/bin/{tool}"
        wrapper.write_text(f'#!/bin/sh\nexec "{loaders[0]}" --library-path "{library_path}" "{real}" "$@"\n')
        wrapper.chmod(0o755)
    return into


@pytest.fixture(scope="session")
def client_tools(tmp_path_factory: pytest.TempPathFactory, admin_urls) -> dict[str, Path | None]:
    """Per backend: the --bin-dir to pass, or None where the lookup of `core.backup` finds them."""
    found: dict[str, Path | None] = {}
    for backend in ("timescale", "postgres"):
        major = _server_major(admin_urls[backend])
        if Path(f"/usr/lib/postgresql/{major}/bin/pg_dump").is_file():
            found[backend] = None
            continue
        root = _timescaledb_root()
        if not (root / f"usr/lib/postgresql/{major}/bin/pg_dump").is_file():
            pytest.fail(f"no pg_dump of PostgreSQL {major}: install postgresql-client-{major}")
        found[backend] = _wrappers_from_root(root, major, tmp_path_factory.mktemp(f"pg{major}-bin"))
    return found


def _url_of(admin_url: str, name: str) -> str:
    params = conninfo_to_dict(admin_url)
    params["dbname"] = name
    return make_conninfo("", **params)


@pytest.fixture
def restore_target(storage_backend: str, admin_urls) -> Iterator[str]:
    """The URL of a database that does not exist yet (the restore creates it); dropped afterwards."""
    name = f"sl_test_{uuid.uuid4().hex[:12]}"
    yield _url_of(admin_urls[storage_backend], name)
    drop_database(admin_urls[storage_backend], name)


@pytest.fixture(params=["timescale", "postgres"])
def storage_backend(request: pytest.FixtureRequest) -> str:
    # The embedded server has no client tools of its own version beside it.
    return request.param


@pytest.fixture
def filled(storage_backend: str, admin_urls) -> Iterator[str]:
    admin = admin_urls[storage_backend]
    name, url = fresh_database(admin)
    db.upgrade(url)
    backup_data.fill(url)
    yield url
    drop_database(admin, name)


def _cli(args: list[str], database_url: str) -> subprocess.CompletedProcess[str]:
    return run_cli(args, database_url, timeout_s=300)


def test_round_trip_brings_back_every_row(
    storage_backend: str, filled: str, restore_target: str, client_tools, tmp_path: Path
):
    bin_dir = client_tools[storage_backend]
    source = backup_data.fingerprint(filled)
    for table, rows in backup_data.EXPECTED_ROWS.items():
        assert source[table][0] == rows, table  # the source holds what the test means it to
    source_sequences = backup_data.sequences(filled)
    timescale = storage_backend == "timescale"
    source_chunks = backup_data.readings_chunks(filled) if timescale else []
    if timescale:
        assert len(source_chunks) == backup_data.READING_DAYS

    archive = tmp_path / "town.dump"
    said: list[str] = []
    made = backup.back_up(filled, archive, bin_dir=bin_dir, report=said.append, progress_interval_s=0)
    assert archive.is_file() and made.size_bytes == archive.stat().st_size > 0
    assert not (tmp_path / "town.dump.partial").exists()
    with db.connect(filled) as conn:
        assert made.timescaledb_version == db.storage_info(conn).timescaledb_version
    assert (made.timescaledb_version is not None) == timescale
    assert any("tables dumped" in line for line in said)  # progress
    # TimescaleDB's documented harmless warnings are not passed on; nothing else was said.
    assert not [line for line in said if "circular" in line or "hypertable data are in the chunks" in line]

    restored = backup.restore(restore_target, archive, bin_dir=bin_dir, report=said.append)
    assert restored.tables == restored.archive.table_data

    assert backup_data.fingerprint(restore_target) == source
    assert backup_data.readings_checksum(restore_target) == backup_data.readings_checksum(filled)
    assert backup_data.readings_checksum(restore_target)[0] == backup_data.READINGS
    assert backup_data.sequences(restore_target) == source_sequences
    with db.connect(restore_target) as conn:
        info = db.storage_info(conn)
        # The next row of a serial column follows the restored ones.
        conn.execute("INSERT INTO dead_letters (topic, reason, payload) VALUES ('t', 'bad_json', '\\x00')")
        new_id = db.scalar(conn, "SELECT max(id) FROM dead_letters")
    assert new_id == backup_data.EXPECTED_ROWS["dead_letters"] + 1
    if timescale:
        assert info.readings_is_hypertable
        assert backup_data.readings_chunks(restore_target) == source_chunks
        with db.connect(restore_target) as conn:
            assert db.scalar(conn, "SHOW timescaledb.restoring") == "off"  # post-restore ran
    else:
        assert info.timescaledb_version is None and not info.readings_is_hypertable

    upgraded = _cli(["db", "upgrade", "--wait", "5"], restore_target)
    assert upgraded.returncode == 0, upgraded.stderr
    assert "database schema is up to date" in upgraded.stdout
    assert "applying migration" not in upgraded.stderr
    assert backup_data.fingerprint(restore_target)["readings"] == source["readings"]
    if timescale:
        assert backup_data.readings_chunks(restore_target) == source_chunks


def test_restore_refuses_a_database_that_is_not_empty(
    storage_backend: str, filled: str, restore_target: str, client_tools, tmp_path: Path
):
    bin_dir = client_tools[storage_backend]
    archive = tmp_path / "town.dump"
    backup.back_up(filled, archive, bin_dir=bin_dir, report=lambda _: None)
    backup.restore(restore_target, archive, bin_dir=bin_dir, report=lambda _: None)
    with db.connect(restore_target) as conn:
        conn.execute("DELETE FROM work_orders WHERE lamp_id = 'L005'")  # a change the next restore would undo
        conn.commit()

    args = ["db", "restore", str(archive)] + (["--bin-dir", str(bin_dir)] if bin_dir else [])
    refused = _cli(args, restore_target)
    assert refused.returncode == 2
    assert "is not empty" in refused.stderr and "--replace" in refused.stderr
    assert backup_data.fingerprint(restore_target)["work_orders"][0] == 4  # untouched

    replaced = _cli([*args, "--replace"], restore_target)
    assert replaced.returncode == 0, replaced.stderr
    assert "restore complete" in replaced.stdout
    assert backup_data.fingerprint(restore_target) == backup_data.fingerprint(filled)


def test_replace_is_refused_while_a_client_is_connected(
    storage_backend: str, filled: str, restore_target: str, client_tools, tmp_path: Path
):
    bin_dir = client_tools[storage_backend]
    archive = tmp_path / "town.dump"
    backup.back_up(filled, archive, bin_dir=bin_dir, report=lambda _: None)
    backup.restore(restore_target, archive, bin_dir=bin_dir, report=lambda _: None)
    with psycopg.connect(restore_target) as service:
        service.execute("SELECT 1")
        with pytest.raises(backup.BackupError, match="other session"):
            backup.restore(restore_target, archive, bin_dir=bin_dir, replace=True, report=lambda _: None)
    assert backup_data.fingerprint(restore_target) == backup_data.fingerprint(filled)


def test_backup_never_overwrites_and_leaves_no_half_file(timescale_url: str, client_tools, tmp_path: Path):
    existing = tmp_path / "kept.dump"
    existing.write_bytes(b"an earlier backup")
    with pytest.raises(backup.BackupError, match="--overwrite"):
        backup.back_up(timescale_url, existing, bin_dir=client_tools["timescale"], report=lambda _: None)
    assert existing.read_bytes() == b"an earlier backup"

    # A pg_dump that fails half way: the tool itself is the unit boundary faked here.
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text(
        "#!/bin/sh\n"
        'if [ "$1" = --version ]; then echo "pg_dump (PostgreSQL) 99.1"; exit 0; fi\n'
        'for a; do case "$a" in --file=*) echo partial > "${a#--file=}";; esac; done\n'
        'echo "pg_dump: error: connection to server lost" >&2; exit 1\n'
    )
    (fake / "pg_dump").chmod(0o755)
    out = tmp_path / "new.dump"
    with pytest.raises(backup.BackupError, match="connection to server lost"):
        backup.back_up(timescale_url, out, bin_dir=fake, report=lambda _: None)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin", "kept.dump"]


def test_tools_older_than_the_server_are_refused_with_the_package_to_install(timescale_url: str, tmp_path: Path):
    old = tmp_path / "bin"
    old.mkdir()
    (old / "pg_dump").write_text('#!/bin/sh\necho "pg_dump (PostgreSQL) 15.20"\n')
    (old / "pg_dump").chmod(0o755)
    with pytest.raises(backup.BackupError, match=r"version 15.*postgresql-client-17"):
        backup.back_up(timescale_url, tmp_path / "x.dump", bin_dir=old, report=lambda _: None)
    with pytest.raises(backup.BackupError, match=r"no pg_dump of PostgreSQL 17 or newer.*postgresql-client-17"):
        backup.back_up(timescale_url, tmp_path / "x.dump", bin_dir=tmp_path / "empty", report=lambda _: None)


def test_a_newer_servers_backup_is_not_restored_into_an_older_one(
    admin_urls, timescale_url: str, client_tools, tmp_path: Path
):
    if _server_major(admin_urls["postgres"]) >= _server_major(admin_urls["timescale"]):
        # Debian 13's own PostgreSQL is 17 too; the rule itself is tested in test_pgdump.py.
        pytest.skip("the plain PostgreSQL server is not older than the TimescaleDB one here")
    archive = tmp_path / "new.dump"
    backup.back_up(timescale_url, archive, bin_dir=client_tools["timescale"], report=lambda _: None)
    name = f"sl_test_{uuid.uuid4().hex[:12]}"
    with pytest.raises(backup.BackupError, match="same version or newer"):
        backup.restore(
            _url_of(admin_urls["postgres"], name), archive, bin_dir=client_tools["timescale"], report=lambda _: None
        )
    with db.connect(admin_urls["postgres"]) as conn:
        assert conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None


def test_a_timescaledb_version_the_server_lacks_is_refused_before_anything_changes(timescale_url: str):
    with db.connect(timescale_url) as conn:
        with pytest.raises(backup.BackupError, match=r"TimescaleDB 1\.7\.1, which this server does not have"):
            backup.check_timescaledb_available(conn, "1.7.1")


def test_restore_needs_a_named_database_and_a_real_archive(
    admin_urls, timescale_url: str, client_tools, tmp_path: Path
):
    junk = tmp_path / "junk.dump"
    junk.write_bytes(b"not a backup")
    params = conninfo_to_dict(admin_urls["timescale"])
    params.pop("dbname", None)
    with pytest.raises(backup.BackupError, match="must name the database"):
        backup.restore(make_conninfo("", **params), junk, report=lambda _: None)
    with pytest.raises(backup.BackupError, match="no such file"):
        backup.restore(timescale_url, tmp_path / "missing.dump", report=lambda _: None)
    with pytest.raises(backup.BackupError, match="cannot be read"):
        backup.restore(timescale_url, junk, bin_dir=client_tools["timescale"], report=lambda _: None)
