"""Prometheus metrics: authentication, lamps online, ingest lag and counters, request latency by route."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta

from prometheus_client.parser import text_string_to_metric_families

from api.ops.metrics import ingest_metrics
from core.vocabulary import Role
from tests.api.factories import make_user
from tests.api.fleet_factories import add_dead_letter, add_reading, api_client, bearer, make_lamp, set_status

SNAPSHOT = {
    "messages_received": 120,
    "messages_acked": 118,
    "readings_stored": 100,
    "readings_duplicate": 3,
    "events_stored": 4,
    "dead_letters": Counter({"invalid_json": 2, "unknown_lamp": 5}),
    "flushes": 9,
    "database_available": True,
    "database_outages": 1,
    "batches_rolled_back": 6,
    "broker_connected": False,
}


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def scrape(client, auth) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=auth)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def test_metrics_need_a_role_or_a_token(db, timescale_url):
    with api_client(timescale_url) as client:
        anonymous = client.get("/metrics")
        assert anonymous.status_code == 401
        assert anonymous.headers["www-authenticate"] == "Bearer"
        for role in Role:
            assert client.get("/metrics", headers=bearer(make_user(db, role))).status_code == 200


def test_lamps_online_ingest_lag_and_recent_dead_letters_come_from_the_database(db, timescale_url):
    for lamp_id, online in (("A", True), ("B", True), ("C", False)):
        make_lamp(db, lamp_id)
        set_status(db, lamp_id, online)
    make_lamp(db, "D")
    make_lamp(db, "R", state="retired")
    set_status(db, "R", True)
    now = datetime.now(UTC)
    add_reading(db, "A", now - timedelta(minutes=10), power_w=1.0, received_at=now - timedelta(minutes=9))
    add_reading(db, "B", now - timedelta(seconds=40), power_w=1.0, received_at=now - timedelta(seconds=30))
    add_dead_letter(db, "invalid_json", b"{", received_at=now - timedelta(hours=1))
    add_dead_letter(db, "invalid_json", b"{", received_at=now - timedelta(hours=2))
    add_dead_letter(db, "out_of_range", b"{}", received_at=now - timedelta(hours=3))
    add_dead_letter(db, "out_of_range", b"{}", received_at=now - timedelta(hours=30))

    with api_client(timescale_url) as client:
        metrics = scrape(client, bearer(make_user(db, Role.TECHNICIAN)))
    assert metrics[("streetlight_lamps_online", ())] == 2
    assert metrics[("streetlight_lamps_offline", ())] == 1
    assert metrics[("streetlight_lamps_status_unknown", ())] == 1
    assert 29 <= metrics[("streetlight_ingest_lag_seconds", ())] < 90
    assert metrics[("streetlight_dead_letters_last_24h", (("reason", "invalid_json"),))] == 2
    assert metrics[("streetlight_dead_letters_last_24h", (("reason", "out_of_range"),))] == 1
    # No ingester in this process: no ingest counters.
    assert not any(name.startswith("streetlight_ingest_messages") for name, _ in metrics)


def test_without_readings_there_is_no_lag_sample(db, timescale_url):
    with api_client(timescale_url) as client:
        metrics = scrape(client, bearer(make_user(db, Role.ADMIN)))
    assert ("streetlight_ingest_lag_seconds", ()) not in metrics
    assert metrics[("streetlight_lamps_online", ())] == 0


def test_the_in_process_ingesters_counters_are_exposed(db, timescale_url):
    with api_client(timescale_url, ingest_stats=lambda: SNAPSHOT) as client:
        metrics = scrape(client, bearer(make_user(db, Role.ENERGY_MANAGER)))
    assert metrics[("streetlight_ingest_messages_received_total", ())] == 120
    assert metrics[("streetlight_ingest_messages_acked_total", ())] == 118
    assert metrics[("streetlight_ingest_readings_stored_total", ())] == 100
    assert metrics[("streetlight_ingest_readings_duplicate_total", ())] == 3
    assert metrics[("streetlight_ingest_events_stored_total", ())] == 4
    assert metrics[("streetlight_ingest_database_outages_total", ())] == 1
    assert metrics[("streetlight_ingest_batches_rolled_back_total", ())] == 6
    assert metrics[("streetlight_ingest_dead_letters_total", (("reason", "invalid_json"),))] == 2
    assert metrics[("streetlight_ingest_dead_letters_total", (("reason", "unknown_lamp"),))] == 5
    assert metrics[("streetlight_ingest_database_available", ())] == 1
    assert metrics[("streetlight_ingest_broker_connected", ())] == 0


def test_ingest_metrics_follow_the_snapshot():
    down = ingest_metrics(SNAPSHOT | {"database_available": False, "dead_letters": {}})
    values = {family.name: [s.value for s in family.samples] for family in down}
    assert values["streetlight_ingest_database_available"] == [0.0]
    assert values["streetlight_ingest_dead_letters"] == []


def test_request_latency_is_observed_by_route_template_and_status(db, timescale_url):
    make_lamp(db, "A")
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(timescale_url) as client:
        client.get("/api/v1/lamps/A", headers=auth)
        client.get("/api/v1/lamps/A", headers=auth)
        client.get("/api/v1/lamps/NOPE", headers=auth)
        client.get("/api/v1/lamps/NOPE")
        client.get("/no/such/path", headers=auth)
        metrics = scrape(client, auth)
    count = "streetlight_http_request_duration_seconds_count"

    def labels(route: str, status: str) -> tuple:
        return (("method", "GET"), ("route", route), ("status", status))

    assert metrics[(count, labels("/api/v1/lamps/{lamp_id}", "200"))] == 2
    assert metrics[(count, labels("/api/v1/lamps/{lamp_id}", "404"))] == 1
    assert metrics[(count, labels("/api/v1/lamps/{lamp_id}", "401"))] == 1
    assert metrics[(count, labels("unmatched", "404"))] == 1
    assert metrics[("streetlight_http_request_duration_seconds_sum", labels("/api/v1/lamps/{lamp_id}", "200"))] > 0
    assert not any("NOPE" in str(key) for key in metrics)  # raw paths never become labels


def test_each_application_has_its_own_histogram(db, timescale_url):
    auth = bearer(make_user(db, Role.TECHNICIAN))
    with api_client(timescale_url) as first:
        first.get("/api/v1/lamps", headers=auth)
    with api_client(timescale_url) as second:
        metrics = scrape(second, auth)
    key = (
        "streetlight_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/api/v1/lamps"), ("status", "200")),
    )
    assert key not in metrics
