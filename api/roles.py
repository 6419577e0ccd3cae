"""Role checks: 401 for the anonymous, 403 for a role that may not, and the CSRF token of a session."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Request, status

from api.principals import Principal, find_principal
from core.vocabulary import Role

_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting the signed-in principals of `roles`; every endpoint but health checks one."""
    allowed = frozenset(roles)

    # async: it runs in the event loop, on no thread.
    async def dependency(
        request: Request, principal: Annotated[Principal | None, Depends(find_principal)]
    ) -> Principal:
        if principal is None:
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                "sign in, or send a valid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.via == "session" and request.method in _UNSAFE_METHODS:
            # Cookie-authenticated changes must carry the session's CSRF token.
            sent = request.headers.get("x-csrf-token")
            if not sent or not hmac.compare_digest(sent.encode(), (principal.csrf_token or "").encode()):
                raise HTTPException(status.HTTP_403_FORBIDDEN, "missing or wrong CSRF token")
        if principal.role not in allowed:
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"the {principal.role.value} role may not do this")
        request.state.principal = principal
        return principal

    return dependency
