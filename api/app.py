"""The HTTP side: one FastAPI application for the JSON API (and, later, the console)."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool
from pydantic import BaseModel

_bearer = HTTPBearer(auto_error=False)


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


def create_app(
    pool: ConnectionPool,
    api_token: str,
    *,
    readiness: Callable[[], dict[str, bool]] | None = None,
) -> FastAPI:
    """`api_token` is the bearer token every endpoint but health requires."""
    if not api_token:
        raise ValueError("an API token is required")
    app = FastAPI(title="streetlight", version="0.1.0", docs_url="/api/docs", openapi_url="/api/openapi.json")

    def authenticated(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not hmac.compare_digest(credentials.credentials.encode(), api_token.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
            )

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz(request: Request) -> Any:
        checks = {"database": _database_ok(pool)}
        if readiness:
            checks |= readiness()
        ok = all(checks.values())
        if not ok:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, checks)
        return {"status": "ready", "checks": checks}

    @app.get("/api/v1/lamps", response_model=LampPage, dependencies=[Depends(authenticated)], tags=["lamps"])
    def list_lamps(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        offset: Annotated[int, Query(ge=0)] = 0,
    ) -> LampPage:
        with pool.connection() as conn:
            conn.row_factory = dict_row
            total = conn.execute("SELECT count(*) AS n FROM lamps").fetchone()["n"]
            rows = conn.execute(
                """SELECT lamp_id, name, lat, lon, street, circuit, group_name, technology, rated_power_w, state
                   FROM lamps ORDER BY lamp_id LIMIT %s OFFSET %s""",
                (limit, offset),
            ).fetchall()
        return LampPage(total=total, limit=limit, offset=offset, items=[Lamp(**r) for r in rows])

    return app


def _database_ok(pool: ConnectionPool) -> bool:
    try:
        with pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False
