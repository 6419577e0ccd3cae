"""What one lamp follows around now: the night shown, the rule that gives it its light, its switch points.

`lamp_night` is pure; `load_lamp_night` reads the lamp, the schedules and its latest
plan push first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from core.contract import PlanPoint
from dimming import store
from dimming.resolve import (
    DEFAULT_STEPS,
    DEFAULT_TWILIGHT,
    DimmingConfig,
    Lamp,
    Profile,
    Rule,
    explain,
    night_levels,
    resolve_plans,
)

# A lamp without coordinates shows last night until local noon, then the coming one.
_UNLOCATED_NIGHT_TURNS_AT_HOUR = 12


@dataclass(frozen=True, slots=True)
class LampNight:
    lamp_id: str
    night: date  # the local date the night shown started (or starts) on
    rule: Rule  # what gives the lamp its light that night (an active override first)
    profile: Profile | None  # the rule's profile, if it has one
    located: bool  # False: no coordinates, so no plan can be resolved
    points: list[PlanPoint]  # resolved from now for the hours asked
    latest_push: dict[str, Any] | None  # the lamp's newest plan version and its delivery, as stored


def night_shown(config: DimmingConfig, lamp: Lamp, located: bool, now: datetime, tz: ZoneInfo) -> date:
    """The night in progress, or else the coming one (local date it starts on)."""
    today = now.astimezone(tz).date()
    yesterday = today - timedelta(days=1)
    if not located:
        return yesterday if now.astimezone(tz).hour < _UNLOCATED_NIGHT_TURNS_AT_HOUR else today
    rule = explain(config, lamp, yesterday)
    profile = config.profiles.get(rule.profile_id) if rule.profile_id is not None else None
    steps, twilight = (profile.steps, profile.twilight) if profile else (DEFAULT_STEPS, DEFAULT_TWILIGHT)
    points = night_levels(steps, twilight, yesterday, lamp.lat, lamp.lon, tz)
    return yesterday if points and now < points[-1][0] else today


def lamp_from_row(row: dict[str, Any]) -> tuple[Lamp, bool]:
    """The lamp as the rules see it (at 0, 0 without coordinates), and whether it has coordinates."""
    located = row["lat"] is not None and row["lon"] is not None
    lamp = Lamp(
        row["lamp_id"],
        row["lat"] if located else 0.0,
        row["lon"] if located else 0.0,
        row["group_name"],
        row["street"],
        row["circuit"],
        row["lighting_class"],
    )
    return lamp, located


def lamp_night(
    config: DimmingConfig,
    lamp: Lamp,
    located: bool,
    now: datetime,
    hours: int,
    tz: ZoneInfo,
    latest_push: dict[str, Any] | None = None,
) -> LampNight:
    night = night_shown(config, lamp, located, now, tz)
    rule = explain(config, lamp, night, at=now)
    profile = config.profiles.get(rule.profile_id) if rule.profile_id is not None else None
    points = resolve_plans(config, [lamp], now, hours, tz)[lamp.lamp_id] if located else []
    return LampNight(lamp.lamp_id, night, rule, profile, located, points, latest_push)


def load_lamp_night(
    conn: psycopg.Connection, lamp_id: str, now: datetime, hours: int, tz: ZoneInfo
) -> LampNight | None:
    """`lamp_night` from the stored schedules as they stand at `now`; None if there is no such lamp."""
    row = store.lamp(conn, lamp_id)
    if row is None:
        return None
    config = store.load_config(conn, now)
    lamp, located = lamp_from_row(row)
    return lamp_night(config, lamp, located, now, hours, tz, store.latest_push(conn, lamp_id))
