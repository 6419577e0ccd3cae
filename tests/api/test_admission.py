"""More concurrent requests than pooled connections must all be answered, none stalled."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import uvicorn
from psycopg_pool import ConnectionPool

from api.app import create_app
from core.vocabulary import Role
from streetlight.embedded import free_loopback_port
from tests.api.factories import make_user


def test_fifty_clients_share_two_connections(timescale_url: str):
    with psycopg.connect(timescale_url, autocommit=True) as conn:
        conn.execute("INSERT INTO lamps (lamp_id) SELECT 'A' || g FROM generate_series(1, 50) g")
        token = make_user(conn, Role.TECHNICIAN)
    # A short pool timeout turns a stall into errors, which the test would see.
    with ConnectionPool(timescale_url, min_size=1, max_size=2, timeout=5) as pool:
        port = free_loopback_port()
        server = uvicorn.Server(uvicorn.Config(create_app(pool), host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:

            def call(_: int) -> int:
                with httpx.Client(timeout=60) as client:
                    return client.get(
                        f"http://127.0.0.1:{port}/api/v1/lamps", headers={"Authorization": f"Bearer {token}"}
                    ).status_code

            with ThreadPoolExecutor(50) as executor:
                statuses = list(executor.map(call, range(200)))
        finally:
            server.should_exit = True
            thread.join(10)
    assert statuses == [200] * 200
