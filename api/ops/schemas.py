"""Response bodies of the health endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Liveness(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "ok"}]})

    status: str


class Readiness(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"status": "ready", "checks": {"database": True, "broker": True}}]}
    )

    status: str
    checks: dict[str, bool]
