"""Telemetry endpoints on every storage backend: buckets computed by the database against
hand-made readings with known averages, raw readings and their cap, range checks."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from api import problems
from api.telemetry import queries as telemetry_queries
from api.telemetry.schemas import Telemetry
from core.contract import MEASUREMENT_FIELDS
from core.settings import Settings
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import add_reading, api_client, bearer, make_lamp

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str):
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def client(db, database_url: str):
    with api_client(database_url) as client:
        yield client


@pytest.fixture
def auth(db):
    return bearer(make_user(db, Role.ENERGY_MANAGER))


@pytest.fixture
def twelve_readings(db):
    """L1: 12 readings 10 minutes apart from T0, power 10, 20, ... 120 W, voltage 230 + i."""
    make_lamp(db, "L1", group_name="centre", circuit="C1")
    for i in range(12):
        add_reading(db, "L1", T0 + timedelta(minutes=10 * i), power_w=10.0 * (i + 1), voltage_v=230.0 + i)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def get(client, path, auth, **params):
    return client.get(path, params=params, headers=auth)


def test_hourly_buckets_have_the_known_averages(client, auth, twelve_readings):
    response = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T03:00:00Z", "bucket": "1h", "fields": "power_w,voltage_v"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["scope"], body["name"], body["bucket"], body["fields"], body["lamp_count"]) == (
        "lamp",
        "L1",
        "1h",
        ["power_w", "voltage_v"],
        1,
    )
    assert body["points"] is None
    assert [(datetime.fromisoformat(b["start"]), b["readings"], b["lamps"], b["values"]) for b in body["buckets"]] == [
        (
            T0,
            6,
            1,
            {
                "power_w": {"avg": 35.0, "min": 10.0, "max": 60.0},
                "voltage_v": {"avg": 232.5, "min": 230.0, "max": 235.0},
            },
        ),
        (
            T0 + timedelta(hours=1),
            6,
            1,
            {
                "power_w": {"avg": 95.0, "min": 70.0, "max": 120.0},
                "voltage_v": {"avg": 238.5, "min": 236.0, "max": 241.0},
            },
        ),
    ]


def test_buckets_and_raw_points_answer_what_the_schema_says(client, auth, twelve_readings):
    window = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z", "fields": "power_w,dim_level"}
    for bucket in ("raw", "5min", "1h"):
        response = get(client, "/api/v1/lamps/L1/telemetry", auth, bucket=bucket, **window)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        telemetry = Telemetry.model_validate(response.json())
        assert (telemetry.from_, telemetry.to) == (T0, T0 + timedelta(hours=1))
        assert response.json()["from"] == "2026-11-25T00:00:00Z"  # RFC 3339, UTC as Z
        series = telemetry.points if bucket == "raw" else telemetry.buckets
        assert len(series) == {"raw": 6, "5min": 6, "1h": 1}[bucket]
    # A field without values is null, not left out.
    assert response.json()["buckets"][0]["values"]["dim_level"] == {"avg": None, "min": None, "max": None}


def test_five_minute_buckets_hold_one_reading_each_and_the_range_end_is_excluded(client, auth, twelve_readings):
    body = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:50:00Z", "bucket": "5min", "fields": "power_w"},
    ).json()
    assert [b["values"]["power_w"]["avg"] for b in body["buckets"]] == [10.0 * (i + 1) for i in range(11)]
    assert [datetime.fromisoformat(b["start"]) for b in body["buckets"]][:2] == [T0, T0 + timedelta(minutes=10)]


def test_a_field_without_values_has_null_statistics(client, auth, twelve_readings):
    body = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z", "fields": "power_factor"},
    ).json()
    assert body["buckets"][0]["values"] == {"power_factor": {"avg": None, "min": None, "max": None}}


def test_a_non_finite_stored_value_is_null_and_the_answer_stays_json(client, db, auth):
    # The contract refuses NaN and infinities; this stands for whatever else wrote the table.
    make_lamp(db, "L9")
    add_reading(db, "L9", T0, power_w=10.0, voltage_v=230.0)
    db.execute("UPDATE readings SET power_w = 'Infinity', voltage_v = 'NaN' WHERE lamp_id = 'L9'")
    response = get(
        client,
        "/api/v1/lamps/L9/telemetry",
        auth,
        **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z", "bucket": "1h", "fields": "power_w,voltage_v"},
    )
    assert response.status_code == 200, response.text
    assert response.json()["buckets"][0]["values"] == {
        "power_w": {"avg": None, "min": None, "max": None},
        "voltage_v": {"avg": None, "min": None, "max": None},
    }


def test_non_finite_values_are_left_out_of_a_buckets_statistics(client, db, auth):
    make_lamp(db, "L10")
    add_reading(db, "L10", T0, power_w=10.0)
    add_reading(db, "L10", T0 + timedelta(minutes=10), power_w=30.0)
    add_reading(db, "L10", T0 + timedelta(minutes=20), power_w=20.0)
    db.execute("UPDATE readings SET power_w = 'NaN' WHERE lamp_id = 'L10' AND power_w = 20")
    response = get(
        client,
        "/api/v1/lamps/L10/telemetry",
        auth,
        **{"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z", "bucket": "1h", "fields": "power_w"},
    )
    assert response.json()["buckets"][0]["readings"] == 3
    assert response.json()["buckets"][0]["values"] == {"power_w": {"avg": 20.0, "min": 10.0, "max": 30.0}}


def test_a_query_longer_than_the_api_allows_answers_503_and_the_next_one_is_served(db, database_url):
    make_lamp(db, "L11")
    add_reading(db, "L11", T0, power_w=10.0)
    auth = bearer(make_user(db, Role.TECHNICIAN))
    path, params = "/api/v1/lamps/L11/telemetry", {"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z"}
    settings = Settings(_env_file=None, api_statement_timeout_s=0.25)
    with api_client(database_url, settings=settings) as client, psycopg.connect(database_url) as blocker:
        # Let go of the lock by itself after 5 s, so that a missing limit fails the test instead of hanging it.
        blocker.execute("SET idle_in_transaction_session_timeout = '5s'")
        blocker.execute("LOCK TABLE readings IN ACCESS EXCLUSIVE MODE")  # the chart's query waits for it
        refused = client.get(path, params=params, headers=auth)
        with contextlib.suppress(psycopg.OperationalError):  # the session may be gone already
            blocker.rollback()
        served = client.get(path, params=params, headers=auth)
    assert refused.status_code == 503, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"] == problems.QUERY_TIMEOUT
    assert "longer than 0.25 s" in refused.json()["detail"]
    assert served.status_code == 200
    assert served.json()["buckets"][0]["readings"] == 1


def test_statistics_say_what_was_stored_in_its_own_precision(client, db, auth):
    make_lamp(db, "L8")
    add_reading(db, "L8", T0, power_factor=0.973, energy_wh=123_456_789.125)
    response = get(
        client,
        "/api/v1/lamps/L8/telemetry",
        auth,
        **{
            "from": "2026-11-25T00:00:00Z",
            "to": "2026-11-25T01:00:00Z",
            "bucket": "1h",
            "fields": "power_factor,energy_wh",
        },
    )
    assert response.status_code == 200, response.text
    values = response.json()["buckets"][0]["values"]
    # power factor is stored in single precision, the energy counter in double
    assert values == {
        "power_factor": {"avg": 0.973, "min": 0.973, "max": 0.973},
        "energy_wh": {"avg": 123_456_789.125, "min": 123_456_789.125, "max": 123_456_789.125},
    }


def test_the_single_precision_fields_are_the_tables_real_columns(db):
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'readings' AND data_type = 'real'"
    ).fetchall()
    assert {name for (name,) in rows} == telemetry_queries.SINGLE_PRECISION_FIELDS


def test_the_whole_number_fields_are_the_tables_integer_columns(db):
    rows = db.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'readings'"
        " AND data_type IN ('smallint', 'integer', 'bigint') AND column_name = ANY(%s)",
        (list(MEASUREMENT_FIELDS),),
    ).fetchall()
    assert {name for (name,) in rows} == telemetry_queries.WHOLE_NUMBER_FIELDS


def test_every_measurement_can_be_bucketed(client, db, auth):
    make_lamp(db, "L11")
    values = {name: float(i + 1) for i, name in enumerate(MEASUREMENT_FIELDS)}
    values["switch_cycles"] = 7
    add_reading(db, "L11", T0, **values)
    add_reading(db, "L11", T0 + timedelta(minutes=10), **{name: value * 3 for name, value in values.items()})
    response = get(
        client,
        "/api/v1/lamps/L11/telemetry",
        auth,
        **{
            "from": "2026-11-25T00:00:00Z",
            "to": "2026-11-25T01:00:00Z",
            "bucket": "1h",
            "fields": ",".join(MEASUREMENT_FIELDS),
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["buckets"][0]["values"] == {
        name: {"avg": value * 2, "min": value, "max": value * 3} for name, value in values.items()
    }


def test_default_fields_and_range(client, db, auth):
    make_lamp(db, "L2")
    now = datetime.now(UTC)
    add_reading(db, "L2", now - timedelta(hours=2), power_w=40.0)
    add_reading(db, "L2", now - timedelta(hours=25), power_w=80.0)  # before the default 24 h
    body = get(client, "/api/v1/lamps/L2/telemetry", auth).json()
    assert body["bucket"] == "1h"
    assert body["fields"] == ["voltage_v", "current_a", "power_w", "power_factor", "dim_level", "driver_temp_c"]
    assert [b["values"]["power_w"]["avg"] for b in body["buckets"]] == [40.0]
    assert datetime.fromisoformat(body["to"]) - datetime.fromisoformat(body["from"]) == timedelta(hours=24)


def test_day_buckets_start_at_the_towns_midnight_also_when_the_clocks_change(client, db, auth):
    make_lamp(db, "L3")
    # Europe/Paris left summer time on 2026-10-25 at 03:00 local (01:00 UTC).
    readings = {
        "2026-10-24T21:30:00Z": 1.0,  # 23:30 CEST, 24 Oct
        "2026-10-24T22:30:00Z": 2.0,  # 00:30 CEST, 25 Oct
        "2026-10-25T22:30:00Z": 4.0,  # 23:30 CET, 25 Oct (a 25-hour day)
        "2026-10-25T23:30:00Z": 8.0,  # 00:30 CET, 26 Oct
    }
    for ts, power in readings.items():
        add_reading(db, "L3", datetime.fromisoformat(ts), power_w=power)
    body = get(
        client,
        "/api/v1/lamps/L3/telemetry",
        auth,
        **{"from": "2026-10-23T00:00:00Z", "to": "2026-10-28T00:00:00Z", "bucket": "1d", "fields": "power_w"},
    ).json()
    assert [(at(b["start"]), b["readings"], b["values"]["power_w"]["avg"]) for b in body["buckets"]] == [
        (at("2026-10-23T22:00:00Z"), 1, 1.0),
        (at("2026-10-24T22:00:00Z"), 2, 3.0),
        (at("2026-10-25T23:00:00Z"), 1, 8.0),
    ]


def test_raw_readings_come_in_time_order_with_the_requested_fields(client, auth, twelve_readings):
    body = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{
            "from": "2026-11-25T00:15:00Z",
            "to": "2026-11-25T00:45:00Z",
            "bucket": "raw",
            "fields": "voltage_v,power_w",
        },
    ).json()
    assert body["buckets"] is None
    assert [(at(p["ts"]), p["values"]) for p in body["points"]] == [
        (at("2026-11-25T00:20:00Z"), {"voltage_v": 232.0, "power_w": 30.0}),
        (at("2026-11-25T00:30:00Z"), {"voltage_v": 233.0, "power_w": 40.0}),
        (at("2026-11-25T00:40:00Z"), {"voltage_v": 234.0, "power_w": 50.0}),
    ]


def test_raw_readings_are_capped_with_a_clear_400(client, db, auth):
    make_lamp(db, "L4")
    db.execute(
        """INSERT INTO readings (lamp_id, ts, power_w)
           SELECT 'L4', %s + g * interval '1 second', 1 FROM generate_series(0, 10000) g""",
        (T0,),
    )
    params = {"from": "2026-11-25T00:00:00Z", "bucket": "raw", "fields": "power_w"}
    response = get(client, "/api/v1/lamps/L4/telemetry", auth, **params, to="2026-11-25T03:00:00Z")
    assert response.status_code == 400
    problem = response.json()
    assert problem["type"] == "urn:streetlight:problem:range-too-large"
    assert "10,000" in problem["detail"] and "narrow the range" in problem["detail"]
    exactly_cap = get(client, "/api/v1/lamps/L4/telemetry", auth, **params, to="2026-11-25T02:46:40Z")
    assert exactly_cap.status_code == 200
    assert len(exactly_cap.json()["points"]) == 10_000


def test_group_and_circuit_buckets_cover_all_their_lamps(client, db, auth):
    make_lamp(db, "G1", group_name="gare", circuit="C7")
    make_lamp(db, "G2", group_name="gare", circuit="C8")
    make_lamp(db, "G3", group_name="autre", circuit="C7")
    for minutes, (p1, p2, p3) in enumerate([(10.0, 30.0, 1000.0), (20.0, 40.0, 1000.0)]):
        ts = T0 + timedelta(minutes=minutes)
        add_reading(db, "G1", ts, power_w=p1)
        add_reading(db, "G2", ts, power_w=p2)
        add_reading(db, "G3", ts, power_w=p3)
    window = {"from": "2026-11-25T00:00:00Z", "to": "2026-11-25T01:00:00Z", "fields": "power_w"}
    group = get(client, "/api/v1/groups/gare/telemetry", auth, **window).json()
    assert (group["scope"], group["name"], group["lamp_count"]) == ("group", "gare", 2)
    [bucket] = group["buckets"]
    assert (bucket["readings"], bucket["lamps"], bucket["values"]["power_w"]) == (
        4,
        2,
        {"avg": 25.0, "min": 10.0, "max": 40.0},
    )
    circuit = get(client, "/api/v1/circuits/C7/telemetry", auth, **window).json()
    [bucket] = circuit["buckets"]
    assert (circuit["scope"], bucket["readings"], bucket["lamps"], bucket["values"]["power_w"]) == (
        "circuit",
        4,
        2,
        {"avg": 507.5, "min": 10.0, "max": 1000.0},
    )


def test_unknown_scopes_are_404(client, db, auth):
    assert get(client, "/api/v1/lamps/NOPE/telemetry", auth).status_code == 404
    assert get(client, "/api/v1/groups/nowhere/telemetry", auth).json()["detail"] == "no lamp in group nowhere"
    assert get(client, "/api/v1/circuits/C0/telemetry", auth).status_code == 404


@pytest.mark.parametrize(
    ("path", "params", "field", "message"),
    [
        (
            "/api/v1/lamps/L1/telemetry",
            {"from": "2026-11-25T02:00:00Z", "to": "2026-11-25T01:00:00Z"},
            "from",
            "from must be before to",
        ),
        (
            "/api/v1/lamps/L1/telemetry",
            {"from": "2026-11-25T01:00:00Z", "to": "2026-11-25T01:00:00Z"},
            "from",
            "from must be before to",
        ),
        (
            "/api/v1/lamps/L1/telemetry",
            {"from": "2024-01-01T00:00:00Z", "to": "2026-11-25T00:00:00Z", "bucket": "1d"},
            "from",
            "at most 400 days",
        ),
        (
            "/api/v1/lamps/L1/telemetry",
            {"from": "2026-11-25T00:00:00", "to": "2026-11-25T01:00:00Z"},
            "from",
            "UTC offset",
        ),
        ("/api/v1/lamps/L1/telemetry", {"fields": "power_w,watts"}, "fields", "unknown field(s) watts"),
        ("/api/v1/lamps/L1/telemetry", {"bucket": "2h"}, "bucket", "Input should be"),
        ("/api/v1/lamps/L1/telemetry", {"from": "yesterday"}, "from", "datetime"),
        ("/api/v1/groups/centre/telemetry", {"bucket": "raw"}, "bucket", "raw readings are for one lamp"),
    ],
)
def test_invalid_ranges_and_fields_are_422_problems(client, auth, twelve_readings, path, params, field, message):
    response = get(client, path, auth, **params)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    [error] = response.json()["errors"]
    assert (error["location"], error["field"]) == ("query", field)
    assert message in error["message"]


def test_too_many_buckets_is_a_400(client, auth, twelve_readings):
    response = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{"from": "2025-11-25T00:00:00Z", "to": "2026-11-25T00:00:00Z", "bucket": "5min"},
    )
    assert response.status_code == 400
    assert "5min buckets over this range" in response.json()["detail"]
    hourly = get(
        client,
        "/api/v1/lamps/L1/telemetry",
        auth,
        **{"from": "2025-11-25T00:00:00Z", "to": "2026-11-25T03:00:00Z", "bucket": "1h", "fields": "power_w"},
    )
    assert [b["readings"] for b in hourly.json()["buckets"]] == [6, 6]


def test_only_the_contracts_fields_can_be_aggregated(db):
    from api.telemetry.queries import bucketed_readings_json

    with pytest.raises(ValueError, match="not measurement fields"):
        bucketed_readings_json(
            db,
            ["L1"],
            T0,
            T0 + timedelta(hours=1),
            width=timedelta(hours=1),
            time_zone="UTC",
            fields=["power_w", "lamp_id) FROM lamps --"],
        )
