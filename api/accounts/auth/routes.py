"""Signing in and out of the console, one's own account, and API tokens.

The console signs in with a username and password and gets a session cookie
(HttpOnly, SameSite=Lax) and a CSRF token, which it sends back in ``X-CSRF-Token``
with every change. Scripts use bearer tokens instead, made here and shown once.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from pydantic import ValidationError

import accounts
from accounts import WeakPasswordError, record_audit
from api.accounts.auth.schemas import TOKEN_EXAMPLE, LoginRequest, Me, MeUpdate, NewToken, TokenInfo, TokenRequest
from api.client_address import client_ip
from api.database import DictConnection
from api.deps import Conn, Reader, SettingsDep
from api.ops.metrics import count_login_throttled
from api.principals import SESSION_COOKIE, Principal
from api.problems import invalid, responses
from core.columns import BigInt, Text
from core.settings import Settings
from core.vocabulary import Role

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])

_FORM = "application/x-www-form-urlencoded"


def _token_info(token: accounts.Token) -> TokenInfo:
    return TokenInfo(**{name: getattr(token, name) for name in TokenInfo.model_fields})


# --- sign in and out --------------------------------------------------------------------------------
async def login_request(request: Request) -> LoginRequest:
    """The credentials, from a JSON body or from the console's HTML form."""
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    body = await request.body()
    try:
        if media_type == _FORM:
            fields = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=10)
            data: object = {name: values[0] for name, values in fields.items()}
        else:
            data = json.loads(body)
        return LoginRequest.model_validate(data)
    except ValidationError as exc:
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    except ValueError:  # not UTF-8, not JSON, too many fields
        raise RequestValidationError(
            [{"type": "body_invalid", "loc": ("body",), "msg": "send JSON, or a form (" + _FORM + ")"}]
        ) from None


def _refuse_cross_site(request: Request) -> None:
    """Refuse a sign-in posted by another site's page (it would sign the browser in to the
    attacker's account). Browsers say where a request comes from: Sec-Fetch-Site, or on
    older ones the Origin, which must then name this host."""
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None:
        cross_site = fetch_site not in ("same-origin", "none")
    else:
        origin = request.headers.get("origin")
        cross_site = origin is not None and urlsplit(origin).netloc != request.headers.get("host")
    if cross_site:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "sign-in from another site is refused")


def _local_path(target: str | None) -> str | None:
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None


def _set_session_cookie(
    response: Response, request: Request, settings: Settings, session_id: str, lifetime: timedelta
) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        session_id,
        max_age=int(lifetime.total_seconds()),
        path="/",
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https" or settings.session_cookie_secure,
    )


def _throttled(request: Request, exc: accounts.LoginThrottled) -> HTTPException:
    """The refusal of an attempt over the sign-in limit (already audited), counted in /metrics."""
    count_login_throttled(request, exc.limit)
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS, str(exc), headers={"Retry-After": str(exc.retry_after_whole_s)}
    )


_THROTTLED = {
    "description": "Too many wrong passwords from this address, or for this username from this address; see Retry-After"
}


@router.post(
    "/login",
    response_model=Me,
    summary="Sign in to the console: sets the session cookie, returns the CSRF token",
    responses={
        **responses(401, 403),
        303: {"description": "Form posts with `next`: signed in, go there"},
        422: {"description": "No username or password, or a body that is neither JSON nor a form"},
        429: _THROTTLED,
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": LoginRequest.model_json_schema()},
                _FORM: {"schema": LoginRequest.model_json_schema()},
            },
        }
    },
)
def login(
    request: Request,
    response: Response,
    conn: Conn,
    settings: SettingsDep,
    credentials: Annotated[LoginRequest, Depends(login_request)],
) -> Response | Me:
    _refuse_cross_site(request)
    try:
        user = accounts.attempt_login(
            conn,
            credentials.username,
            credentials.password,
            client_ip(request),
            limits=accounts.LoginLimits.from_settings(settings),
        )
    except accounts.LoginThrottled as exc:
        conn.commit()  # the attempt stays on record although the request fails
        raise _throttled(request, exc) from None
    if user is None:
        conn.commit()
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "wrong username or password", headers={"WWW-Authenticate": "Bearer"}
        )
    if previous := request.cookies.get(SESSION_COOKIE):
        accounts.delete_session(conn, previous)  # a new id at each sign-in: no session fixation
    lifetime = timedelta(hours=settings.session_hours)
    session_id, csrf_token = accounts.create_session(conn, user.user_id, lifetime)
    if (target := _local_path(credentials.next)) is not None:
        response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
        _set_session_cookie(response, request, settings, session_id, lifetime)
        return response
    _set_session_cookie(response, request, settings, session_id, lifetime)
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        locale=user.locale,
        via="session",
        csrf_token=csrf_token,
    )


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Sign out: ends the console session (needs the CSRF token)",
    responses=responses(401, 403),
)
def logout(request: Request, response: Response, conn: Conn, who: Reader) -> None:
    if session_id := request.cookies.get(SESSION_COOKIE):
        if accounts.delete_session(conn, session_id):
            record_audit(conn, who.username, "logout", accounts.user_target(who.username), client_ip=client_ip(request))
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")


