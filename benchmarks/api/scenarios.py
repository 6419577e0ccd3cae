"""What is asked of the API: the endpoint scenarios over the loaded town, and the clients' tokens."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import psycopg

from benchmarks.api.dataset import BENCH_USER, READING_INTERVAL
from benchmarks.api.wrk import Scenario
from benchmarks.common import BenchmarkError
from core import db


def _lamp_list_paths(conn: psycopg.Connection) -> list[str]:
    """The lamp list with a rotation of filters (state, group, connectivity, text, bounding box) and offsets."""
    groups = [row[0] for row in conn.execute("SELECT DISTINCT group_name FROM lamps ORDER BY 1")]
    streets = [row[0] for row in conn.execute("SELECT DISTINCT street FROM lamps ORDER BY 1")]
    corners = conn.execute(
        "SELECT percentile_cont(0.4) WITHIN GROUP (ORDER BY lat), percentile_cont(0.6) WITHIN GROUP (ORDER BY lat),"
        " percentile_cont(0.4) WITHIN GROUP (ORDER BY lon), percentile_cont(0.6) WITHIN GROUP (ORDER BY lon)"
        " FROM lamps"
    ).fetchone()
    if corners is None:
        raise BenchmarkError("no lamps to benchmark")
    lat0, lat1, lon0, lon1 = corners
    bbox = f"{lon0:.5f},{lat0:.5f},{lon1:.5f},{lat1:.5f}"
    word = streets[len(streets) // 2].split()[-1].lower()
    filters = [
        "",
        "state=in_service",
        "connectivity=online",
        "state=in_service&connectivity=offline",
        f"group_name={groups[len(groups) // 3]}",
        f"bbox={bbox}",
        f"q={word}",
    ]
    return [
        f"/api/v1/lamps?limit=100&offset={offset}&{f}".rstrip("&").replace(" ", "%20")
        for f in filters
        for offset in (0, 100, 500)
    ]


def scenarios(url: str, first_ts: datetime, last_ts: datetime, rng: random.Random) -> list[Scenario]:
    with db.connect(url) as conn:
        lamp_ids = [row[0] for row in conn.execute("SELECT lamp_id FROM lamps ORDER BY lamp_id")]
        lamp_list = _lamp_list_paths(conn)
    frm = (last_ts + READING_INTERVAL - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    to = (last_ts + READING_INTERVAL).isoformat().replace("+00:00", "Z")
    chart = [
        f"/api/v1/lamps/{lamp_id}/telemetry?bucket=5min&from={frm}&to={to}"
        for lamp_id in rng.sample(lamp_ids, min(2000, len(lamp_ids)))
    ]
    return [
        Scenario("GET /healthz (floor: framework)", ["/healthz"], authenticated=False, target=False, open_loop=False),
        Scenario("GET /api/v1/auth/me (floor: token check)", ["/api/v1/auth/me"], target=False, token_floor=True),
        Scenario("lamp list, limit=100, filters", lamp_list),
        Scenario("fleet summary", ["/api/v1/fleet/summary"]),
        Scenario("lamp telemetry, 24 h, 5min", chart),
        # The dashboard asks once a minute: measured closed-loop for its cost, held to no target, and not
        # offered the open-loop rate, which is far beyond what one answer of every lamp is for.
        Scenario("fleet map, every lamp (dashboard)", ["/api/v1/fleet/map"], target=False, open_loop=False),
    ]


def issue_tokens(url: str, count: int) -> list[str]:
    """One bearer token per client, so that concurrent requests rarely write the same token row."""
    from accounts import create_token, get_user

    with db.connect(url) as conn:
        user = get_user(conn, BENCH_USER)
        if user is None:
            raise BenchmarkError(f"no user {BENCH_USER} in the benchmark database: --reload rebuilds it")
        # The benchmark user's tokens of earlier runs go: each run issues its own.
        conn.execute("DELETE FROM api_tokens WHERE user_id = %s", (user.user_id,))
        tokens = [create_token(conn, user.user_id, f"bench {i}") for i in range(count)]
        conn.commit()
    return tokens
