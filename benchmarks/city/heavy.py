"""The nightly jobs at city size, by the code of the benchmarks that measure them at 100,000 lamps.

- Nightly scoring: the nightly job's steps (`models.jobs.run_nightly`: the daily aggregates
  refreshed, then every lamp scored) over the city's readings, with a model of the
  service's kind fitted on made-up days (training is `benchmarks.prediction`'s);
  floor: `benchmarks.prediction.naive_scoring`'s lamp-by-lamp loop on a sample, extrapolated.
- A town-wide dimming change pushed to every controller: `benchmarks.dimming.run`, in a
  database of its own with simulated controllers.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from benchmarks.city.build import TOWN_TIME_ZONE, City
from benchmarks.common import BenchmarkError, say
from core import db

if TYPE_CHECKING:
    from benchmarks.dimming import Phase
    from models.registry import ModelBundle

SCORING_TARGET_S = 60.0
PUSH_TARGET_S = 30.0


@dataclass(frozen=True, slots=True)
class Scoring:
    lamps: int
    refresh_s: float  # the daily aggregates of the days the nightly job refreshes
    score_s: float  # every lamp scored (features, probabilities, reasons, stored; then the circuits)
    per_lamp_floor_s: float  # the lamp-by-lamp loop's seconds per lamp


def stand_in_model() -> ModelBundle:
    """The service's classifier fitted on made-up lamp-days: scoring costs what the real model's does."""
    import numpy as np
    import pandas as pd

    from models import features, registry, train
    from models.reasons import reference_of

    rng = np.random.default_rng(1)
    days = 4000
    frame = pd.DataFrame(rng.normal(size=(days, len(features.FEATURES))), columns=list(features.FEATURES))
    labels = (frame.iloc[:, 0] + rng.normal(scale=0.5, size=days) > 1.5).astype(int)
    pipeline = train.make_pipeline().fit(frame, labels)
    return registry.ModelBundle(pipeline, features.FEATURES, 14, reference_of(frame))


def nightly_scoring(city: City, floor_lamps: int) -> Scoring:
    """The nightly job's two steps, timed apart (as `models.jobs.run_nightly` runs them), and the floor."""
    from benchmarks.prediction import naive_scoring
    from models import features, registry, score
    from models.jobs import REFRESH_DAYS

    today = city.last_ts.astimezone(ZoneInfo(TOWN_TIME_ZONE)).date()
    day = today - timedelta(days=1)
    with db.connect(city.url) as conn:
        began = time.perf_counter()
        features.refresh_daily(conn, day - timedelta(days=REFRESH_DAYS - 1), today, time_zone=TOWN_TIME_ZONE)
        conn.commit()
        refresh_s = time.perf_counter() - began
        if not registry.list_models(conn):
            registry.save_model(conn, stand_in_model(), trained_from=day, trained_to=day, metrics={})
            conn.commit()
        model = registry.load_model(conn, features.FEATURES)
        # The floor first: its scores form a run of a few lamps, older than the full run that follows.
        sample = [row[0] for row in conn.execute("SELECT lamp_id FROM lamps ORDER BY lamp_id LIMIT %s", (floor_lamps,))]
        began = time.perf_counter()
        naive_scoring(conn, model, day, sample)
        per_lamp_s = (time.perf_counter() - began) / len(sample)
        began = time.perf_counter()
        summary = score.score_day(conn, model, day, time_zone=TOWN_TIME_ZONE)
        score_s = time.perf_counter() - began
    if summary.lamps != city.lamps:
        raise BenchmarkError(f"the nightly scoring scored {summary.lamps} lamps of {city.lamps}")
    say(f"  daily aggregates {refresh_s:.1f} s, scoring {score_s:.1f} s for {city.lamps:,} lamps")
    return Scoring(city.lamps, refresh_s, score_s, per_lamp_s)


def dimming_change(admin_url: str, mqtt_url: str, lamps: int, seed: int, sample: int) -> list[Phase]:
    from benchmarks.dimming import run

    args = argparse.Namespace(admin_url=admin_url, mqtt_url=mqtt_url, lamps=lamps, horizon=72, sample=sample, seed=seed)
    return run(args)


def energy_count(city: City) -> float:
    """Count the city's days of readings into energy_daily, as the service's background job
    does, so that the energy page has figures to add up; returns the seconds it took."""
    from dimming import refresh_energy_days

    zone = ZoneInfo(TOWN_TIME_ZONE)
    first = city.first_ts.astimezone(zone).date()
    last = city.last_ts.astimezone(zone).date() + timedelta(days=1)
    with db.connect(city.url, autocommit=True) as conn:
        began = time.perf_counter()
        rows = refresh_energy_days(conn, first, last, zone)
        counted_s = time.perf_counter() - began
    say(f"  energy counted: {rows:,} lamp-days in {counted_s:.1f} s")
    return counted_s
