"""Where a request comes from, as the audit log records it."""

from __future__ import annotations

from fastapi import Request


def client_ip(request: Request) -> str | None:
    """The client's address as uvicorn resolved it (X-Forwarded-For only from trusted proxies)."""
    return request.client.host if request.client else None
