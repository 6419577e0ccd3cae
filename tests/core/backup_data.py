"""A database with something in every table, and a fingerprint of all of it, for the backup tests.

The rows go in with plain SQL at fixed times, so that two runs fill the same rows; the
fingerprint is, per table, the row count and an md5 of every row's text in a fixed order.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime

import psycopg

from core import db

LAMPS = 30
READING_DAYS = 6  # one chunk a day at the default interval
READINGS_PER_DAY = 96  # every 15 minutes
READINGS = LAMPS * READING_DAYS * READINGS_PER_DAY
FIRST_READING = datetime(2026, 11, 1, tzinfo=UTC)
MODEL_ARTIFACT_BYTES = 300_000  # big enough to be stored out of line (TOAST)

# Exact row counts `fill` leaves in the tables a town's service cannot lose.
EXPECTED_ROWS = {
    "lamps": LAMPS,
    "readings": READINGS,
    "events": 40,
    "lamp_status": LAMPS,
    "dead_letters": 4,
    "unknown_lamps": 3,
    "plan_pushes": LAMPS * 2,
    "plan_acks": LAMPS + 10,
    "users": 3,
    "api_tokens": 2,
    "sessions": 1,
    "audit_log": 12,
    "model_versions": 1,
    "lamp_predictions": LAMPS,
    "circuit_predictions": 3,
    "work_orders": 5,
    "dimming_profiles": 2,
    "dimming_profile_versions": 3,
    "dimming_assignments": 2,
    "dimming_calendar": 1,
    "dimming_overrides": 1,
    "lamp_daily": LAMPS * READING_DAYS,
}

_FILL_SQL = """
INSERT INTO lamps (lamp_id, name, lat, lon, street, circuit, group_name, lighting_class, rated_power_w, install_date)
SELECT format('L%s', lpad(i::text, 3, '0')), format('Lamp %s', i), 45.75 + i * 0.001, 4.85 + i * 0.001,
       format('Rue %s', i % 4), format('C%s', i % 3), 'centre', 'P4', 30 + i % 5, DATE '2020-01-01' + i
FROM generate_series(1, 30) i;

UPDATE lamp_status SET online = (right(lamp_id, 1)::int % 2 = 0), changed_at = TIMESTAMPTZ '2026-11-06 12:00Z';

INSERT INTO readings (lamp_id, ts, seq, voltage_v, current_a, power_w, power_factor, energy_wh, dim_level,
                      driver_temp_c, ambient_lux, burning_hours, switch_cycles, rssi_dbm, extra, received_at)
SELECT format('L%s', lpad(l::text, 3, '0')), TIMESTAMPTZ '2026-11-01 00:00Z' + s * INTERVAL '15 minutes', s,
       230 + (l * 7 + s) % 13 * 0.1, 0.12 + s % 5 * 0.001, 27.5 + (l + s) % 9 * 0.25, 0.95,
       1000 * l + s * 7.5, CASE WHEN s % 96 BETWEEN 24 AND 72 THEN 0 ELSE 100 END,
       CASE WHEN s % 17 = 0 THEN NULL ELSE 30 + s % 11 * 0.5 END, s % 96 * 120.5, 20000 + s * 0.25, 1000 + s / 96,
       -70 - (l + s) % 20, CASE WHEN s % 50 = 0 THEN jsonb_build_object('fw', '1.2.' || l, 'note', 'é ✓') END,
       TIMESTAMPTZ '2026-11-01 00:00Z' + s * INTERVAL '15 minutes' + INTERVAL '2 seconds'
FROM generate_series(1, 30) l, generate_series(0, 6 * 96 - 1) s;

INSERT INTO events (lamp_id, ts, type, detail, source)
SELECT format('L%s', lpad((i % 30 + 1)::text, 3, '0')), TIMESTAMPTZ '2026-11-02 00:00Z' + i * INTERVAL '1 hour',
       (ARRAY['lamp_failure', 'day_burning', 'cycling', 'supply_loss'])[i % 4 + 1],
       jsonb_build_object('i', i), (ARRAY['controller', 'service', 'technician'])[i % 3 + 1]
