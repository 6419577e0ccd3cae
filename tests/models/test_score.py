"""Scoring a fleet: every lamp gets a row, the lamp at risk comes first with its reasons in words."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

from models import features, registry, score
from models.reasons import reference_of
from tests.models.conftest import Lamp, insert_lamp, insert_readings, night_reading

DAY = date(2026, 6, 10)
TOWN = "Europe/Paris"


def power_factor_model() -> registry.ModelBundle:
    """A model that has learnt that a power factor under 0.9 comes before a failure."""
    rng = np.random.default_rng(1)
    n = 400
    frame = pd.DataFrame(0.0, index=range(n), columns=list(features.FEATURES))
    frame["power_factor_1d"] = np.r_[rng.normal(0.95, 0.01, n - 40), rng.normal(0.80, 0.02, 40)]
    frame["power_factor_10d_ago"] = 0.95
    labels = np.r_[np.zeros(n - 40), np.ones(40)]
    model = HistGradientBoostingClassifier(max_iter=20).fit(frame, labels)
    return registry.ModelBundle(model, features.FEATURES, 14, reference_of(frame))


def test_every_lamp_is_scored_and_the_one_at_risk_comes_first_with_its_reasons(ts_conn):
    lamps = [Lamp(f"L{i}") for i in range(1, 7)]
    for lamp in lamps:
        insert_lamp(ts_conn, lamp.lamp_id)
    for offset in range(10):
        for lamp in lamps:
            pf = 0.80 if lamp.lamp_id == "L6" and offset == 9 else 0.95
            lamp.day(DAY - timedelta(days=9 - offset), night_reading(lamp, power_factor=pf))
    insert_readings(ts_conn, lamps)
    features.refresh_daily(ts_conn, DAY - timedelta(days=9), DAY + timedelta(days=1), time_zone=TOWN)
    registry.save_model(ts_conn, power_factor_model(), trained_from=DAY, trained_to=DAY, metrics={})
    model = registry.load_model(ts_conn, features.FEATURES)

    first_run = datetime(2026, 6, 11, 0, 5, tzinfo=UTC)
    summary = score.score_day(ts_conn, model, DAY, chunk_lamps=4, scored_at=first_run, time_zone=TOWN)
    assert summary.lamps == 6 and summary.top[0][0] == "L6"

    rows = ts_conn.execute(
        "SELECT lamp_id, scored_at, feature_day, probability, horizon_days, model_version, reasons"
        " FROM lamp_predictions ORDER BY probability DESC, lamp_id"
    ).fetchall()
    assert [r[0] for r in rows][0] == "L6" and len(rows) == 6
    assert {(r[1], r[2], r[4], r[5]) for r in rows} == {(first_run, DAY, 14, model.version)}
    assert all(0.0 <= r[3] <= 1.0 for r in rows)
    reasons = rows[0][6]
    assert reasons[0]["signal"] == "power_factor"
    assert reasons[0]["text"] == "power factor fell from 0.95 to 0.80 over 10 days"
    assert reasons[0]["text_fr"] == "le facteur de puissance a baissé de 0,95 à 0,80 en 10 jours"
    assert reasons[0]["weight"] > 0.5
    assert all(r[6] == [] for r in rows[1:])  # the healthy lamps have nothing to explain

    # Scoring again keeps the first run as history.
    score.score_day(ts_conn, model, DAY, scored_at=first_run + timedelta(days=1), time_zone=TOWN)
    runs = ts_conn.execute("SELECT scored_at, count(*) FROM lamp_predictions GROUP BY 1 ORDER BY 1").fetchall()
    assert [n for _, n in runs] == [6, 6]
