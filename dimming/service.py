"""The dimming scheduler inside the running service (`streetlight serve` and `streetlight demo`).

Every replica starts one; the one holding the scheduler lock pushes plans, the
others stand by to take over (dimming.leader).
"""

from __future__ import annotations

import logging
import re
from contextlib import ExitStack

from core.mqtt import BrokerConfig
from core.settings import Settings
from dimming.leader import replica_name
from dimming.scheduler import PlanScheduler, SchedulerOptions

log = logging.getLogger(__name__)


def scheduler_options(settings: Settings, database_url: str, broker: BrokerConfig) -> SchedulerOptions:
    name = replica_name()
    return SchedulerOptions(
        database_url=database_url,
        broker=broker,
        topic_prefix=settings.topic_prefix,
        # One MQTT client id per replica: a second connection with the same id would
        # push the first one off the broker.
        client_id="streetlight-plans-" + re.sub(r"[^A-Za-z0-9_.-]", "-", name),
        horizon_hours=settings.plan_horizon_hours,
        town_timezone=settings.town_timezone,
        name=name,
    )


def start(stack: ExitStack, settings: Settings, database_url: str, broker: BrokerConfig) -> None:
    """Start the plan scheduler; register its stop on `stack`."""
    scheduler = PlanScheduler(scheduler_options(settings, database_url, broker))
    scheduler.start()
    stack.callback(scheduler.stop)
    log.info("plan scheduler %s started (horizon %d h)", scheduler.options.name, settings.plan_horizon_hours)
