"""The city benchmark on a small town: what it builds and keeps, the server's memory, the table."""

from __future__ import annotations

import os

from benchmarks.city.build import city, database_name
from benchmarks.city.memory import RssSampler, tree_rss_bytes
from benchmarks.city.report import Row, table
from benchmarks.city.requests import Timing
from benchmarks.common import drop_database
from core import db

LAMPS = 120


def test_the_city_holds_its_town_a_day_of_readings_and_a_plan_per_lamp_and_is_kept(admin_urls):
    admin = admin_urls["timescale"]
    try:
        built = city(admin, LAMPS, days=1, loaders=1, seed=3, rebuild=True)
        assert built.built_s is not None
        with db.connect(built.url) as conn:
            counts = conn.execute(
                """SELECT (SELECT count(*) FROM lamps), (SELECT count(DISTINCT ts) FROM readings),
                          (SELECT count(DISTINCT lamp_id) FROM readings), (SELECT count(*) FROM lamp_status),
                          (SELECT count(*) FROM plan_pushes WHERE ack_status = 'applied'),
                          (SELECT count(*) FROM api_tokens)"""
            ).fetchone()
            lamp_ids = [row[0] for row in conn.execute("SELECT lamp_id FROM lamps ORDER BY lamp_id")]
        # Every lamp, every 10 minutes of the day (the simulator reports each step), one plan each.
        assert counts == (LAMPS, 144, LAMPS, LAMPS, LAMPS, 1)
        assert lamp_ids[0] == "L001" and lamp_ids[-1] == "L120"  # one width: the COPY rows have a fixed layout
        again = city(admin, LAMPS, days=1, loaders=1, seed=3, rebuild=False)
        assert again.built_s is None
        assert (again.url, again.first_ts, again.last_ts, again.token) == (
            built.url,
            built.first_ts,
            built.last_ts,
            built.token,
        )
    finally:
        drop_database(admin, database_name(LAMPS, 1))


def test_the_memory_of_a_process_is_sampled_until_the_end():
    with RssSampler(os.getpid(), interval_s=0.01) as rss:
        ballast = bytearray(64 * 2**20)
        ballast[::4096] = b"x" * len(ballast[::4096])  # touched, so resident
        peak_while_held = rss.sample()
        del ballast
    assert rss.peak_bytes >= peak_while_held >= 64 * 2**20
    assert 0 < rss.last_bytes <= rss.peak_bytes
    assert tree_rss_bytes(2**22 + 1) == 0  # no such process


def test_the_table_judges_the_median_against_the_target_beside_the_floor():
    floor = Timing("floor: GET /api/v1/auth/me (token check)", 0.003, 0.004, 0.004, None, 110, floor=True)
    timings = [
        floor,
        Timing("fleet map, every lamp", 1.5, 2.5, 2.5, 2.0, 7 * 2**20),
        Timing("predictions list", 1.2, 1.3, 1.2, 1.0, 100 * 1024),
        Timing("energy page, a month", 0.0, 0.0, 0.0, 1.0, 0, error="500 no such table"),
    ]
    database_floor = Timing("floor: SELECT count(*) FROM lamps", 0.02, 0.03, 0.03, None, 8, floor=True)
    rows = Row.of_requests(database_floor, timings)
    assert [(r.what, r.floor, r.target, r.verdict) for r in rows] == [
        ("floor: SELECT count(*) FROM lamps", "", "", ""),
        ("floor: GET /api/v1/auth/me (token check) (0 KiB)", "", "", ""),
        ("fleet map, every lamp (7,168 KiB)", "3 ms", "< 2.0 s", "met"),
        ("predictions list (100 KiB)", "3 ms", "< 1.0 s", "MISSED"),
        ("energy page, a month", "", "", "not measured"),
    ]
    assert rows[2].measured == "1.5 s (max 2.5 s, first 2.5 s)"
    lines = table(rows).splitlines()
    assert lines[0].split()[:2] == ["what", "measured:"] and len(lines) == 2 + len(rows)
