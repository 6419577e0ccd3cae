"""The audit log, for administrators: who changed what, when, and failed sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query

from accounts import list_audit_entries
from api.accounts.audit.schemas import AuditPage
from api.deps import Admin, Conn
from api.paging import Offset
from api.problems import invalid, responses
from core.columns import Text

router = APIRouter(prefix="/api/v1", tags=["audit"])


def _aware(when: datetime | None) -> datetime | None:
    # A time without an offset is taken as UTC, whatever the server's time zone.
    return when.replace(tzinfo=UTC) if when is not None and when.tzinfo is None else when


@router.get(
    "/audit",
    response_model=AuditPage,
    summary="Audit log entries, newest first, a page at a time",
    responses=responses(401, 403),
)
def list_audit(
    conn: Conn,
    who: Admin,
    actor: Annotated[Text | None, Query(description="username, 'anonymous' or 'system'")] = None,
    action: Annotated[Text | None, Query(description="e.g. login_failed, user.update, token.revoke")] = None,
    target: Annotated[Text | None, Query(description="e.g. user:alice, token:12")] = None,
    since: Annotated[datetime | None, Query(description="from this time on (ISO 8601; UTC if no offset)")] = None,
    until: Annotated[datetime | None, Query(description="before this time (ISO 8601; UTC if no offset)")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> AuditPage:
    since, until = _aware(since), _aware(until)
    if since is not None and until is not None and since >= until:
        raise invalid("until", "must be after since")
    total, entries = list_audit_entries(
        conn, actor=actor, action=action, target=target, since=since, until=until, limit=limit, offset=offset
    )
    return AuditPage(
        total=total,
        limit=limit,
        offset=offset,
        items=entries,
    )
