"""The advisory lock that makes a scheduled job run on one replica at a time."""

from __future__ import annotations

import psycopg
import pytest

from core import db


def _free(url: str, name: str) -> bool:
    """Whether another session could take the lock now (it lets it go at once)."""
    with db.connect(url) as other, db.job_lock(other, name) as taken:
        return taken


def test_the_lock_is_held_through_the_blocks_commits_and_rollbacks_and_let_go_after(timescale_url):
    with db.connect(timescale_url) as conn:
        with db.job_lock(conn, "retention 2026-12-07") as taken:
            assert taken
            conn.execute("SELECT 1")
            conn.rollback()
            conn.execute("SELECT 1")
            conn.commit()
            assert not _free(timescale_url, "retention 2026-12-07")
            assert _free(timescale_url, "retention 2026-12-08")  # another name, another lock
        assert conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert _free(timescale_url, "retention 2026-12-07")


def test_a_block_that_raises_has_its_writes_rolled_back_and_lets_the_lock_go(timescale_url):
    with db.connect(timescale_url) as conn:
        conn.execute("CREATE TABLE job_probe (note text)")
        conn.commit()
        with pytest.raises(RuntimeError), db.job_lock(conn, "job") as taken:
            assert taken
            conn.execute("INSERT INTO job_probe VALUES ('half done')")
            raise RuntimeError("the job failed")
        assert _free(timescale_url, "job")
        assert conn.execute("SELECT count(*) FROM job_probe").fetchone()[0] == 0


def test_a_failed_statement_in_the_block_does_not_keep_the_lock(timescale_url):
    with db.connect(timescale_url) as conn:
        with db.job_lock(conn, "job") as taken:
            assert taken
            with pytest.raises(psycopg.errors.UndefinedTable):
                conn.execute("SELECT * FROM no_such_table")
        assert _free(timescale_url, "job")
