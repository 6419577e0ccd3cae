"""Liveness and readiness: the only endpoints open without authentication."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, status

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    summary="Readiness: database and broker reachable",
    responses={503: {"description": "a dependency is unreachable"}},
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