FROM generate_series(1, 40) i;

INSERT INTO dead_letters (received_at, topic, lamp_id, reason, detail, payload) VALUES
    ('2026-11-03 01:00Z', 'streetlight/v1/lamps/L001/telemetry', 'L001', 'bad_json', 'line 1', '\\x00ff7b626164'),
    ('2026-11-03 02:00Z', 'streetlight/v1/lamps/X9/telemetry', 'X9', 'unknown_lamp', '', '\\x7b7d'),
    ('2026-11-03 03:00Z', 'streetlight/v1/lamps/L002/event', 'L002', 'bad_utf8', 'byte 0', '\\xc328'),
    ('2026-11-03 04:00Z', 'streetlight/v1/lamps/L003/telemetry', 'L003', 'too_large', '', '\\x');

INSERT INTO unknown_lamps (lamp_id, first_seen_at, last_seen_at, message_count, last_topic, status) VALUES
    ('X9', '2026-11-03 02:00Z', '2026-11-04 02:00Z', 12, 'streetlight/v1/lamps/X9/telemetry', 'pending'),
    ('X10', '2026-11-03 02:00Z', '2026-11-03 02:00Z', 1, 'streetlight/v1/lamps/X10/status', 'dismissed'),
    ('L030', '2026-10-30 02:00Z', '2026-10-31 02:00Z', 3, 'streetlight/v1/lamps/L030/telemetry', 'commissioned');

INSERT INTO plan_pushes (lamp_id, version, plan, created_at, pushed_at, attempts, ack_status, ack_reason, acked_at)
SELECT lamp_id, v, jsonb_build_object('version', v, 'points', jsonb_build_array(jsonb_build_object(
           'at', '2026-11-05T16:40:00Z', 'level', 100), jsonb_build_object('at', '2026-11-05T22:00:00Z', 'level', 40))),
       TIMESTAMPTZ '2026-11-05 12:00Z' + v * INTERVAL '1 day', TIMESTAMPTZ '2026-11-05 12:00:01Z' + v * INTERVAL '1 day',
       1, CASE WHEN v = 1 THEN 'applied' END, NULL, CASE WHEN v = 1 THEN TIMESTAMPTZ '2026-11-05 12:00:03Z' END
FROM lamps, generate_series(1, 2) v;

INSERT INTO plan_acks (lamp_id, version, status, reason, received_at)
SELECT lamp_id, 1, 'applied', NULL, TIMESTAMPTZ '2026-11-05 12:00:03Z' FROM lamps
UNION ALL
SELECT lamp_id, 2, 'rejected', 'too many points', TIMESTAMPTZ '2026-11-06 12:00:03Z' FROM lamps WHERE lamp_id <= 'L010';

INSERT INTO users (username, display_name, role, password_hash, locale) VALUES
    ('ada', 'Ada', 'admin', '$argon2id$v=19$m=65536,t=3,p=4$c2FsdA$aGFzaA', 'en'),
    ('tech.1', 'Technicienne', 'technician', NULL, 'fr'),
    ('energie', 'Énergie', 'energy_manager', '$argon2id$v=19$m=65536,t=3,p=4$c2Fs$aGFz', 'fr');
INSERT INTO api_tokens (user_id, name, token_sha256, created_at)
SELECT user_id, 'tablet', md5(username) || md5(username), '2026-11-01 08:00Z' FROM users WHERE role <> 'admin';
INSERT INTO sessions (session_sha256, user_id, csrf_token, created_at, expires_at)
SELECT repeat('ab', 32), user_id, 'csrf', '2026-11-01 08:00Z', '2026-11-01 20:00Z' FROM users WHERE username = 'ada';
INSERT INTO audit_log (at, actor, action, target, before, after, client_ip)
SELECT TIMESTAMPTZ '2026-11-01 08:00Z' + i * INTERVAL '1 minute', 'ada', (ARRAY['login', 'lamp.update', 'user.create'])[i % 3 + 1],
       format('L%s', i), jsonb_build_object('state', 'in_service'), jsonb_build_object('state', 'faulty'), '192.0.2.' || i
