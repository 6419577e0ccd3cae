"""The whole prediction loop on the simulator, the way the product runs it.

A small town with a short, failure-heavy history goes over MQTT into the ingester and the
database; `streetlight model train` learns from it, `model score` scores every lamp, the
riskiest lamp is in the technicians' list with its reasons, and closing its work order as
repaired records the repair for the next training.
"""

from __future__ import annotations

import subprocess
import sys

import psycopg

from core.vocabulary import Role
from simulators.town import generate_town, town_to_csv
from tests.api.factories import make_user
from tests.api.fleet_factories import api_client, bearer
from tests.helpers import REPO_ROOT, ingester_env, settled_count, start_cli, stop_process

LAMPS, DAYS, SEED = 60, 90, 5
START = "2026-03-01T00:00:00+00:00"
LAST_DAY = "2026-05-29"


def cli(args: list[str], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "streetlight", *args],
        env=env,
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_history_train_score_work_order(timescale_url, mqtt_url, topic_prefix, tmp_path):
    env = ingester_env(timescale_url, mqtt_url, topic_prefix, f"ingest-{topic_prefix.split('/')[1]}")
    town = tmp_path / "town.csv"
    town_to_csv(generate_town(LAMPS, seed=SEED), town)
    assert cli(["lamps", "import", str(town)], env).returncode == 0

    ingester = start_cli(["ingest"], env, tmp_path / "ingest.log")
    try:
        truth = tmp_path / "truth.csv"
        history = cli(
            [
                "simulate",
                "history",
                "--lamps",
                str(LAMPS),
                "--seed",
                str(SEED),
                "--start",
                START,
                "--days",
                str(DAYS),
                "--interval",
                "3600",
                "--batch",
                "24",
                "--failure-scale",
                "100",
                "--truth",
                str(truth),
            ],
            env,
        )
        assert history.returncode == 0, history.stderr
        expected = LAMPS * 24 * DAYS
        assert settled_count(timescale_url, "SELECT count(*) FROM readings", expected, timeout_s=600) == expected
    finally:
        stop_process(ingester)
    with psycopg.connect(timescale_url) as conn:
        failures = conn.execute("SELECT count(*) FROM events WHERE type = 'lamp_failure'").fetchone()[0]
    assert failures >= 10  # a failure-heavy history

    trained = cli(["model", "train", "--horizon", "7", "--k", "5"], env)
    assert trained.returncode == 0, trained.stderr
    assert "split: train 2026-03-31" in trained.stderr
    assert trained.stdout.startswith("model 2026")
    # the circuit supply warnings are fitted, or the version says why not
    assert "\ncircuit supply warnings: " in trained.stdout
    version = trained.stdout.split()[1].rstrip(":")

    scored = cli(["model", "score", "--day", LAST_DAY], env)
    assert scored.returncode == 0, scored.stderr
    assert f"scored {LAMPS} lamps on the features of {LAST_DAY} with model {version}" in scored.stdout
    with psycopg.connect(timescale_url) as conn:
        rows = conn.execute(
            "SELECT lamp_id, probability, model_version, horizon_days, reasons FROM lamp_predictions"
            " WHERE feature_day = %s ORDER BY probability DESC, lamp_id",
            (LAST_DAY,),
        ).fetchall()
        token = make_user(conn, Role.TECHNICIAN)
        conn.commit()
    assert len(rows) == LAMPS
    assert {(r[2], r[3]) for r in rows} == {(version, 7)}
    riskiest, probability, _, _, reasons = rows[0]
    assert reasons, "the riskiest lamp comes with its reasons"
    assert all(r["text"] and r["text_fr"] and r["weight"] > 0 for r in reasons)

    with api_client(timescale_url) as client:
        listed = client.get("/api/v1/predictions", headers=bearer(token))
        assert listed.status_code == 200, listed.text
        first = listed.json()["items"][0]
        assert first["lamp_id"] == riskiest
        created = client.post(
            "/api/v1/work-orders", json={"lamp_id": riskiest, "source": "prediction"}, headers=bearer(token)
        )
        assert created.status_code == 201, created.text
        order_id = created.json()["id"]
        closed = client.post(
            f"/api/v1/work-orders/{order_id}/close",
            json={"outcome": "repaired", "failure_found": True, "notes": "driver replaced"},
            headers=bearer(token),
        )
        assert closed.status_code == 200, closed.text
    with psycopg.connect(timescale_url) as conn:
        recorded = conn.execute(
            "SELECT type, source FROM events WHERE lamp_id = %s AND source = 'technician' ORDER BY ts", (riskiest,)
        ).fetchall()
        state = conn.execute("SELECT state FROM lamps WHERE lamp_id = %s", (riskiest,)).fetchone()[0]
    assert recorded == [("lamp_failure", "technician"), ("repaired", "technician")]
    assert state == "in_service"

    judged = cli(["model", "evaluate", "--truth", str(truth)], env)
    assert judged.returncode == 0, judged.stderr
    assert f"model {version} against {truth}" in judged.stdout
    assert "all_rules" in judged.stdout and "failures caught by mode" in judged.stdout

    listed = cli(["model", "list"], env)
    assert listed.returncode == 0 and version in listed.stdout and "ready" in listed.stdout
