"""The real application, served by uvicorn in a process of its own over the benchmark database."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.common import REPO_ROOT, BenchmarkError, service_env, wait_until

if TYPE_CHECKING:
    from fastapi import FastAPI

DATABASE_URL_VARIABLE = "STREETLIGHT_BENCH_DATABASE_URL"
APP_FACTORY = "benchmarks.api.server:app_from_environment"


def app_from_environment() -> FastAPI:
    """The application over the benchmark database (uvicorn --factory, one call per worker)."""
    from api.app import create_app, open_pool
    from core.settings import get_settings

    settings = get_settings()
    pool = open_pool(os.environ[DATABASE_URL_VARIABLE], settings)  # as the service opens it
    return create_app(pool, settings=settings)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _uvicorn_command(port: int, workers: int, http: str, loop: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        APP_FACTORY,
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--http",
        http,
        "--loop",
        loop,
        "--log-level",
        "warning",
        "--no-access-log",
    ]


@contextlib.contextmanager
def served(
    url: str, *, workers: int, port: int, log_path: Path, pool_size: int | None, http: str = "auto", loop: str = "auto"
) -> Iterator[subprocess.Popen]:
    """uvicorn serving the application; stopped on exit. `pool_size`: STREETLIGHT_DB_POOL_SIZE, if given.
    `http`, `loop`: uvicorn's choices (auto takes httptools and uvloop when installed)."""
    env = service_env(**{DATABASE_URL_VARIABLE: url})
    if pool_size:
        env["STREETLIGHT_DB_POOL_SIZE"] = str(pool_size)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            _uvicorn_command(port, workers, http, loop),
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise BenchmarkError(f"uvicorn exited with code {process.returncode}: {log_path.read_text()[-800:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                return b" 200 " in sock.recv(100)
            return False

        wait_until(answers, 60, "uvicorn")
        time.sleep(1.0 if workers > 1 else 0.2)  # let every worker start
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
