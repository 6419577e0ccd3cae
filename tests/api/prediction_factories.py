"""Test data for the maintenance endpoints: model versions, lamp scores and circuit scores as the scoring job
writes them."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

MODEL_VERSION = "20261101T020000Z"


def add_model_version(conn: psycopg.Connection, version: str = MODEL_VERSION, horizon_days: int = 14) -> None:
    conn.execute(
        """INSERT INTO model_versions (version, horizon_days, features) VALUES (%s, %s, '["f"]')
           ON CONFLICT (version) DO NOTHING""",
        (version, horizon_days),
    )


def reason(signal: str, text: str, text_fr: str = "", weight: float = 0.3, feature: str | None = None) -> dict:
    return {
        "feature": feature or f"{signal}_trend",
        "signal": signal,
        "text": text,
        "text_fr": text_fr,
        "weight": weight,
    }


# Two nightly scoring runs and three reasons, shared by the prediction and work-order tests.
RUN_1 = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
RUN_2 = RUN_1 + timedelta(days=1)
PF = reason(
    "power_factor",
    "power factor fell from 0.96 to 0.88 over 10 days",
    "le facteur de puissance est passé de 0,96 à 0,88 en 10 jours",
    0.31,
)
TEMP = reason(
    "driver_temp_c", "driver 14 °C hotter than its neighbours", "driver 14 °C plus chaud que ses voisins", 0.2
)
SAG = reason(
    "voltage_v",
    "the circuit's voltage sagged by 9 V over 7 days",
    "la tension du circuit a baissé de 9 V en 7 jours",
    0.42,
)


def add_prediction(
    conn: psycopg.Connection,
    lamp_id: str,
    scored_at: datetime,
    probability: float,
    reasons: list[dict[str, Any]] | None = None,
    *,
    version: str = MODEL_VERSION,
    horizon_days: int = 14,
    feature_day: date | None = None,
) -> None:
    add_model_version(conn, version, horizon_days)
    conn.execute(
        """INSERT INTO lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days, model_version,
                                         reasons)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (
            lamp_id,
            scored_at,
            feature_day or scored_at.date(),
            probability,
            horizon_days,
            version,
            json.dumps(reasons or []),
        ),
    )


def add_circuit_prediction(
    conn: psycopg.Connection,
    circuit: str,
    scored_at: datetime,
    probability: float,
    reasons: list[dict[str, Any]] | None = None,
    *,
    lamps: int = 10,
    version: str = MODEL_VERSION,
    horizon_days: int = 14,
    feature_day: date | None = None,
) -> None:
    add_model_version(conn, version, horizon_days)
    conn.execute(
        """INSERT INTO circuit_predictions (circuit, scored_at, feature_day, probability, horizon_days, model_version,
                                            lamps, reasons)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
        (
            circuit,
            scored_at,
            feature_day or scored_at.date(),
            probability,
            horizon_days,
            version,
            lamps,
            json.dumps(reasons or []),
        ),
    )
