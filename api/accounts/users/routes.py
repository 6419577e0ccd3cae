"""Accounts, for administrators: list, create, change role, locale, name, activity, password.

Every change goes to the audit log with the fields before and after (never a hash).
One's own password is changed with PATCH /api/v1/auth/me, which asks for the current one.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status

import accounts
from accounts import WeakPasswordError, record_audit
from api.accounts.users.schemas import USER_EXAMPLE, UserCreate, UserInfo, UserUpdate
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Admin, Conn
from api.problems import invalid, responses
from core.columns import Text

router = APIRouter(prefix="/api/v1/users", tags=["users"])


def _info(user: accounts.User) -> UserInfo:
    return UserInfo(**{name: getattr(user, name) for name in UserInfo.model_fields})


def _require(conn: DictConnection, username: str) -> accounts.User:
    user = accounts.get_user(conn, username)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username}")
    return user


@router.get(
    "",
    response_model=list[UserInfo],
    summary="List the accounts",
    responses={200: {"content": {"application/json": {"example": [USER_EXAMPLE]}}}, **responses(401, 403)},
)
def list_users(conn: Conn, who: Admin) -> list[UserInfo]:
    return [_info(user) for user in accounts.list_users(conn)]


@router.post(
    "",
    response_model=UserInfo,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account",
    responses=responses(401, 403, 409),
)
def create_user(request: Request, conn: Conn, who: Admin, new: UserCreate) -> UserInfo:
    try:
        accounts.create_user(
            conn, new.username, new.role, password=new.password, locale=new.locale, display_name=new.display_name
        )
    except WeakPasswordError as exc:
        raise invalid("password", str(exc), location="body") from None
    except accounts.UserExistsError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    user = accounts.require_user(conn, new.username)
    record_audit(
        conn,
        who.username,
        "user.create",
        accounts.user_target(user.username),
        after=user.public() | {"has_password": user.has_password},
        client_ip=client_ip(request),
    )
    return _info(user)


@router.get("/{username}", response_model=UserInfo, summary="One account", responses=responses(401, 403, 404))
def read_user(conn: Conn, who: Admin, username: Text) -> UserInfo:
    return _info(_require(conn, username))


@router.patch(
    "/{username}",
    response_model=UserInfo,
    summary="Change an account's role, locale, name or activity, or reset its password",
    responses=responses(400, 401, 403, 404, 409),
)
def update_user(request: Request, conn: Conn, who: Admin, username: Text, change: UserUpdate) -> UserInfo:
    _require(conn, username)
    address, target = client_ip(request), accounts.user_target(username)
    if change.password is not None:
        if username == who.username:
            raise HTTPException(
                status.HTTP_400_BAD_REQUEST,
                "change your own password with PATCH /api/v1/auth/me, which asks for the current one",
            )
        try:
            accounts.set_password(conn, username, change.password)  # also ends the account's sessions
        except WeakPasswordError as exc:
            raise invalid("password", str(exc), location="body") from None
        record_audit(conn, who.username, "user.password_reset", target, client_ip=address)
    try:
        before, after = accounts.update_user(
            conn,
            username,
            role=change.role,
            locale=change.locale,
            display_name=change.display_name,
            active=change.active,
        )
    except accounts.LastAdminError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    old, new = accounts.changes(before, after)
    if new:
        record_audit(conn, who.username, "user.update", target, old, new, address)
    return _info(after)
