"""Liveness and readiness: the only endpoints open without authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

from api import problems
from api.ops.schemas import Liveness, Readiness

router = APIRouter(tags=["health"])


_UNAVAILABLE: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "A dependency is unreachable; `checks` says which",
        "content": {
            problems.MEDIA_TYPE: {
                "schema": {"$ref": "#/components/schemas/Problem"},
                "example": {
                    "type": "about:blank",
                    "title": "Service Unavailable",
                    "status": 503,
                    "detail": "Service Unavailable",
                    "instance": "/readyz",
                    "checks": {"database": True, "broker": False},
                },
            }
        },
    }
}


@router.get("/healthz", response_model=Liveness, summary="Liveness: the process answers")
async def healthz() -> dict[str, str]:
    # async: answered in the event loop, without a turn on the thread pool (it does no I/O).
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Readiness: database and broker reachable",
    responses=_UNAVAILABLE,
)
def readyz(request: Request) -> Any:
    checks = {"database": _database_ok(request)}
    readiness = request.app.state.readiness
    if readiness:
        checks |= readiness()
    if not all(checks.values()):
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, {"status": "unavailable", "checks": checks})
    return {"status": "ready", "checks": checks}


def _database_ok(request: Request) -> bool:
    try:
        with request.app.state.pool.connection(timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except Exception:
        return False
