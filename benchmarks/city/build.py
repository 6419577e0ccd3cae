"""The city's database: the simulator's town, two days of its readings, predictions and plans.

Kept between runs under a name that says its size (`bench_city_200k_2d`), with a record
of the completed load, so that a second run measures without rebuilding. The readings
are simulated and written with the API benchmark's loader (binary COPY over parallel
connections); the town goes in with COPY too, since importing it is measured on its own
(`benchmarks.inventory_import`).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import psycopg

from benchmarks.api.dataset import READING_INTERVAL, _load_readings, _store_events_and_status
from benchmarks.common import database_url, say
from core import db

if TYPE_CHECKING:
    from simulators.town import LampSpec

ADMIN_USER = "bench-city-admin"
ADMIN_PASSWORD = "city-benchmark-admin-password"
TOWN_TIME_ZONE = "Europe/Paris"
_LAMP_COLUMNS = (
    "lamp_id, name, lat, lon, street, address, circuit, group_name, lighting_class, model, technology,"
    " rated_power_w, install_date"
)


@dataclass(frozen=True, slots=True)
class City:
    url: str
    lamps: int
    first_ts: datetime  # first and last reading time
    last_ts: datetime
    token: str  # an administrator's bearer token
    built_s: float | None  # None: the kept database was used


def database_name(lamps: int, days: int) -> str:
    size = f"{lamps // 1000}k" if lamps % 1000 == 0 else str(lamps)
    return f"bench_city_{size}_{days}d"


def city_town(lamps: int, seed: int) -> list[LampSpec]:
    """The simulator's town with ids of one width (the COPY writer's rows have a fixed layout)."""
    from simulators.town import generate_town

    width = len(str(lamps))
    return [
        dataclasses.replace(lamp, lamp_id=f"L{i + 1:0{width}d}")
        for i, lamp in enumerate(generate_town(lamps, seed=seed))
    ]


def _kept(url: str, lamps: int, days: int) -> tuple[datetime, datetime, str] | None:
    try:
        with db.connect(url) as conn:
            row = conn.execute(
                "SELECT first_ts, last_ts, token FROM bench_city WHERE lamps = %s AND days = %s", (lamps, days)
            ).fetchone()
    except psycopg.Error:
        return None
    return (row[0], row[1], row[2]) if row else None


def city(admin_url: str, lamps: int, *, days: int, loaders: int, seed: int, rebuild: bool) -> City:
    """The kept city of this size, or a new one when there is none (or `rebuild`)."""
    url = database_url(admin_url, database_name(lamps, days))
    kept = None if rebuild else _kept(url, lamps, days)
    if kept:
        say(f"using the kept database {database_name(lamps, days)} (--rebuild to build it again)")
        began = time.monotonic()
        if applied := db.upgrade(url):  # migrations added since it was built, as the service applies them
            say(f"  migrations {', '.join(m.name for m in applied)} applied in {time.monotonic() - began:.0f} s")
        return City(url, lamps, kept[0], kept[1], kept[2], None)
    began = time.monotonic()
    first_ts, last_ts, token = build(admin_url, lamps, days=days, loaders=loaders, seed=seed)
    return City(url, lamps, first_ts, last_ts, token, time.monotonic() - began)


def build(admin_url: str, lamps: int, *, days: int, loaders: int, seed: int) -> tuple[datetime, datetime, str]:
    name = database_name(lamps, days)
    say(f"building {name}: {lamps:,} lamps, {days} days of readings every {READING_INTERVAL.seconds // 60} min")
    db.create_database(admin_url, name, drop_existing=True)
    url = database_url(admin_url, name)
    db.upgrade(url)
    town = city_town(lamps, seed)
    with db.connect(url) as conn:
        _copy_lamps(conn, town)
        token = _admin_token(conn)
        conn.commit()
    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    start = end - timedelta(days=days)
    events, last_step = _load_readings(url, town, start, end, loaders, seed)
    _store_events_and_status(url, events, last_step, end)
    _store_plans(url, end)
    began = time.monotonic()
    with db.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # as autovacuum would have done: visibility map, statistics
        conn.execute(
            "CREATE TABLE bench_city (lamps integer, days integer, first_ts timestamptz, last_ts timestamptz,"
            " token text, built_at timestamptz DEFAULT now())"
        )
        conn.execute(
            "INSERT INTO bench_city (lamps, days, first_ts, last_ts, token) VALUES (%s, %s, %s, %s, %s)",
            (lamps, days, start + READING_INTERVAL, end, token),
        )
    say(f"  VACUUM ANALYZE: {time.monotonic() - began:.0f} s")
    return start + READING_INTERVAL, end, token


def _copy_lamps(conn: psycopg.Connection, town: list[LampSpec]) -> None:
    with conn.cursor().copy(f"COPY lamps ({_LAMP_COLUMNS}) FROM STDIN") as copy:
        for lamp in town:
            copy.write_row(
                (lamp.lamp_id, lamp.name, lamp.lat, lamp.lon, lamp.street, lamp.address, lamp.circuit, lamp.group,
                 lamp.lighting_class, lamp.model, lamp.technology, lamp.rated_power_w, lamp.install_date)
            )  # fmt: skip
    say(f"  lamps: {len(town):,}")


def _admin_token(conn: psycopg.Connection) -> str:
    from accounts import create_token, create_user
    from core.vocabulary import Role

    user_id = create_user(conn, ADMIN_USER, Role.ADMIN, password=ADMIN_PASSWORD)
    return create_token(conn, user_id, "city benchmark")


def _store_plans(url: str, at: datetime) -> None:
    """A town-wide profile, and every lamp's plan as applied: one lamp's plan resolved for real,
    stored for each lamp (the push itself is measured by `benchmarks.dimming`)."""
    from zoneinfo import ZoneInfo

    from benchmarks.dimming import PROFILE_V1
    from dimming import ProfileSpec, assign, create_profile, store
    from dimming.push import PlanEncoder, generation_time, plan_points
    from dimming.resolve import resolve_plans

    horizon_h = 72
    with db.connect(url) as conn:
        profile = create_profile(conn, ProfileSpec.model_validate({"name": "Town", "steps": PROFILE_V1}), "benchmark")
        assign(conn, "town", "", profile["id"], "benchmark")
        now = generation_time(at)
        lamp = store.load_lamps(conn)[0]
        points = resolve_plans(store.load_config(conn, now), [lamp], now, horizon_h, ZoneInfo(TOWN_TIME_ZONE))
        plan = PlanEncoder().encode(1, now, plan_points(points[lamp.lamp_id], now, now + timedelta(hours=horizon_h)))
        conn.execute(
            """INSERT INTO plan_pushes (lamp_id, version, plan, created_at, pushed_at, attempts, ack_status, acked_at)
               SELECT lamp_id, 1, %(plan)s::jsonb, %(at)s, %(at)s, 1, 'applied', %(at)s FROM lamps""",
            {"plan": plan.decode(), "at": now},
        )
        conn.commit()
    say("  plans: one per lamp, applied")
