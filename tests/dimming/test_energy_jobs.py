"""The background energy count, on every storage backend, against a fleet worked out by hand: what the
job counts is what the energy answer then says, a late reading is counted by the next run, yesterday
is counted again once settled, the answer itself never counts, and one replica runs the job."""

from __future__ import annotations

from datetime import date, datetime

import psycopg
import pytest

from core import db as core_db
from dimming import refresh_energy_days, store
from dimming.consumption import consumption_by_group_month
from dimming.energy import power_fraction
from dimming.energy_jobs import LOCK_NAME, count_energy, run_energy_count
from dimming.profiles import ProfileSpec
from tests.api.fleet_factories import add_reading, make_lamp

from .test_consumption import HALF_FROM_23_TO_05, PARIS, PARIS_LAT, PARIS_LON, figures, local

HALF = power_fraction(50)


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def report(db, now: datetime):
    return consumption_by_group_month(
        db, [(2026, 1)], PARIS, None, price_eur_per_kwh=0.2, emission_g_co2_per_kwh=52.0, now=now
    )


def reading(db, lamp_id: str, ts: datetime, energy_wh: float, received_at: datetime | None = None) -> None:
    """A reading received at its own time unless said otherwise (a late report)."""
    add_reading(db, lamp_id, ts, energy_wh=energy_wh, received_at=received_at or ts)


def day_rows(db, lamp_id: str) -> dict[date, tuple[float, float]]:
    """(measured hours, measured Wh) per day of a lamp."""
    rows = db.execute(
        "SELECT day, measured_s / 3600.0, measured_wh FROM energy_daily WHERE lamp_id = %s ORDER BY day", (lamp_id,)
    ).fetchall()
    return {day: (round(hours, 6), round(wh, 6)) for day, hours, wh in rows}


def all_rows(db) -> list[tuple]:
    rows = db.execute("SELECT * FROM energy_daily ORDER BY day, lamp_id").fetchall()
    return [(lamp, day, *(round(value, 6) for value in values)) for lamp, day, *values in rows]


@pytest.fixture
def fleet(db):
    """The town dims to 50 % from 23:00 to 05:00 (Paris). C1 100 W and P1 200 W report; P2 never does."""
    spec = ProfileSpec(name="Half 23-05", twilight="sunset", steps=HALF_FROM_23_TO_05)
    store.assign(db, "town", "", store.create_profile(db, spec, "test")["id"], "test")
    for lamp_id, group, power_w in (("C1", "centre", 100.0), ("P1", "port", 200.0), ("P2", "port", 100.0)):
        make_lamp(db, lamp_id, group_name=group, lat=PARIS_LAT, lon=PARIS_LON, rated_power_w=power_w)


def night_of_15_january(db) -> None:
    """Runs of the job as the night's reports arrive: C1 20:00-04:00 (600 Wh), P1 00:00-02:00 (200 Wh)."""
    reading(db, "C1", local(2026, 1, 15, 20), 1000.0)
    reading(db, "C1", local(2026, 1, 15, 22), 1200.0)
    first = count_energy(db, PARIS, now=local(2026, 1, 15, 22, 5))
    assert (first.first_run, first.rows) == (True, 1)  # C1 on the 15th
    reading(db, "C1", local(2026, 1, 16, 2), 1500.0)  # across midnight: 2 h and 2 h
    reading(db, "C1", local(2026, 1, 16, 4), 1600.0)
    reading(db, "P1", local(2026, 1, 16, 0), 5000.0)  # P1's first report: counted from scratch
    reading(db, "P1", local(2026, 1, 16, 2), 5200.0)
    second = count_energy(db, PARIS, now=local(2026, 1, 16, 4, 5))
    # P1 counted from scratch; the 15th, settled at 01:00, counted again for every lamp.
    assert (second.first_run, second.recounted_lamps, second.finalised) == (False, 1, date(2026, 1, 15))


def test_the_job_counts_what_the_answer_then_says(db, fleet):
    night_of_15_january(db)

    result = report(db, now=local(2026, 1, 16, 5))

    jan_h = 15 * 24 + 5  # hours of January gone by
    c1_planned = 300 + 5 * 100 * HALF  # 20:00-23:00 full, 23:00-04:00 at half
    p1_planned = 2 * 200 * HALF
    centre, port = result.rows
    assert (centre.group, port.group) == ("centre", "port")
    assert figures(centre) == pytest.approx((1, 1, jan_h, 8, 0.8, c1_planned / 1000, 0.6, 0.2, 0.04, 0.010))
    assert figures(port) == pytest.approx((2, 1, 2 * jan_h, 2, 0.4, p1_planned / 1000, 0.2, 0.2, 0.04, 0.010))
    assert day_rows(db, "C1") == {date(2026, 1, 15): (4, 350), date(2026, 1, 16): (4, 250)}
    # Counting everything again from scratch gives the same rows.
    counted = all_rows(db)
    refresh_energy_days(db, date(2026, 1, 14), date(2026, 1, 17), PARIS)
    assert all_rows(db) == counted


