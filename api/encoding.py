"""JSON answers encoded straight from plain rows, for the endpoints called most.

A route that returns a pydantic model pays for building one model per row, for
FastAPI validating the whole answer again (on a thread of the pool, for a sync
route) and then for the encoding. The hot read endpoints instead build plain dicts
and lists from their rows and encode them here, with pydantic's own encoder: the
JSON is the same as the declared `response_model` gives (dates in RFC 3339, UTC as
``Z``, non-finite floats as null), which stays in the route for the OpenAPI schema
and is checked against the answers by the tests.
"""

from __future__ import annotations

from typing import Any

import pydantic_core
from fastapi import Response

MEDIA_TYPE = "application/json"


def encode(content: Any) -> bytes:
    return pydantic_core.to_json(content, inf_nan_mode="null")


def json_response(content: Any, status_code: int = 200) -> Response:
    return Response(encode(content), status_code=status_code, media_type=MEDIA_TYPE)


def json_response_spliced(content: dict[str, Any], key: str, encoded: bytes, status_code: int = 200) -> Response:
    """`content` encoded here, with the value of its top-level `key` taken as it is from
    `encoded`: JSON written elsewhere (by the database, for the largest answers). The key
    keeps its place in `content` (it goes last if absent), and no value before it may be an
    object holding the same key set to null (a string cannot: its quotes are escaped)."""
    placeholder = b'"' + key.encode() + b'":null'
    body = encode({**content, key: None})
    spliced = body.replace(placeholder, placeholder[: -len(b"null")] + encoded, 1)
    return Response(spliced, status_code=status_code, media_type=MEDIA_TYPE)
