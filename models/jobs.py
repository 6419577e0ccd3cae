"""The service's scheduled prediction work: one nightly job at STREETLIGHT_SCORING_HOUR, town time.

It refreshes the last two days' daily aggregates, retrains on the night named by
STREETLIGHT_MODEL_RETRAIN_WEEKDAY and scores every lamp and circuit on yesterday's features.
A failed training is recorded and the previous model keeps scoring; no error leaves the job.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

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
    if outcome.error:
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


def run_nightly(settings: Settings, database_url: str, *, today: date | None = None) -> NightlyOutcome:
    """Refresh, retrain if it is the night for it, score. Never raises."""
    from models import features, registry, score, train

    zone = settings.town_timezone
    today = today or datetime.now(ZoneInfo(zone)).date()
    day = today - timedelta(days=1)
    trained = training_error = None
    try:
        with db.connect(database_url) as conn:
            features.refresh_daily(conn, day - timedelta(days=REFRESH_DAYS - 1), today, time_zone=zone)
            if settings.model_retrain_weekday and WEEKDAYS[today.weekday()] == settings.model_retrain_weekday:
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
                    trained = train.train_and_register(conn, options, zone).version
                    log.info("retrained: model %s", trained)
                except Exception as exc:  # recorded as a failed version by train_and_register
                    training_error = f"{type(exc).__name__}: {exc}"
                    log.warning("retraining failed (%s); the last good model keeps scoring", training_error)
            try:
                model = registry.load_model(conn, features.FEATURES)
            except registry.ModelError as exc:
                return NightlyOutcome(day, trained, training_error, error=str(exc))
            summary = score.score_day(conn, model, day, time_zone=zone)
            return NightlyOutcome(day, trained, training_error, model.version, summary.lamps, summary.circuits)
    except Exception as exc:
        log.exception("nightly prediction job failed")
        return NightlyOutcome(day, trained, training_error, error=f"{type(exc).__name__}: {exc}")
