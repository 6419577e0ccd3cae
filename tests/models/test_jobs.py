"""The nightly job: a failed retraining is recorded and the last good model keeps scoring; with
several replicas, one of them runs each night."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta

import psycopg
import pytest

from core import db
from core.settings import Settings
from models import features, jobs, registry
from tests.models.conftest import Lamp, insert_lamp, insert_readings, night_reading
from tests.models.test_score import power_factor_model

TODAY = date(2026, 6, 11)  # a Thursday


def settings(url: str, **changes) -> Settings:
    return Settings(database_url=url, town_timezone="Europe/Paris", **changes)


def fleet(conn) -> None:
    lamps = [Lamp(f"L{i}") for i in range(1, 5)]
    for lamp in lamps:
        insert_lamp(conn, lamp.lamp_id)
    for offset in range(5, 0, -1):
        for lamp in lamps:
            lamp.day(TODAY - timedelta(days=offset), night_reading(lamp))
    insert_readings(conn, lamps)


def test_a_failed_retraining_is_recorded_and_the_last_good_model_scores(ts_conn, timescale_url):
    fleet(ts_conn)
    features.refresh_daily(ts_conn, TODAY - timedelta(days=5), TODAY, time_zone="Europe/Paris")
    good = registry.save_model(ts_conn, power_factor_model(), trained_from=TODAY, trained_to=TODAY, metrics={})

    # Five days of history cannot train a model: the retraining fails.
    outcome = jobs.run_nightly(settings(timescale_url, model_retrain_weekday="thu"), timescale_url, today=TODAY)

    assert outcome.error is None
    assert outcome.training_error and "TrainingError" in outcome.training_error
    assert outcome.trained_version is None
    assert (outcome.scored_version, outcome.lamps_scored, outcome.day) == (good, 4, TODAY - timedelta(days=1))
    statuses = ts_conn.execute("SELECT status FROM model_versions ORDER BY created_at").fetchall()
    assert [s for (s,) in statuses] == ["ready", "failed"]
    scored = ts_conn.execute("SELECT DISTINCT model_version, feature_day FROM lamp_predictions").fetchall()
    assert scored == [(good, TODAY - timedelta(days=1))]


def test_on_other_nights_it_only_scores(ts_conn, timescale_url):
    fleet(ts_conn)
    good = registry.save_model(ts_conn, power_factor_model(), trained_from=TODAY, trained_to=TODAY, metrics={})
    outcome = jobs.run_nightly(settings(timescale_url, model_retrain_weekday="sun"), timescale_url, today=TODAY)
    assert (outcome.training_error, outcome.scored_version, outcome.lamps_scored) == (None, good, 4)
    assert ts_conn.execute("SELECT count(*) FROM model_versions").fetchone()[0] == 1


def test_without_a_model_or_a_database_the_job_reports_and_does_not_raise(ts_conn, timescale_url):
    outcome = jobs.run_nightly(settings(timescale_url, model_retrain_weekday=""), timescale_url, today=TODAY)
    assert outcome.error == "no trained model yet: run `streetlight model train`"
    unreachable = "postgresql://nobody@127.0.0.1:1/nothing"
    outcome = jobs.run_nightly(settings(unreachable), unreachable, today=TODAY)
    assert outcome.error and outcome.error.startswith("OperationalError")


def _work_done(conn) -> tuple[int, int]:
    """Scoring runs stored and model versions recorded (trained or failed)."""
    runs = conn.execute("SELECT count(DISTINCT scored_at) FROM lamp_predictions").fetchone()[0]
    versions = conn.execute("SELECT count(*) FROM model_versions").fetchone()[0]
    conn.commit()
    return runs, versions


def test_two_replicas_running_the_night_at_once_score_and_train_once(ts_conn, timescale_url, monkeypatch):
    fleet(ts_conn)
    registry.save_model(ts_conn, power_factor_model(), trained_from=TODAY, trained_to=TODAY, metrics={})
    retraining_night = settings(timescale_url, model_retrain_weekday="thu")
    # The first replica to start its work waits there until the second has had its turn,
    # so that the two runs overlap whatever the machine's speed.
    first_inside, second_done = threading.Event(), threading.Event()
    refresh = features.refresh_daily

    def refresh_and_wait_once(*args, **kwargs):
        if not first_inside.is_set():
            first_inside.set()
            assert second_done.wait(60), "the second replica never finished"
        return refresh(*args, **kwargs)

    monkeypatch.setattr(features, "refresh_daily", refresh_and_wait_once)
    with ThreadPoolExecutor(2) as replicas:
        first = replicas.submit(jobs.run_nightly, retraining_night, timescale_url, today=TODAY)
        assert first_inside.wait(60)
        second = replicas.submit(jobs.run_nightly, retraining_night, timescale_url, today=TODAY)
        skipped = second.result(60)
        second_done.set()
        ran = first.result(60)

    assert skipped == jobs.NightlyOutcome(TODAY - timedelta(days=1), skipped="another replica is running it")
    assert (ran.skipped, ran.error, ran.lamps_scored) == (None, None, 4)
    assert ran.training_error and "TrainingError" in ran.training_error
    assert _work_done(ts_conn) == (1, 2)  # one scoring run; the good model and one failed training

    # A replica that starts late, within the job's grace time, finds the night done.
    late = jobs.run_nightly(retraining_night, timescale_url, today=TODAY)
    assert late.skipped == "its scores are already stored"
    assert _work_done(ts_conn) == (1, 2)


def test_a_crashed_replicas_lock_goes_with_its_session_and_the_night_runs(ts_conn, timescale_url):
    fleet(ts_conn)
    registry.save_model(ts_conn, power_factor_model(), trained_from=TODAY, trained_to=TODAY, metrics={})
    scoring_only = settings(timescale_url, model_retrain_weekday="sun")
    with db.connect(timescale_url) as crashed, db.job_lock(crashed, jobs.lock_name(TODAY - timedelta(days=1))) as taken:
        assert taken
        assert jobs.run_nightly(scoring_only, timescale_url, today=TODAY).skipped == "another replica is running it"
        # The next night has a lock of its own, whatever happened to this one.
        assert jobs.run_nightly(scoring_only, timescale_url, today=TODAY + timedelta(days=1)).lamps_scored == 4
        # The replica dies: the server ends its session, and the lock goes with it.
        ts_conn.execute("SELECT pg_terminate_backend(%s, 10000)", (crashed.info.backend_pid,))
        ts_conn.commit()
        outcome = jobs.run_nightly(scoring_only, timescale_url, today=TODAY)
        assert (outcome.skipped, outcome.error, outcome.lamps_scored) == (None, None, 4)
        with pytest.raises(psycopg.OperationalError):
            crashed.execute("SELECT 1")
    assert _work_done(ts_conn) == (2, 1)


def test_the_job_runs_nightly_at_the_scoring_hour_town_time():
    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="UTC")
    jobs.schedule(scheduler, settings("postgresql://x@127.0.0.1/y", scoring_hour=3), "postgresql://x@127.0.0.1/y")
    (job,) = scheduler.get_jobs()
    assert job.id == "model-nightly"
    assert str(job.trigger) == "cron[hour='3', minute='5']"
    assert str(job.trigger.timezone) == "Europe/Paris"
