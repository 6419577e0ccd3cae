"""What every package's command-line hook shares: the error shown in one line, the
checks of the required settings, clean stopping on signals, and the shape of a hook."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

from core import db
from core.settings import Settings

log = logging.getLogger("streetlight")

# A command runs with its parsed arguments and the settings; `main` turns CliError into exit code 2.
Command = Callable[[argparse.Namespace, Settings], None]
# The `add` a hook receives: `add(parent, name, func, help)` makes one command and returns its parser.
AddCommand = Callable[[Any, str, Command, str], argparse.ArgumentParser]
# What `add_subparsers()` returns; argparse has no public name for its type.
Subparsers = argparse._SubParsersAction


class CliError(Exception):
    """An error to show the user in one line, without a traceback."""


def add_command(parent: Subparsers, name: str, func: Command, help_: str) -> argparse.ArgumentParser:
    """One command under `parent`, its help also its description, running `func`."""
    parser: argparse.ArgumentParser = parent.add_parser(name, help=help_, description=help_)
    parser.set_defaults(func=func)
    return parser


def require_database(settings: Settings) -> str:
    if not settings.database_url:
        raise CliError("STREETLIGHT_DATABASE_URL is not set (e.g. postgresql://streetlight@127.0.0.1:5432/streetlight)")
    return settings.database_url


def require_broker(settings: Settings) -> str:
    if not settings.mqtt_url:
        raise CliError("STREETLIGHT_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
    return settings.mqtt_url


def require_migrated_database(settings: Settings, *, wait_s: float | None = None) -> str:
    """The database URL, its schema brought up to date first (a command may run before `serve` ever has).

    With `wait_s`, wait that long for the database to accept connections before migrating.
    """
    url = require_database(settings)
    if wait_s is not None:
        db.wait_for_database(url, timeout_s=wait_s)
    db.upgrade(url, chunk_interval_hours=settings.chunk_interval_hours)
    return url


def stop_event_on_signals() -> threading.Event:
    """An event set by Ctrl-C or SIGTERM, so that long-running commands stop cleanly."""
    stop = threading.Event()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        log.info("stopping (signal %s); press Ctrl-C again to abort", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return stop
