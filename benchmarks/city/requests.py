"""Single requests, one after another (not under load), each repeated: median and slowest.

Beside two floors measured in the same run: the authenticated no-op endpoint
(`/api/v1/auth/me`: the framework, the token check, one small answer) and, for the
database, a bare count of the lamps on a connection of its own.
"""

from __future__ import annotations

import functools
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

import httpx
import psycopg

from benchmarks.city.build import TOWN_TIME_ZONE, City
from benchmarks.common import BenchmarkError, say
from core import db

MAP_TARGET_S = 2.0
REQUEST_TARGET_S = 1.0


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    path: str
    target_s: float | None = REQUEST_TARGET_S
    floor: bool = False


@dataclass(frozen=True, slots=True)
class Timing:
    name: str
    median_s: float
    max_s: float
    first_s: float  # the first repetition: a cold cache, a plan not yet made
    target_s: float | None
    answer_bytes: int
    floor: bool = False
    error: str | None = None  # the answer when it was not 200 (the case is then not timed)


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def _lamps_path(**params: str) -> str:
    return "/api/v1/lamps?" + urlencode({"limit": "100", **params})


def cases(city: City) -> list[Case]:
    """Every answer measured, with filter values taken from the city (a mid-sized group, circuit, street)."""
    with db.connect(city.url) as conn:

        def middle(column: str) -> str:
            rows = conn.execute(
                f"SELECT {column} FROM lamps WHERE {column} <> '' GROUP BY 1 ORDER BY count(*), 1"
            ).fetchall()
            if not rows:
                raise BenchmarkError(f"the city's lamps have no {column}")
            return rows[len(rows) // 2][0]

        group, circuit, street = middle("group_name"), middle("circuit"), middle("street")
        corners = conn.execute(
            "SELECT percentile_cont(0.45) WITHIN GROUP (ORDER BY lon), percentile_cont(0.45) WITHIN GROUP (ORDER BY lat),"
            " percentile_cont(0.55) WITHIN GROUP (ORDER BY lon), percentile_cont(0.55) WITHIN GROUP (ORDER BY lat)"
            " FROM lamps"
        ).fetchone()
        lamp_id = conn.execute(
            "SELECT lamp_id FROM lamps ORDER BY lamp_id OFFSET %s LIMIT 1", (city.lamps // 2,)
        ).fetchone()
    assert corners is not None and lamp_id is not None  # the city has lamps: checked above
    bbox = ",".join(f"{value:.5f}" for value in corners)
    word = max(street.replace("(", " ").split(), key=len).lower()  # the street's longest word
    lamp = quote(lamp_id[0])
    chart_to = city.last_ts + timedelta(minutes=10)
    chart = urlencode({"from": _iso(chart_to - timedelta(hours=24)), "to": _iso(chart_to), "bucket": "5min"})
    month = city.last_ts.astimezone(ZoneInfo(TOWN_TIME_ZONE)).strftime("%Y-%m")
    year_ago = (city.last_ts - timedelta(days=334)).astimezone(ZoneInfo(TOWN_TIME_ZONE)).strftime("%Y-%m")
    return [
        Case("floor: GET /api/v1/auth/me (token check)", "/api/v1/auth/me", None, floor=True),
        Case("fleet map, every lamp", "/api/v1/fleet/map", MAP_TARGET_S),
        Case("fleet summary (cached after the first)", "/api/v1/fleet/summary"),
        Case("lamp list, no filter", _lamps_path()),
        Case("lamp list, no filter, offset 100,000", _lamps_path(offset=str(min(100_000, city.lamps // 2)))),
        Case("lamp list, state=faulty", _lamps_path(state="faulty")),
        Case("lamp list, state=in_service", _lamps_path(state="in_service")),
        Case(f"lamp list, group_name={group}", _lamps_path(group_name=group)),
        Case(f"lamp list, circuit={circuit}", _lamps_path(circuit=circuit)),
        Case(f"lamp list, street={street}", _lamps_path(street=street)),
        Case("lamp list, connectivity=offline", _lamps_path(connectivity="offline")),
        Case("lamp list, connectivity=unknown", _lamps_path(connectivity="unknown")),
        Case("lamp list, bbox (a tenth of the town each way)", _lamps_path(bbox=bbox)),
        Case(f"lamp list, q={word}", _lamps_path(q=word)),
        Case("lamp list, q=no-such-text", _lamps_path(q="no-such-text")),
        Case(
            "lamp list, state + connectivity + group",
            _lamps_path(state="in_service", connectivity="online", group_name=group),
        ),
        Case("one lamp's page", f"/api/v1/lamps/{lamp}"),
        Case("one lamp's 24 h chart (5min)", f"/api/v1/lamps/{lamp}/telemetry?{chart}"),
        Case("one lamp's predictions", f"/api/v1/lamps/{lamp}/predictions"),
        Case("predictions list", "/api/v1/predictions?limit=100"),
        Case("predictions list, min_probability=0.5", "/api/v1/predictions?limit=100&min_probability=0.5"),
        Case(f"predictions list, group_name={group}", f"/api/v1/predictions?limit=100&group_name={quote(group)}"),
        Case("predictions by circuit", "/api/v1/predictions/circuits?limit=100"),
        Case("events list", "/api/v1/events?limit=100"),
        Case("events list, open", "/api/v1/events?limit=100&open=true"),
        Case("work orders list", "/api/v1/work-orders?limit=100"),
        Case("audit list", "/api/v1/audit?limit=100"),
        Case("dead letters list", "/api/v1/dead-letters?limit=100"),
        Case("energy page, a month", f"/api/v1/energy/consumption?from={month}&to={month}"),
        Case("energy page, a year", f"/api/v1/energy/consumption?from={year_ago}&to={month}"),
        Case("dimming push status", "/api/v1/dimming/push-status?limit=100"),
        Case("dimming push status, state=stale", "/api/v1/dimming/push-status?limit=100&state=stale"),
    ]


class _NotOk(Exception):
    """An answer other than 200."""


def _timed(call: Callable[[], int], repetitions: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(repetitions):
        began = time.perf_counter()
        size = call()
        times.append(time.perf_counter() - began)
    return times, size


def measure(base_url: str, token: str, measured: list[Case], repetitions: int) -> list[Timing]:
    """Each case `repetitions` times in turn, on one kept-alive connection."""
    timings = []
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(base_url=base_url, headers=headers, timeout=300)

    def get(path: str) -> int:
        answer = client.get(path)
        if answer.status_code != 200:
            raise _NotOk(f"{answer.status_code} {answer.text[:200]}")
        return len(answer.content)

    try:
        get("/api/v1/auth/me")  # the connection made, the token cached: not the floor's first repetition
        for case in measured:
            try:
                times, size = _timed(functools.partial(get, case.path), repetitions)
            except (_NotOk, httpx.HTTPError) as exc:
                said = str(exc) if isinstance(exc, _NotOk) else f"no answer ({exc!r})"
                say(f"  {case.name}: GET {case.path} answered {said}")
                timings.append(Timing(case.name, 0.0, 0.0, 0.0, case.target_s, 0, case.floor, said[:40]))
                client.close()  # a server error may have closed the connection: the next case opens its own
                client = httpx.Client(base_url=base_url, headers=headers, timeout=300)
                continue
            timings.append(
                Timing(case.name, statistics.median(times), max(times), times[0], case.target_s, size, case.floor)
            )
    finally:
        client.close()
    return timings


def database_floor(url: str, repetitions: int) -> Timing:
    """A bare count of the lamps: what any statement over the whole inventory costs at least."""
    with db.connect(url) as conn:

        def count() -> int:
            row = conn.execute("SELECT count(*) FROM lamps").fetchone()
            conn.rollback()
            return 0 if row is None else 8

        times, _ = _timed(count, repetitions)
    return Timing("floor: SELECT count(*) FROM lamps", statistics.median(times), max(times), times[0], None, 0, True)


def explain(url: str, statement: str, params: dict | tuple | None = None) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of a statement, for looking into a miss."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS) {statement}", params).fetchall()
    return "\n".join(row[0] for row in rows)
