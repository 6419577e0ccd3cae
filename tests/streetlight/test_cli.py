"""The `streetlight` command as a user runs it: real processes, real servers."""

from __future__ import annotations

import psycopg
import pytest

from simulators.town import generate_town, town_to_csv, town_to_geojson
from tests.helpers import run_cli as run


def test_db_upgrade_twice_reports_the_storage(database_url: str, storage_backend: str):
    first = run(["db", "upgrade"], STREETLIGHT_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    expected = "TimescaleDB" if storage_backend == "timescale" else "no TimescaleDB"
    assert expected in first.stdout


def test_lamps_import_csv_then_geojson_updates(timescale_url: str, tmp_path):
    lamps = generate_town(300, seed=3)
    csv_path, geojson_path = tmp_path / "town.csv", tmp_path / "town.geojson"
    town_to_csv(lamps, csv_path)
    result = run(["lamps", "import", str(csv_path)], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 0, result.stderr
    assert "300 added, 0 updated, 0 unchanged" in result.stdout
    town_to_geojson(lamps, geojson_path)
    result = run(["lamps", "import", str(geojson_path)], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 0, result.stderr
    assert "0 added, 0 updated, 300 unchanged" in result.stdout


def test_a_file_with_bad_rows_imports_nothing_unless_skip_bad(timescale_url: str, tmp_path):
    path = tmp_path / "lamps.csv"
    path.write_text(
        "lamp_id,lat,lon,rated_power_w\n"
        "A1,45.1,4.8,40\n"
        "A2,91.5,4.8,40\n"
        "A 3,45.1,4.8,40\n"
        "A4,45.1,4.8,-2\n"
        "A5,45.2,4.9,60\n"
    )
    result = run(["lamps", "import", str(path)], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 2
    assert "line 3" in result.stderr and "lat 91.5" in result.stderr
    assert "line 4" in result.stderr and "line 5" in result.stderr
    assert "nothing imported" in result.stderr
    with psycopg.connect(timescale_url) as conn:
        row = conn.execute("SELECT count(*) FROM lamps").fetchone()
        assert row is not None and row[0] == 0
    result = run(["lamps", "import", str(path), "--skip-bad"], STREETLIGHT_DATABASE_URL=timescale_url)
    assert result.returncode == 0, result.stderr
    assert "2 added" in result.stdout and "3 skipped" in result.stdout
    with psycopg.connect(timescale_url) as conn:
        ids = [r[0] for r in conn.execute("SELECT lamp_id FROM lamps ORDER BY lamp_id")]
    assert ids == ["A1", "A5"]


def test_commands_say_what_is_missing_instead_of_a_traceback(tmp_path):
    result = run(["db", "upgrade"])
    assert result.returncode == 2
    assert "STREETLIGHT_DATABASE_URL is not set" in result.stderr
    assert "Traceback" not in result.stderr
    result = run(
        ["lamps", "import", str(tmp_path / "missing.csv")], STREETLIGHT_DATABASE_URL="postgresql://x@127.0.0.1/y"
    )
    assert result.returncode == 2 and "no such file" in result.stderr


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "STREETLIGHT_DATABASE_URL"),
        (
            {
                "STREETLIGHT_DATABASE_URL": "postgresql://x@127.0.0.1/y",
                "STREETLIGHT_MQTT_URL": "mqtt://broker.town.example:1883",
            },
            "need credentials",
        ),
    ],
)
def test_serve_refuses_an_unsafe_or_missing_configuration(env: dict[str, str], message: str):
    result = run(["serve"], **env)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_settings_are_reported_in_one_line():
    result = run(["db", "info"], STREETLIGHT_TOPIC_PREFIX="bad/#/prefix")
    assert result.returncode == 2
    assert "STREETLIGHT_TOPIC_PREFIX" in result.stderr or "topic_prefix" in result.stderr
    assert "Traceback" not in result.stderr


def test_simulate_town_writes_an_importable_inventory(tmp_path):
    from core.inventory import load_inventory_file

    out = tmp_path / "town.geojson"
    result = run(["simulate", "town", "--lamps", "250", "--seed", "4", "--out", str(out)])
    assert result.returncode == 0, result.stderr
    parsed = load_inventory_file(out)
    assert len(parsed.records) == 250 and not parsed.errors


@pytest.mark.mqtt
def test_simulate_history_publishes_every_reading_and_writes_the_truth(mqtt_url, topic_prefix, tmp_path):
    truth = tmp_path / "truth.csv"
    result = run(
        [
            "simulate",
            "history",
            "--lamps",
            "10",
            "--days",
            "0.5",
            "--start",
            "2026-03-01T00:00:00+00:00",
            "--truth",
            str(truth),
        ],
        STREETLIGHT_MQTT_URL=mqtt_url,
        STREETLIGHT_TOPIC_PREFIX=topic_prefix,
    )
    assert result.returncode == 0, result.stderr
    # Half a day at one reading per 10 minutes: 72 steps of 10 lamps.
    assert "720 readings in 720 messages" in result.stdout
    assert truth.read_text().startswith("lamp_id,mode,failed_at")
