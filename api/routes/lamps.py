"""Lamp inventory endpoints."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.deps import Conn, Reader

router = APIRouter(prefix="/api/v1", tags=["lamps"])


class Lamp(BaseModel):
    lamp_id: str
    name: str
    lat: float | None
    lon: float | None
    street: str
    circuit: str
    group_name: str
    technology: str
    rated_power_w: float | None
    state: str


class LampPage(BaseModel):
    total: int
    limit: int
    offset: int
    items: list[Lamp]


@router.get("/lamps", response_model=LampPage, summary="List lamps, a page at a time")
def list_lamps(
    conn: Conn,
    who: Reader,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> LampPage:
    total = conn.execute("SELECT count(*) AS n FROM lamps").fetchone()["n"]
    rows = conn.execute(
        """SELECT lamp_id, name, lat, lon, street, circuit, group_name, technology, rated_power_w, state
           FROM lamps ORDER BY lamp_id LIMIT %s OFFSET %s""",
        (limit, offset),
    ).fetchall()
    return LampPage(total=total, limit=limit, offset=offset, items=[Lamp(**r) for r in rows])
