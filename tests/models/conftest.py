"""Hand-made telemetry for the prediction tests: lamps, one reading every 10 minutes, events."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest

TOWN = ZoneInfo("Europe/Paris")
READING_INTERVAL = timedelta(minutes=10)
READINGS_PER_DAY = 144

READING_COLUMNS = (
    "lamp_id",
    "ts",
    "voltage_v",
    "power_w",
    "power_factor",
    "dim_level",
    "driver_temp_c",
    "ambient_lux",
    "burning_hours",
    "switch_cycles",
)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=TOWN)


@dataclass
class Lamp:
    """A lamp's controller: its counters carry on from one day to the next."""

    lamp_id: str
    rated_power_w: float = 100.0
    burning_hours: float = 1_000.0
    switch_cycles: int = 500
    was_lit: bool = True
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def day(
        self,
        day: date,
        reading: Callable[[datetime], dict[str, Any]],
        *,
        lost: Callable[[datetime], bool] = lambda at: False,
    ) -> None:
        """Readings every 10 minutes over a local day, from `reading(local_time)`; those for
        which `lost(local_time)` is true never reach the service (the counters still run)."""
        for k in range(READINGS_PER_DAY):
            at = local(day, 0) + k * READING_INTERVAL
            values = reading(at)
            lit = values["dim_level"] > 0
            if lit:
                self.burning_hours += READING_INTERVAL.total_seconds() / 3_600.0
                if not self.was_lit:
                    self.switch_cycles += 1
            self.switch_cycles += values.pop("extra_cycles", 0)
            self.was_lit = lit
            if not lost(at):
                row = {
                    "lamp_id": self.lamp_id,
                    "ts": at,
                    "burning_hours": self.burning_hours,
                    "switch_cycles": self.switch_cycles,
                    **values,
                }
                self.rows.append(tuple(row.get(c) for c in READING_COLUMNS))


def night_reading(
    lamp: Lamp,
    *,
    ratio: float = 1.0,
    power_factor: float = 0.95,
    temp_lit_c: float = 30.0,
    temp_dark_c: float = 10.0,
    midday_lux: float = 5_000.0,
) -> Callable[[datetime], dict[str, Any]]:
    """A healthy lamp lit from 18:00 to 07:00 local time at full output."""

    def reading(at: datetime) -> dict[str, Any]:
        lit = at.hour < 7 or at.hour >= 18
        return {
            "voltage_v": 230.0,
            "dim_level": 100.0 if lit else 0.0,
            "power_w": lamp.rated_power_w * ratio if lit else 0.6,
            "power_factor": power_factor if lit else 0.45,
            "driver_temp_c": temp_lit_c if lit else temp_dark_c,
            "ambient_lux": 0.3 if lit else midday_lux,
        }

    return reading


def insert_lamp(conn: psycopg.Connection, lamp_id: str, **columns: Any) -> None:
    values = {"lat": 45.76, "lon": 4.84, "circuit": "C1", "rated_power_w": 100.0, "install_date": date(2020, 1, 1)}
    values |= columns
    names = ", ".join(["lamp_id", *values])
    marks = ", ".join(["%s"] * (len(values) + 1))
    conn.execute(f"INSERT INTO lamps ({names}) VALUES ({marks})", (lamp_id, *values.values()))


def insert_readings(conn: psycopg.Connection, lamps: list[Lamp]) -> None:
    with conn.cursor().copy(f"COPY readings ({', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
        for lamp in lamps:
            for row in lamp.rows:
                copy.write_row(row)
            lamp.rows.clear()


def insert_event(conn: psycopg.Connection, lamp_id: str, at: datetime, type_: str, source: str = "controller") -> None:
    conn.execute("INSERT INTO events (lamp_id, ts, type, source) VALUES (%s, %s, %s, %s)", (lamp_id, at, type_, source))


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def ts_conn(timescale_url: str) -> Iterator[psycopg.Connection]:
    with psycopg.connect(timescale_url, autocommit=True) as connection:
        yield connection