FROM generate_series(1, 12) i;

"""

_MODEL_SQL = """
INSERT INTO model_versions (version, created_at, trained_from, trained_to, horizon_days, features, metrics, artifact)
VALUES ('20261105T021700Z', '2026-11-05 02:17Z', '2025-11-01', '2026-10-31', 14, '["power_ratio_avg", "burning_h"]',
        '{"pr_auc": 0.52}', %s);
"""

_FILL_AFTER_MODEL_SQL = """
INSERT INTO lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days, model_version, reasons)
SELECT lamp_id, '2026-11-05 02:20Z', '2026-11-04', (right(lamp_id, 2)::int % 10) / 10.0, 14, '20261105T021700Z',
       '[{"feature": "power_ratio_avg", "text": "power falling"}]'
FROM lamps;
INSERT INTO circuit_predictions (circuit, scored_at, feature_day, probability, horizon_days, model_version, lamps)
SELECT format('C%s', i), '2026-11-05 02:20Z', '2026-11-04', i * 0.2, 14, '20261105T021700Z', 10
FROM generate_series(0, 2) i;

INSERT INTO work_orders (lamp_id, source, prediction_scored_at, fault_event_ts, fault_event_type, status, scheduled_for,
                         outcome, failure_found, notes, created_by, created_at, updated_at, closed_at, closed_by) VALUES
    ('L001', 'prediction', '2026-11-05 02:20Z', NULL, NULL, 'open', NULL, NULL, false, '', 'ada',
     '2026-11-05 07:00Z', '2026-11-05 07:00Z', NULL, NULL),
    ('L002', 'fault', NULL, '2026-11-02 01:00Z', 'day_burning', 'scheduled', '2026-11-07', NULL, false, '', 'ada',
     '2026-11-05 07:00Z', '2026-11-05 07:00Z', NULL, NULL),
    ('L003', 'manual', NULL, NULL, NULL, 'done', NULL, 'repaired', true, 'driver replaced', 'tech.1',
     '2026-11-05 07:00Z', '2026-11-06 10:00Z', '2026-11-06 10:00Z', 'tech.1'),
    ('L004', 'manual', NULL, NULL, NULL, 'cancelled', NULL, NULL, false, '', 'ada',
     '2026-11-05 07:00Z', '2026-11-05 08:00Z', NULL, NULL),
    ('L005', 'manual', NULL, NULL, NULL, 'open', NULL, NULL, false, 'Crème brûlée — ✓ «quotes»', 'ada',
     '2026-11-05 07:00Z', '2026-11-05 07:00Z', NULL, NULL);

INSERT INTO dimming_profiles (name, version, created_at, updated_at, updated_by) VALUES
    ('Part-night', 2, '2026-11-01 09:00Z', '2026-11-02 09:00Z', 'energie'),
    ('Full', 1, '2026-11-01 09:00Z', '2026-11-01 09:00Z', 'energie');
INSERT INTO dimming_profile_versions (profile_id, version, name, description, twilight, steps, created_at, created_by)
SELECT profile_id, v, name, '', 'sunset',
       jsonb_build_array(jsonb_build_object('anchor', 'dusk', 'offset_min', 0, 'level', 100),
                         jsonb_build_object('anchor', 'clock', 'time', '23:00', 'level', 30 + v * 10)),
       TIMESTAMPTZ '2026-11-01 09:00Z' + v * INTERVAL '1 day', 'energie'
