"""One input discipline for every endpoint, applied before routing (pure ASGI middleware).

- The path and the query string: a NUL character (``%00``) answers 422, naming the
  path or query parameter.
- The body: at most `DEFAULT_BODY_LIMIT_BYTES`, or the limit `BODY_LIMITS_BYTES` declares
  for an endpoint; a larger one answers 413 as soon as its Content-Length says so, or once
  that many bytes have come (a chunked body), never reading further.
- A form body (``application/x-www-form-urlencoded``): NUL in a name or value answers 422.
  Any other body is read as JSON, as every endpoint that takes one does: nesting deeper
  than `MAX_JSON_DEPTH` levels answers 422 before any parser sees it, and so does a string
  or key holding NUL (``\\u0000``) or a lone surrogate escape, named by its path
  (``body.notes``, ``body.properties.pole``).

The answers are the API's problem details (`api.problems`); the value sent is not repeated.
What remains, the range of each field, is the schemas' part (`core.columns`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from starlette.requests import Request
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import problems
from api.input_scan import MAX_JSON_DEPTH, Refusal, nul_refusal, scan_json, scan_pairs

KIB = 1024
MIB = 1024 * KIB
DEFAULT_BODY_LIMIT_BYTES = 1 * MIB
# Endpoints whose bodies are bounded otherwise, by their path in the OpenAPI document. No
# endpoint takes files; sign-in, open to anyone, needs a few hundred bytes.
BODY_LIMITS_BYTES: dict[str, int] = {"/api/v1/auth/login": 64 * KIB}

_FORM = "application/x-www-form-urlencoded"


class InputDiscipline:
    def __init__(
        self,
        app: ASGIApp,
        *,
        default_body_limit_bytes: int = DEFAULT_BODY_LIMIT_BYTES,
        body_limits_bytes: Mapping[str, int] | None = None,
        max_json_depth: int = MAX_JSON_DEPTH,
    ) -> None:
        self.app = app
        self.default_body_limit_bytes = default_body_limit_bytes
        limits = BODY_LIMITS_BYTES if body_limits_bytes is None else body_limits_bytes
        self._limits = [(compile_path(path)[0], limit) for path, limit in limits.items()]
        self.max_json_depth = max_json_depth
        self._templates: list[re.Pattern[str]] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refuse_path_or_query(scope)
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
            return
        content_length, chunked, media_type = _body_headers(scope)
        if not chunked and not content_length:
            await self.app(scope, receive, send)  # no body
            return

        limit = self._body_limit(scope)
        if content_length and not content_length.isdigit():
            await _answer(scope, receive, send, 400, "the Content-Length header is not a number of bytes")
            return
        if content_length and int(content_length) > limit:
            await _too_large(scope, receive, send, limit, f" (Content-Length {content_length})")
            return
        try:
            body = await _read_body(receive, limit)
        except _ClientGone:
            return
        if body is None:
            await _too_large(scope, receive, send, limit, "")
            return
        if media_type == _FORM:
            refusal = scan_pairs("body", body)
        else:
            refusal = scan_json(body, self.max_json_depth)
        if refusal is not None:
            await _refuse(scope, receive, send, refusal)
            return
        await self.app(scope, _replay(body, receive), send)

    def _refuse_path_or_query(self, scope: Scope) -> Refusal | None:
        if "\x00" in scope["path"]:
            return nul_refusal("path", self._path_parameter(scope))
        query = scope.get("query_string", b"")
        return scan_pairs("query", query) if query else None

    def _path_parameter(self, scope: Scope) -> str:
        """The name of the path parameter holding NUL, when an endpoint's path matches."""
        if self._templates is None:
            openapi = getattr(scope.get("app"), "openapi", None)
            paths = openapi().get("paths", {}) if openapi is not None else {}
            self._templates = [compile_path(template)[0] for template in paths]
        for pattern in self._templates:
            match = pattern.match(scope["path"])
            if match is not None:
                for name, value in match.groupdict().items():
                    if "\x00" in value:
                        return name
        return "path"

    def _body_limit(self, scope: Scope) -> int:
        path = scope["path"]
        for pattern, limit in self._limits:
            if pattern.match(path):
                return limit
        return self.default_body_limit_bytes


def _body_headers(scope: Scope) -> tuple[str, bool, str]:
    """(Content-Length, "" when none or 0; whether the body is chunked; the media type)."""
    content_length = ""
    chunked = False
    media_type = ""
    for name, value in scope["headers"]:
        if name == b"content-length":
            content_length = value.decode("latin-1").strip()
        elif name == b"transfer-encoding":
            chunked = True
        elif name == b"content-type":
            media_type = value.decode("latin-1").partition(";")[0].strip().lower()
    return ("" if content_length == "0" else content_length), chunked, media_type


class _ClientGone(Exception):
    pass


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is longer than `limit` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":  # http.disconnect: nobody to answer
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body already read, then whatever the server says next (a disconnect)."""
    pending = True

    async def replay() -> Message:
        nonlocal pending
        if pending:
            pending = False
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _shown_scope(scope: Scope) -> Scope:
    # The problem's `instance` is the path; a NUL in it is shown as it was sent.
    return {**scope, "path": scope["path"].replace("\x00", "%00")}


async def _refuse(scope: Scope, receive: Receive, send: Send, refusal: Refusal) -> None:
    where = f"{refusal.location}.{refusal.field}" if refusal.field != refusal.location else refusal.location
    response = problems.problem_response(
        Request(_shown_scope(scope)),
        422,
        f"1 invalid field: {where}: {refusal.message}",
        type=problems.VALIDATION_ERROR,
        extensions={"errors": [refusal.entry()]},
    )
    await response(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int, said: str) -> None:
    detail = f"the body is larger than the {limit} bytes this endpoint accepts{said}"
    await _answer(scope, receive, send, 413, detail)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    # The body is not read (further): the connection closes after this answer.
    response = problems.problem_response(Request(_shown_scope(scope)), status, detail, headers={"connection": "close"})
    await response(scope, receive, send)
