"""The energy page's data at city size: GET /api/v1/energy/consumption for a month and a year.

Builds (or reuses) the API benchmark's database: a simulated town of `--lamps` lamps with
`--days` days of readings ending now (benchmarks/api/dataset.py, loaded by COPY). Then, in
process through the application, it times:

- counting every day of readings into ``energy_daily`` from scratch (what a refresh after a
  backfill, or the nightly count of yesterday, does), per day of city readings;
- one run of the service's background count after every lamp has sent one more report (the
  steady state every few minutes: dimming.energy_jobs);
- later answers for the current month and for the last twelve months (the median of
  `--repeat`), which add up the daily rows;
- the floor: a ``SELECT 1`` through the application's pool in the same run, so the
  figures can be read against the machine.

    python -m benchmarks.energy --lamps 200000 --days 2
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from benchmarks.api import dataset
from benchmarks.common import database_url, default_timescale_url, say
from core import db

ENERGY_USER = "bench-energy"


@dataclass(frozen=True, slots=True)
class EnergyFigures:
    lamps: int
    days: int
    aggregation_s: float  # every day of readings into energy_daily
    readings: int
    increment_s: float  # the background count after one more report from every lamp
    month_s: float  # median of the later answers
    year_s: float
    floor_s: float  # SELECT 1 through the application's pool
    rows_month: int
    rows_year: int


def _median_s(call: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def _energy_token(url: str) -> str:
    from accounts import create_token, create_user
    from core.vocabulary import Role

    with db.connect(url) as conn:
        row = conn.execute("SELECT user_id FROM users WHERE username = %s", (ENERGY_USER,)).fetchone()
        user_id = row[0] if row else create_user(conn, ENERGY_USER, Role.ENERGY_MANAGER)
        token = create_token(conn, user_id, "energy benchmark")
        conn.commit()
    return token


def measure(url: str, *, lamps: int, days: int, repeat: int = 5) -> EnergyFigures:
    """Time the energy endpoint against database `url` (a loaded API benchmark database)."""
    from fastapi.testclient import TestClient

    from api.app import create_app, open_pool
    from core.settings import get_settings

    settings = get_settings()
    db.upgrade(url)  # a database loaded before the energy tables existed
    from dimming import refresh_energy_days

    with db.connect(url, autocommit=True) as conn:
        conn.execute("TRUNCATE energy_daily, energy_days, energy_marks, energy_count_state")
        span = conn.execute("SELECT min(ts)::date - 1, max(ts)::date + 2 FROM readings").fetchone()
        assert span is not None  # an aggregate without GROUP BY
        first_day, last_day = span
        began = time.perf_counter()
        refresh_energy_days(conn, first_day, last_day, ZoneInfo(get_settings().town_timezone))
        aggregation_s = time.perf_counter() - began
        [(readings,)] = conn.execute("SELECT count(*) FROM readings").fetchall()
        increment_s = _one_more_report_counted(conn, ZoneInfo(settings.town_timezone))
    headers = {"Authorization": f"Bearer {_energy_token(url)}"}
    now = datetime.now(UTC).astimezone()
    this_month = f"{now.year:04d}-{now.month:02d}"
    index = now.year * 12 + now.month - 1 - 11
    year_ago = f"{index // 12:04d}-{index % 12 + 1:02d}"
    pool = open_pool(url, settings)
    try:
        with TestClient(create_app(pool, settings=settings)) as client:

            def get(first: str) -> dict:
                response = client.get(
                    "/api/v1/energy/consumption", headers=headers, params={"from": first, "to": this_month}
                )
                response.raise_for_status()
                return response.json()

            year = get(year_ago)
            month_s = _median_s(lambda: get(this_month), repeat)
            year_s = _median_s(lambda: get(year_ago), repeat)

            def floor() -> None:
                with pool.connection() as conn:
                    conn.execute("SELECT 1").fetchone()

            floor_s = _median_s(floor, repeat)
            rows_month = len(get(this_month)["rows"])
    finally:
        pool.close()
    return EnergyFigures(
        lamps, days, aggregation_s, readings, increment_s, month_s, year_s, floor_s, rows_month, len(year["rows"])
    )


def _one_more_report_counted(conn, tz: ZoneInfo) -> float:
    """Every lamp reports once more (ten minutes on, 10 Wh more); the time of the background count that follows."""
    from dimming.energy_jobs import count_energy

    [(before,)] = conn.execute("SELECT clock_timestamp()").fetchall()
    conn.execute(
        """INSERT INTO energy_count_state (counted_at) VALUES (%s)
           ON CONFLICT (singleton) DO UPDATE SET counted_at = excluded.counted_at""",
        (before,),
    )
    conn.execute(
        """INSERT INTO readings (lamp_id, ts, energy_wh)
           SELECT lamp_id, ts + interval '10 minutes', energy_wh + 10 FROM energy_marks"""
    )
    began = time.perf_counter()
    count_energy(conn, tz)
    elapsed = time.perf_counter() - began
    # The loaded data stays as it was for the next run (which counts from scratch again).
    conn.execute("DELETE FROM readings WHERE received_at >= %s", (before,))
    return elapsed


def report(figures: EnergyFigures) -> str:
    return "\n".join(
        [
            f"energy page at {figures.lamps:,} lamps, {figures.days} days of readings:",
            f"  counting the days from scratch:     {figures.aggregation_s:8.3f} s"
            f" ({figures.aggregation_s / max(figures.days, 1):.3f} s a day,"
            f" {figures.readings / max(figures.aggregation_s, 1e-9):,.0f} readings/s)",
            f"  background count, one report each: {figures.increment_s:8.3f} s",
            f"  a month ({figures.rows_month} rows):              {figures.month_s:8.3f} s",
            f"  a year ({figures.rows_year} rows):               {figures.year_s:8.3f} s",
            f"  floor (SELECT 1 through the pool):  {figures.floor_s:8.4f} s",
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lamps", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--loaders", type=int, default=2, help="COPY connections while loading")
    parser.add_argument("--admin-url", default=default_timescale_url())
    args = parser.parse_args(argv)
    name = dataset.database_name(args.lamps, args.days)
    url = database_url(args.admin_url, name)
    if dataset.loaded_data(url, args.lamps, args.days) is None:
        say(f"loading {args.lamps:,} lamps and {args.days} days of readings into {name}")
        dataset.load(args.admin_url, name, lamps=args.lamps, days=args.days, loaders=args.loaders)
    say(report(measure(url, lamps=args.lamps, days=args.days, repeat=args.repeat)))


if __name__ == "__main__":
    main()
