"""`streetlight ingest`: run an ingester on its own, and the ingester's configuration from the settings."""

from __future__ import annotations

import argparse

from core import db
from core.commands import AddCommand, Subparsers, require_broker, require_database, stop_event_on_signals
from core.mqtt import BrokerConfig
from core.settings import Settings
from ingest.service import IngestConfig, run_ingester


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `ingest` command to the CLI (`add(parent, name, func, help)` makes one command)."""
    add(sub, "ingest", cmd_ingest, "Run an ingester only (several may share the load; see docs/mqtt.md)")


def ingest_config(settings: Settings) -> IngestConfig:
    database_url = require_database(settings)
    require_broker(settings)
    return IngestConfig(
        database_url=database_url,
        broker=BrokerConfig.from_settings(settings),
        topic_prefix=settings.topic_prefix,
        client_id=settings.ingest_client_id,
        share_group=settings.ingest_share_group,
        batch_size=settings.ingest_batch_size,
        flush_interval_s=settings.ingest_flush_interval_s,
        retry_max_s=settings.ingest_retry_max_s,
    )


def cmd_ingest(args: argparse.Namespace, settings: Settings) -> None:
    config = ingest_config(settings)
    db.wait_for_database(config.database_url, timeout_s=60)
    db.upgrade(config.database_url, chunk_interval_hours=settings.chunk_interval_hours)
    run_ingester(config, stop_event_on_signals())