# --- one's own account ------------------------------------------------------------------------------
def _me(conn: DictConnection, who: Principal) -> Me:
    user = accounts.require_user(conn, who.username)
    return Me(
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        locale=user.locale,
        via=who.via,
        csrf_token=who.csrf_token,
    )


@router.get("/me", response_model=Me, summary="Who is signed in", responses=responses(401))
def read_me(conn: Conn, who: Reader) -> Me:
    return _me(conn, who)


@router.patch(
    "/me",
    response_model=Me,
    summary="Change one's own locale or password (the password needs the current one)",
    responses={**responses(401, 403), 429: _THROTTLED},
)
def update_me(request: Request, conn: Conn, settings: SettingsDep, who: Reader, change: MeUpdate) -> Me:
    address = client_ip(request)
    target = accounts.user_target(who.username)
    if change.password is not None:
        if change.current_password is None:
            raise invalid("current_password", "needed to change the password", location="body")
        if not accounts.require_user(conn, who.username).has_password:
            raise HTTPException(status.HTTP_403_FORBIDDEN, "this account has no password; an administrator sets it")
        try:
            checked = accounts.check_password_attempt(
                conn,
                who.username,
                change.current_password,
                address,
                limits=accounts.LoginLimits.from_settings(settings),
                actor=who.username,
                failed_action="password_change_failed",
            )
        except accounts.LoginThrottled as exc:
            conn.commit()
            raise _throttled(request, exc) from None
        if checked is None:
            conn.commit()  # the failure counts towards the sign-in limit
            raise HTTPException(status.HTTP_403_FORBIDDEN, "the current password is wrong")
        keep = request.cookies.get(SESSION_COOKIE) if who.via == "session" else None
        try:
            accounts.set_password(conn, who.username, change.password, keep_session_id=keep)
        except WeakPasswordError as exc:
            raise invalid("password", str(exc), location="body") from None
        record_audit(conn, who.username, "user.password_change", target, client_ip=address)
    if change.locale is not None:
        before, after = accounts.changes(*accounts.update_user(conn, who.username, locale=change.locale))
        if after:
            record_audit(conn, who.username, "user.update", target, before, after, address)
    return _me(conn, who)


# --- API tokens -------------------------------------------------------------------------------------
def _owner(conn: DictConnection, who: Principal, username: str | None) -> accounts.User:
    """The account whose tokens are meant: one's own, or any account for an administrator."""
    if username is None or username == who.username:
        return accounts.require_user(conn, who.username)
    if who.role is not Role.ADMIN:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "only administrators manage other accounts' tokens")
    user = accounts.get_user(conn, username)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no user {username}")
    return user


@router.post(
    "/tokens",
    response_model=NewToken,
    status_code=status.HTTP_201_CREATED,
    summary="Make a bearer token (shown once)",
    responses=responses(401, 403, 404),
)
def create_token(request: Request, conn: Conn, who: Reader, body: TokenRequest) -> NewToken:
    owner = _owner(conn, who, body.username)
    token, secret = accounts.issue_token(conn, owner.user_id, body.name)
    record_audit(
        conn,
        who.username,
        "token.create",
        accounts.token_target(token.token_id),
        after={"username": owner.username, "name": token.name},
        client_ip=client_ip(request),
    )
    return NewToken(**_token_info(token).model_dump(), token=secret)


@router.get(
    "/tokens",
    response_model=list[TokenInfo],
    summary="List one's tokens (administrators: any account's), never the tokens themselves",
    responses={200: {"content": {"application/json": {"example": [TOKEN_EXAMPLE]}}}, **responses(401, 403, 404)},
)
def list_tokens(
    conn: Conn,
    who: Reader,
    username: Annotated[Text | None, Query(description="Administrators only: another account")] = None,
) -> list[TokenInfo]:
    return [_token_info(t) for t in accounts.list_tokens(conn, user_id=_owner(conn, who, username).user_id)]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke a token (one's own; administrators: any)",
    responses=responses(401, 403, 404),
)
def revoke_token(request: Request, conn: Conn, who: Reader, token_id: BigInt) -> None:
    token = accounts.get_token(conn, token_id)
    if token is None or (token.username != who.username and who.role is not Role.ADMIN):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no token {token_id} of yours")
    if token.revoked_at is not None:
        return
    revoked = accounts.revoke_token(conn, token_id)
    assert revoked is not None  # found above, in this transaction
    record_audit(
        conn,
        who.username,
        "token.revoke",
        accounts.token_target(token_id),
        before={"username": token.username, "name": token.name, "revoked_at": None},
        after={"username": token.username, "name": token.name, "revoked_at": revoked.revoked_at},
        client_ip=client_ip(request),
    )
