"""Admit at most as many requests as there are database connections.

FastAPI runs each synchronous dependency and the route on separate turns of a
shared thread pool. With more concurrent requests than pooled connections,
requests waiting for a connection can take every thread, and the requests that
hold a connection never get a thread back to finish: the server stalls until
the pool's timeout. Waiting here, in the event loop, costs no thread.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

# Paths that never touch the database.
_FREE_PREFIXES = ("/healthz", "/console/static/")


class AdmissionLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self._semaphore: asyncio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_FREE_PREFIXES):
            await self.app(scope, receive, send)
            return
        if self._semaphore is None:  # created inside the server's event loop
            self._semaphore = asyncio.Semaphore(self.limit)
        async with self._semaphore:
            await self.app(scope, receive, send)
