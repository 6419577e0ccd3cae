"""The plan delivery endpoints: push status per state, and a push asked of the active scheduler."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from core.vocabulary import Role
from dimming.leader import Leadership
from dimming.scheduler import CHANNEL, PUSH_ALL_REQUEST, PUSH_REQUEST
from tests.api.factories import make_user
from tests.api.fleet_factories import bearer, make_lamp

pytestmark = pytest.mark.timescale

STATUS = "/api/v1/dimming/push-status"


def plan_json(created: datetime, hours: float) -> str:
    return json.dumps(
        {
            "version": 1,
            "generated_at": created.isoformat(),
            "points": [
                {"at": created.isoformat(), "level": 0},
                {"at": (created + timedelta(hours=hours)).isoformat(), "level": 0},
            ],
        }
    )


def add_push(
    conn,
    lamp_id: str,
    version: int,
    *,
    ago: timedelta,
    hours: float = 72,
    status: str | None = None,
    reason: str | None = None,
) -> None:
    created = datetime.now(UTC) - ago
    conn.execute(
        """INSERT INTO plan_pushes (lamp_id, version, plan, created_at, pushed_at, attempts, ack_status, ack_reason,
                                    acked_at)
           VALUES (%s, %s, %s, %s, %s, 1, %s, %s, CASE WHEN %s::text IS NULL THEN NULL ELSE now() END)""",
        (lamp_id, version, plan_json(created, hours), created, created, status, reason, status),
    )


@pytest.fixture
def town(db):
    """Lamps in every push state, and one that gets no plan."""
    for n, state in enumerate(["in_service"] * 6 + ["faulty", "retired"], start=1):
        make_lamp(db, f"L{n}", lat=48.85, lon=2.35, state=state)
    make_lamp(db, "L9")  # no coordinates: no plan
    add_push(db, "L1", 1, ago=timedelta(minutes=5), status="applied")
    add_push(db, "L2", 1, ago=timedelta(days=1), status="applied")
    add_push(db, "L2", 2, ago=timedelta(minutes=1))  # pending; version 1 still runs
    add_push(db, "L3", 1, ago=timedelta(minutes=5), status="rejected", reason="plan has 30 points; at most 24")
    add_push(db, "L4", 1, ago=timedelta(hours=3))  # unanswered for hours: stale
    add_push(db, "L5", 1, ago=timedelta(days=2, hours=1), status="applied")  # runs out within a day: stale
    # L6 never had a plan: stale. L7 is faulty but its controller still runs a plan.
    add_push(db, "L7", 1, ago=timedelta(minutes=5), status="applied")
    add_push(db, "L8", 1, ago=timedelta(minutes=5), status="applied")  # retired: not counted
    return db


def test_push_status_counts_each_state_and_lists_the_lamps(client, town):
    token = make_user(town, Role.TECHNICIAN)
    response = client.get(STATUS, headers=bearer(token))
    assert response.status_code == 200
    body = response.json()
    assert body["counts"] == {"applied": 2, "pending": 1, "rejected": 1, "stale": 3}
    assert body["total"] == 7
    assert body["scheduler"] == {"active": False, "name": None, "since": None}
    by_lamp = {item["lamp_id"]: item for item in body["items"]}
    assert {lamp: item["state"] for lamp, item in by_lamp.items()} == {
        "L1": "applied",
        "L2": "pending",
        "L3": "rejected",
        "L4": "stale",
        "L5": "stale",
        "L6": "stale",
        "L7": "applied",
    }
    assert by_lamp["L2"]["version"] == 2 and by_lamp["L2"]["applied_version"] == 1
    assert by_lamp["L3"]["detail"] == "version 1 rejected: plan has 30 points; at most 24"
    assert by_lamp["L6"]["detail"] == "no plan pushed yet"
    assert by_lamp["L6"]["version"] is None
    assert "runs out" in by_lamp["L5"]["detail"]
    assert "unanswered since" in by_lamp["L4"]["detail"]


def test_push_status_filters_by_state_and_pages(client, town):
    token = make_user(town, Role.ENERGY_MANAGER)
    response = client.get(STATUS, params={"state": ["stale", "rejected"], "limit": 2}, headers=bearer(token))
    body = response.json()
    assert body["total"] == 4
    assert [item["lamp_id"] for item in body["items"]] == ["L3", "L4"]
    second = client.get(STATUS, params={"state": ["stale", "rejected"], "limit": 2, "offset": 2}, headers=bearer(token))
    assert [item["lamp_id"] for item in second.json()["items"]] == ["L5", "L6"]
    # The counts stay those of every state.
    assert second.json()["counts"]["applied"] == 2


def test_an_unknown_state_is_refused_by_name(client, town):
    token = make_user(town, Role.TECHNICIAN)
    response = client.get(STATUS, params={"state": "lost"}, headers=bearer(token))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "state.0"


def test_the_active_scheduler_is_named(client, town, timescale_url):
    token = make_user(town, Role.TECHNICIAN)
    leader = Leadership(timescale_url, name="lights-2:77")
    try:
        assert leader.try_acquire()
        scheduler = client.get(STATUS, headers=bearer(token)).json()["scheduler"]
    finally:
        leader.release()
    assert scheduler["active"] is True
    assert scheduler["name"] == "lights-2:77"


@pytest.mark.parametrize(("body", "payload"), [(None, PUSH_REQUEST), ({"all": True}, PUSH_ALL_REQUEST)])
def test_a_push_request_reaches_the_scheduler_and_is_audited(client, town, timescale_url, body, payload):
    token = make_user(town, Role.ENERGY_MANAGER, "mathilde")
    with psycopg.connect(timescale_url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        response = client.post("/api/v1/dimming/push", json=body, headers=bearer(token))
        assert response.status_code == 202
        notices = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
    assert notices == [payload]
    assert response.json()["all"] is (payload == PUSH_ALL_REQUEST)
    assert response.json()["scheduler"]["active"] is False
    actor, action, after = town.execute(
        "SELECT actor, action, after FROM audit_log WHERE action = 'dimming.push'"
    ).fetchone()
    assert (actor, action, after) == ("mathilde", "dimming.push", {"all": payload == PUSH_ALL_REQUEST})


def test_a_technician_may_not_ask_for_a_push(client, town):
    token = make_user(town, Role.TECHNICIAN)
    assert client.post("/api/v1/dimming/push", json={"all": True}, headers=bearer(token)).status_code == 403
    assert town.execute("SELECT count(*) FROM audit_log WHERE action = 'dimming.push'").fetchone()[0] == 0
