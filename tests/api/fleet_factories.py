"""Test data for the inventory, telemetry and ingest tables, written straight to the database,
and the API client the endpoint tests share."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient
from psycopg import sql

from api.app import create_app, open_pool
from core.contract import MEASUREMENT_FIELDS
from core.settings import Settings


@contextlib.contextmanager
def api_client(url: str, **create_app_kwargs: Any) -> Iterator[TestClient]:
    """The application over a pool opened as the service opens it (4 connections)."""
    settings = create_app_kwargs.pop("settings", None) or Settings(_env_file=None)
    with open_pool(url, settings.model_copy(update={"db_pool_size": 4})) as pool:
        yield TestClient(create_app(pool, settings=settings, **create_app_kwargs), raise_server_exceptions=False)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_lamp(conn: psycopg.Connection, lamp_id: str, **columns: Any) -> None:
    values = {
        "name": f"lamp {lamp_id}",
        "lat": None,
        "lon": None,
        "street": "",
        "address": "",
        "circuit": "",
        "group_name": "",
        "state": "in_service",
        "rated_power_w": None,
    } | columns
    conn.execute(
        """INSERT INTO lamps (lamp_id, name, lat, lon, street, address, circuit, group_name, state, rated_power_w)
           VALUES (%(lamp_id)s, %(name)s, %(lat)s, %(lon)s, %(street)s, %(address)s, %(circuit)s, %(group_name)s,
                   %(state)s, %(rated_power_w)s)""",
        values | {"lamp_id": lamp_id},
    )


def add_reading(conn: psycopg.Connection, lamp_id: str, ts: datetime, **measurements: Any) -> None:
    """One reading with the measurements given (names of the contract's fields), the others null."""
    received_at = measurements.pop("received_at", ts)
    unknown = set(measurements) - set(MEASUREMENT_FIELDS)
    if unknown:
        raise ValueError(f"not measurement fields: {sorted(unknown)}")
    columns = sql.SQL(", ").join(sql.Identifier(name) for name in measurements)
    values = sql.SQL(", ").join(sql.Placeholder() for _ in measurements)
    conn.execute(
        sql.SQL(
            "INSERT INTO readings (lamp_id, ts, received_at{sep}{columns}) VALUES (%s, %s, %s{sep}{values})"
        ).format(sep=sql.SQL(", " if measurements else ""), columns=columns, values=values),
        (lamp_id, ts, received_at, *measurements.values()),
    )


def add_event(
    conn: psycopg.Connection, lamp_id: str, ts: datetime, type: str, detail: Any = None, source: str = "controller"
) -> None:
    conn.execute(
        "INSERT INTO events (lamp_id, ts, type, detail, source) VALUES (%s, %s, %s, %s, %s)",
        (lamp_id, ts, type, None if detail is None else json.dumps(detail), source),
    )


def set_status(conn: psycopg.Connection, lamp_id: str, online: bool) -> None:
    conn.execute(
        "INSERT INTO lamp_status (lamp_id, online) VALUES (%s, %s)"
        " ON CONFLICT (lamp_id) DO UPDATE SET online = excluded.online, changed_at = now()",
        (lamp_id, online),
    )


def add_dead_letter(
    conn: psycopg.Connection,
    reason: str,
    payload: bytes,
    *,
    lamp_id: str | None = None,
    received_at: datetime | None = None,
    topic: str = "streetlight/v1/lamps/x/telemetry",
) -> None:
    conn.execute(
        """INSERT INTO dead_letters (received_at, topic, lamp_id, reason, detail, payload)
           VALUES (coalesce(%s, now()), %s, %s, %s, 'test', %s)""",
        (received_at, topic, lamp_id, reason, payload),
    )


def add_unknown_lamp(
    conn: psycopg.Connection,
    lamp_id: str,
    *,
    status: str = "pending",
    last_seen_at: datetime | None = None,
    message_count: int = 1,
) -> None:
    conn.execute(
        """INSERT INTO unknown_lamps (lamp_id, last_seen_at, message_count, last_topic, status)
           VALUES (%s, coalesce(%s, now()), %s, %s, %s)""",
        (lamp_id, last_seen_at, message_count, f"streetlight/v1/lamps/{lamp_id}/telemetry", status),
    )


def audit_entries(conn: psycopg.Connection, action: str) -> list[tuple]:
    return conn.execute(
        "SELECT actor, target, before, after FROM audit_log WHERE action = %s ORDER BY audit_id", (action,)
    ).fetchall()
