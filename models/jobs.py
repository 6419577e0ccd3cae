"""The service's scheduled prediction work: one nightly job at STREETLIGHT_SCORING_HOUR, town time.

It refreshes the last two days' daily aggregates, retrains on the night named by
STREETLIGHT_MODEL_RETRAIN_WEEKDAY and scores every lamp and circuit on yesterday's features.
A failed training is recorded and the previous model keeps scoring; no error leaves the job.
Every replica of the service schedules it, and one runs each night (an advisory lock).
"""

from __future__ import annotations

import logging
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger

from core import db
from core.settings import Settings

log = logging.getLogger(__name__)
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REFRESH_DAYS = 2
WINDOW_DAYS = 30


@dataclass(frozen=True, slots=True)
class NightlyOutcome:
    day: date
    trained_version: str | None = None
    training_error: str | None = None
    scored_version: str | None = None
    lamps_scored: int = 0
    circuits_scored: int = 0
    error: str | None = None
    skipped: str | None = None  # why this replica did nothing: another one runs or ran the night


def schedule(scheduler: BaseScheduler, settings: Settings, database_url: str) -> None:
    """Add the prediction jobs to the service's scheduler."""
    scheduler.add_job(
        nightly_job,
        CronTrigger(hour=settings.scoring_hour, minute=5, timezone=ZoneInfo(settings.town_timezone)),
        args=[settings, database_url],
        id="model-nightly",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=3 * 3600,
    )


def nightly_job(settings: Settings, database_url: str) -> None:
    outcome = run_nightly(settings, database_url)
    if outcome.skipped:
        log.info("nightly prediction for %s skipped: %s", outcome.day, outcome.skipped)
    elif outcome.error:
        log.error("nightly prediction for %s failed: %s; it runs again tomorrow night", outcome.day, outcome.error)
    else:
        log.info(
            "nightly prediction for %s: %d lamps and %d circuits scored with model %s%s",
            outcome.day,
            outcome.lamps_scored,
            outcome.circuits_scored,
            outcome.scored_version,
            f" (retrained: {outcome.trained_version})" if outcome.trained_version else "",
        )


def lock_name(day: date) -> str:
    """The advisory lock of one night's job: each night its own, so that a run that never ended
    (a vanished machine whose session the server has not yet closed) holds back no later night."""
    return f"model-nightly {day.isoformat()}"


def run_nightly(settings: Settings, database_url: str, *, today: date | None = None) -> NightlyOutcome:
    """Refresh, retrain if it is the night for it, score; once across the service's replicas.

    The replica that takes the night's lock runs it; another finds the lock taken and skips,
    and one that starts late finds the night's scores stored and skips too. Never raises.
    """
    zone = settings.town_timezone
    today = today or datetime.now(ZoneInfo(zone)).date()
    day = today - timedelta(days=1)
    try:
        with db.connect(database_url) as conn, db.job_lock(conn, lock_name(day)) as taken:
            if not taken:
                return NightlyOutcome(day, skipped="another replica is running it")
            if scored_last(conn) == day:
                return NightlyOutcome(day, skipped="its scores are already stored")
            return _run(conn, settings, today, day)
    except Exception as exc:
        log.exception("nightly prediction job failed")
        return NightlyOutcome(day, error=f"{type(exc).__name__}: {exc}")


def scored_last(conn: psycopg.Connection) -> date | None:
    """The feature day of the latest scoring run (one probe of the index on scored_at)."""
    row = conn.execute("SELECT feature_day FROM lamp_predictions ORDER BY scored_at DESC LIMIT 1").fetchone()
    conn.commit()
    return row[0] if row else None


def _run(conn: psycopg.Connection, settings: Settings, today: date, day: date) -> NightlyOutcome:
    from models import features, registry, score

    zone = settings.town_timezone
    trained = training_error = None
    try:
        features.refresh_daily(conn, day - timedelta(days=REFRESH_DAYS - 1), today, time_zone=zone)
        if settings.model_retrain_weekday and WEEKDAYS[today.weekday()] == settings.model_retrain_weekday:
            trained, training_error = _retrain(conn, settings, today)
        try:
            model = registry.load_model(conn, features.FEATURES)
        except registry.ModelError as exc:
            return NightlyOutcome(day, trained, training_error, error=str(exc))
        summary = score.score_day(conn, model, day, time_zone=zone)
        return NightlyOutcome(day, trained, training_error, model.version, summary.lamps, summary.circuits)
    except Exception as exc:
        log.exception("nightly prediction job failed")
        with suppress(psycopg.Error):  # what the failed step left half done is not kept
            conn.rollback()
        return NightlyOutcome(day, trained, training_error, error=f"{type(exc).__name__}: {exc}")


def _retrain(conn: psycopg.Connection, settings: Settings, today: date) -> tuple[str | None, str | None]:
    """The new model's version, or the training's error (recorded as a failed version)."""
    from models import train

    options = train.TrainOptions(
        start=today - timedelta(days=settings.model_training_days),
        end=today,
        horizon_days=settings.prediction_horizon_days,
        k=settings.crew_visits_per_day,
    )
    row = conn.execute("SELECT min(day) FROM lamp_daily").fetchone()
    assert row is not None, "an aggregate without GROUP BY returns one row"
    first = row[0]
    if first is not None and first + timedelta(days=WINDOW_DAYS) > options.start:
        options = replace(options, start=first + timedelta(days=WINDOW_DAYS))
    try:
        trained = train.train_and_register(conn, options, settings.town_timezone).version
    except Exception as exc:  # recorded as a failed version by train_and_register
        training_error = f"{type(exc).__name__}: {exc}"
        log.warning("retraining failed (%s); the last good model keeps scoring", training_error)
        return None, training_error
    log.info("retrained: model %s", trained)
    return trained, None