def test_late_readings_are_counted_by_the_next_run(db, fleet):
    night_of_15_january(db)
    # Written at 06:00, both older than C1's last counted reading: one opens the evening
    # (18:00-20:00, 100 Wh more), one shows that 22:00-02:00 was not drawn evenly.
    reading(db, "C1", local(2026, 1, 15, 18), 900.0, received_at=local(2026, 1, 16, 6))
    reading(db, "C1", local(2026, 1, 16, 0), 1400.0, received_at=local(2026, 1, 16, 6))

    outcome = count_energy(db, PARIS, now=local(2026, 1, 16, 6, 5))

    assert outcome.recounted_lamps == 1
    assert day_rows(db, "C1") == {date(2026, 1, 15): (6, 500), date(2026, 1, 16): (4, 200)}
    [centre, _] = report(db, now=local(2026, 1, 16, 7)).rows
    assert (centre.measured_kwh, centre.full_kwh, centre.coverage.measured_lamp_hours) == (0.7, 1.0, 10)
    # A run with nothing new changes nothing, however often it runs.
    count_energy(db, PARIS, now=local(2026, 1, 16, 6, 10))
    assert day_rows(db, "C1") == {date(2026, 1, 15): (6, 500), date(2026, 1, 16): (4, 200)}


def test_yesterday_is_counted_again_once_settled(db, fleet):
    night_of_15_january(db)
    db.execute("UPDATE energy_daily SET measured_wh = 0")  # whatever the increments left

    early = count_energy(db, PARIS, now=local(2026, 1, 17, 0, 30))
    settled = count_energy(db, PARIS, now=local(2026, 1, 17, 1, 30))
    again = count_energy(db, PARIS, now=local(2026, 1, 17, 1, 35))

    assert (early.finalised, settled.finalised, again.finalised) == (None, date(2026, 1, 16), None)
    assert day_rows(db, "C1") == {date(2026, 1, 15): (4, 0), date(2026, 1, 16): (4, 250)}
    assert day_rows(db, "P1") == {date(2026, 1, 16): (2, 200)}


def test_the_answer_never_counts(db, fleet):
    night_of_15_january(db)
    db.execute("TRUNCATE energy_daily, energy_days")

    [centre, port] = report(db, now=local(2026, 1, 16, 5)).rows

    for row in (centre, port):
        assert (row.coverage.lamps_reporting, row.coverage.measured_lamp_hours, row.coverage.share) == (0, 0.0, 0.0)
        assert (row.coverage.partial, row.measured_kwh, row.full_kwh) == (True, None, 0.0)
    assert db.execute("SELECT count(*) FROM energy_daily").fetchone() == (0,)


def test_one_replica_counts_at_a_time(db, database_url, fleet):
    reading(db, "C1", local(2026, 1, 15, 20), 1000.0)
    reading(db, "C1", local(2026, 1, 15, 22), 1200.0)
    now = local(2026, 1, 15, 22, 5)

    with core_db.connect(database_url) as other, core_db.job_lock(other, LOCK_NAME) as taken:
        assert taken
        skipped = run_energy_count(database_url, PARIS, now=now)
        assert db.execute("SELECT count(*) FROM energy_daily").fetchone() == (0,)
    counted = run_energy_count(database_url, PARIS, now=now)

    assert (skipped.skipped, skipped.rows) == ("another replica is counting", 0)
    assert (counted.skipped, counted.error, counted.first_run, counted.rows) == (None, None, True, 1)
    assert day_rows(db, "C1") == {date(2026, 1, 15): (2, 200)}


def test_the_service_counts_every_few_minutes():
    from apscheduler.schedulers.background import BackgroundScheduler

    from core.settings import Settings
    from dimming.energy_jobs import INTERVAL, schedule

    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, Settings(town_timezone="Europe/Paris"), "postgresql://x@127.0.0.1/y")
    (job,) = scheduler.get_jobs()
    assert (job.id, job.trigger.interval, job.max_instances, job.coalesce) == ("energy-count", INTERVAL, 1, True)
