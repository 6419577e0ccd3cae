"""Response bodies of the telemetry endpoints: readings of a lamp, group or circuit over a time range."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Bucket = Literal["raw", "5min", "1h", "1d"]


class Stats(BaseModel):
    avg: float | None
    min: float | None
    max: float | None


class TelemetryBucket(BaseModel):
    start: datetime = Field(description="Start of the bucket; 1d buckets start at the town's local midnight.")
    readings: int = Field(description="Readings in the bucket.")
    lamps: int = Field(description="Lamps with readings in the bucket.")
    values: dict[str, Stats] = Field(description="avg/min/max of each requested field over the bucket.")


class RawPoint(BaseModel):
    ts: datetime
    values: dict[str, float | None]


class Telemetry(BaseModel):
    """Readings of one lamp, or of the lamps of a group or circuit, over [from, to)."""

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "scope": "lamp",
                    "name": "L-0042",
                    "lamp_count": 1,
                    "from": "2026-11-25T00:00:00Z",
                    "to": "2026-11-25T02:00:00Z",
                    "bucket": "1h",
                    "fields": ["power_w"],
                    "buckets": [
                        {
                            "start": "2026-11-25T00:00:00Z",
                            "readings": 6,
                            "lamps": 1,
                            "values": {"power_w": {"avg": 52.5, "min": 50.0, "max": 55.0}},
                        }
                    ],
                    "points": None,
                }
            ]
        },
    )

    scope: Literal["lamp", "group", "circuit"]
    name: str = Field(description="The lamp id, group name or circuit.")
    lamp_count: int = Field(description="Lamps in the scope (inventory), whether they reported or not.")
    from_: datetime = Field(alias="from")
    to: datetime
    bucket: Bucket
    fields: list[str]
    buckets: list[TelemetryBucket] | None = Field(None, description="When bucket is 5min, 1h or 1d.")
    points: list[RawPoint] | None = Field(None, description="When bucket is raw (one lamp only).")
