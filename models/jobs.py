"""The service's scheduled prediction work (nightly scoring)."""

from __future__ import annotations

from apscheduler.schedulers.base import BaseScheduler

from core.settings import Settings


def schedule(scheduler: BaseScheduler, settings: Settings, database_url: str) -> None:
    """Add the prediction jobs to the service's scheduler."""