FROM dimming_profiles, generate_series(1, version) v;
INSERT INTO dimming_assignments (target_kind, target, profile_id, created_at, created_by)
SELECT 'town', '', profile_id, TIMESTAMPTZ '2026-11-01 09:00Z', 'energie' FROM dimming_profiles WHERE name = 'Part-night'
UNION ALL
SELECT 'circuit', 'C1', profile_id, TIMESTAMPTZ '2026-11-01 09:00Z', 'energie' FROM dimming_profiles WHERE name = 'Full';
INSERT INTO dimming_calendar (name, profile_id, kind, weekdays, created_at, updated_at, created_by)
SELECT 'Weekends', profile_id, 'weekdays', '{6,7}', '2026-11-01 09:00Z', '2026-11-01 09:00Z', 'energie'
FROM dimming_profiles WHERE name = 'Full';
INSERT INTO dimming_overrides (target_kind, target, level, starts_at, expires_at, reason, created_by, created_at)
VALUES ('street', 'Rue 1', 100, '2026-11-06 18:00Z', '2026-11-07 02:00Z', 'Christmas market', 'energie',
        '2026-11-06 12:00Z');

INSERT INTO lamp_daily (lamp_id, day, readings, gap_mean_s, lit_readings, power_ratio_avg, voltage_avg_v,
                        burning_h, refreshed_at)
SELECT lamp_id, DATE '2026-11-01' + d, 96, 900, 48, 0.98, 230.4, 12.0, '2026-11-07 02:00Z'
FROM lamps, generate_series(0, 5) d;
"""


def fill(url: str) -> None:
    """Put EXPECTED_ROWS into a migrated, empty database."""
    artifact = random.Random(14).randbytes(MODEL_ARTIFACT_BYTES)
    with db.connect(url) as conn:
        conn.execute(_FILL_SQL)
        conn.execute(_MODEL_SQL, (artifact,))
        conn.execute(_FILL_AFTER_MODEL_SQL)


def tables(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        " AND table_type = 'BASE TABLE' ORDER BY 1"
    ).fetchall()
    return [str(r[0]) for r in rows]


def fingerprint(url: str) -> dict[str, tuple[int, str]]:
    """Per table of the public schema: (rows, md5 of every row's text, sorted)."""
    found: dict[str, tuple[int, str]] = {}
    with db.connect(url) as conn:
        for table in tables(conn):
            # Table names come from the catalog, never from input.
            row = conn.execute(
                f"SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '')) FROM {table} t"
            ).fetchone()
            assert row is not None
            found[table] = (int(row[0]), str(row[1]))
    return found


def sequences(url: str) -> dict[str, int | None]:
    with db.connect(url) as conn:
        rows = conn.execute("SELECT sequencename, last_value FROM pg_sequences WHERE schemaname = 'public'").fetchall()
    return {str(r[0]): r[1] for r in rows}


def readings_checksum(url: str) -> tuple[int, str]:
    """Count and md5 of the readings in key order: the table a backup most needs to carry whole."""
    with db.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*), md5(string_agg(r::text, E'\\n' ORDER BY lamp_id, ts)) FROM readings r"
        ).fetchone()
    assert row is not None
    return int(row[0]), str(row[1])


def readings_chunks(url: str) -> list[tuple[str, datetime, datetime, int]]:
    """Each chunk of the readings hypertable: its name, time range and rows."""
    with db.connect(url) as conn:
        rows = conn.execute(
            """SELECT c.chunk_name, c.range_start, c.range_end,
                      (SELECT count(*) FROM readings r WHERE r.tableoid = format('%I.%I', c.chunk_schema,
                                                                                 c.chunk_name)::regclass)
               FROM timescaledb_information.chunks c WHERE c.hypertable_name = 'readings' ORDER BY c.range_start"""
        ).fetchall()
    return [(str(r[0]), r[1], r[2], int(r[3])) for r in rows]
