"""The dimming scheduler inside the running service."""

from __future__ import annotations

from contextlib import ExitStack

from core.settings import Settings


def start(stack: ExitStack, settings: Settings, database_url: str, mqtt_url: str) -> None:
    """Start the plan scheduler; register its stop on `stack`."""
