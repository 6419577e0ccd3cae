"""Errors as RFC 9457 problem details (``application/problem+json``).

Every error the API answers has the same shape: ``type``, ``title``, ``status``,
``detail`` and ``instance`` (the request path). Validation errors add ``errors``,
one entry per invalid field; the value that was sent is never echoed, as it may
be a password. A statement that runs longer than the API allows answers 503, and so
does a database that cannot be reached or whose connection broke during the request
(a restart, a failover). An unexpected error answers 500 with nothing about the
internals; the traceback goes to the log.
"""

from __future__ import annotations

import json
import logging
from http import HTTPStatus
from typing import Any

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.settings import app_settings_or_none

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"
# "about:blank": the status code says it all (RFC 9457, section 4.2.1).
BLANK = "about:blank"
VALIDATION_ERROR = "urn:streetlight:problem:validation-error"
RANGE_TOO_LARGE = "urn:streetlight:problem:range-too-large"
QUERY_TIMEOUT = "urn:streetlight:problem:query-timeout"
DATABASE_UNAVAILABLE = "urn:streetlight:problem:database-unavailable"
_MEMBERS = frozenset({"type", "title", "status", "detail", "instance"})


class Problem(BaseModel):
    """An error, as RFC 9457 problem details."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Not Found",
                    "status": 404,
                    "detail": "no lamp L-0042",
                    "instance": "/api/v1/lamps/L-0042",
                }
            ]
        }
    )

    type: str = Field(BLANK, description="URI naming the kind of problem; about:blank when the status says it all.")
    title: str = Field(description="Short summary of the kind of problem.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, for a human.")
    instance: str = Field(description="The request path.")


class InvalidField(BaseModel):
    location: str = Field(description="path, query, header, cookie or body")
    field: str = Field(description="The parameter or body field, dotted for nested fields.")
    message: str
    type: str = Field(description="Machine-readable error code, e.g. missing, greater_than_equal.")


class ValidationProblem(Problem):
    """A request with invalid parameters or body, one entry per invalid field."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": VALIDATION_ERROR,
                    "title": "Unprocessable Content",
                    "status": 422,
                    "detail": "1 invalid field: query.limit",
                    "instance": "/api/v1/lamps",
                    "errors": [
                        {
                            "location": "query",
                            "field": "limit",
                            "message": "Input should be greater than or equal to 1",
                            "type": "greater_than_equal",
                        }
                    ],
                }
            ]
        }
    )

    errors: list[InvalidField]


class ProblemException(StarletteHTTPException):
    """An HTTP error with a problem type of its own and optional extension members."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        *,
        type: str = BLANK,
        extensions: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, headers)
        self.type = type
        self.extensions = extensions or {}


def invalid(field: str, message: str, *, location: str = "query") -> ProblemException:
    """A 422 for a rule the declared parameter types cannot express (e.g. from < to)."""
    entry = {"location": location, "field": field, "message": message, "type": "value_error"}
    return ProblemException(
        422, f"1 invalid field: {location}.{field}: {message}", type=VALIDATION_ERROR, extensions={"errors": [entry]}
    )


def _title(status: int) -> str:
    if status == 422:
        return "Unprocessable Content"  # RFC 9110's name
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def problem_response(
    request: Request,
    status: int,
    detail: str,
    *,
    type: str = BLANK,
    extensions: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = {"type": type, "title": _title(status), "status": status, "detail": detail, "instance": request.url.path}
    for key, value in (extensions or {}).items():
        if key not in _MEMBERS:
            body[key] = value
    return JSONResponse(body, status_code=status, headers=headers, media_type=MEDIA_TYPE)


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)  # registered for it alone
    headers = getattr(exc, "headers", None)
    if exc.status_code < 200 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=headers)
    detail = exc.detail
    extensions = dict(getattr(exc, "extensions", {}))
    if isinstance(detail, dict):
        # e.g. readiness: {"status": "unavailable", "checks": {...}} keeps its checks.
        extensions |= {k: v for k, v in detail.items() if k not in _MEMBERS}
        detail = detail.get("detail")
    if not isinstance(detail, str) or not detail:
        detail = _title(exc.status_code)
    return problem_response(
        request, exc.status_code, detail, type=getattr(exc, "type", BLANK), extensions=extensions, headers=headers
    )


def _invalid_fields(exc: RequestValidationError) -> list[dict[str, str]]:
    fields = []
    for error in exc.errors():
        loc = [str(part) for part in error.get("loc", ())]
        location = loc[0] if loc else "request"
        fields.append(
            {
                "location": location,
                "field": ".".join(loc[1:]) or location,
                "message": str(error.get("msg", "invalid")),
                "type": str(error.get("type", "value_error")),
            }
        )
    return fields


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)  # registered for it alone
    errors = _invalid_fields(exc)
    names = ", ".join(f"{e['location']}.{e['field']}" for e in errors)
    detail = f"{len(errors)} invalid field{'s' if len(errors) != 1 else ''}: {names}"
    return problem_response(request, 422, detail, type=VALIDATION_ERROR, extensions={"errors": errors})


async def _query_canceled(request: Request, exc: Exception) -> Response:
    settings = app_settings_or_none(request)
    limit = f" than {settings.api_statement_timeout_s:g} s" if settings is not None else ""
    detail = (
        f"the query ran longer{limit}, the most the API lets one run; ask for less (a narrower range,"
        " fewer lamps or fields) or try again later"
    )
    return problem_response(request, 503, detail, type=QUERY_TIMEOUT)


def _database_gone(exc: psycopg.OperationalError) -> bool:
    """The server is out of reach, shutting down, or short of resources: not the request's fault.
    No SQLSTATE: the client lost the connection or found none in the pool's time."""
    state = exc.sqlstate
    return state is None or state.startswith(("08", "53", "57P"))


async def _database_unavailable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, psycopg.OperationalError)  # registered for it alone
    if not _database_gone(exc):
        return await _unexpected_error(request, exc)
    log.warning("database unavailable on %s %s: %s", request.method, request.url.path, exc)
    detail = "the database cannot be reached just now (a restart or a failover); try again shortly"
    return problem_response(request, 503, detail, type=DATABASE_UNAVAILABLE, headers={"Retry-After": "5"})


async def _unexpected_error(request: Request, exc: Exception) -> Response:
    log.error("unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return problem_response(request, 500, "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    """Answer every error as problem details, and say so in the OpenAPI schema."""
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    # A statement cancelled by the connection's statement_timeout (see api.app.open_pool).
    app.add_exception_handler(psycopg.errors.QueryCanceled, _query_canceled)
    app.add_exception_handler(psycopg.OperationalError, _database_unavailable)
    app.add_exception_handler(Exception, _unexpected_error)

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = document(FastAPI.openapi(app))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to change the generated schema


# --- OpenAPI ---------------------------------------------------------------

_REF = "#/components/schemas/{model}"


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the problem answers a route can give, for `responses=`."""
    descriptions = {
        400: "The request cannot be answered as asked",
        401: "Not signed in, or the token is missing, wrong or revoked",
        403: "The role may not do this (or the CSRF token is missing)",
        404: "No such resource",
        409: "Conflicts with the current state",
        503: "The query took too long; narrow it",
    }
    return {
        status: {
            "description": descriptions.get(status) or _title(status),
            "content": {MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="Problem")}}},
        }
        for status in statuses
    }


def document(schema: dict[str, Any]) -> dict[str, Any]:
    """Make the generated schema say what the handlers do: problem details, not FastAPI's defaults."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem):
        model_schema = model.model_json_schema(ref_template=_REF)
        components.update(model_schema.pop("$defs", {}))
        components[model.__name__] = model_schema
    for path_item in schema.get("paths", {}).values():
        for operation in path_item.values():
            answers = operation.get("responses", {})
            if "requestBody" in operation and "400" not in answers:
                # FastAPI answers 400 itself, before any route code, for a body it cannot decode (not UTF-8).
                answers["400"] = responses(400)[400] | {"description": "The body cannot be read (not UTF-8)"}
            if "requestBody" in operation:
                # Answered before routing (api.input_discipline), for every endpoint that takes a body.
                answers["413"] = responses(413)[413] | {"description": "The body is larger than the endpoint takes"}
            if "422" in answers:
                answers["422"] = {
                    "description": "Invalid parameters or body: one entry per invalid field",
                    "content": {MEDIA_TYPE: {"schema": {"$ref": _REF.format(model="ValidationProblem")}}},
                }
    # FastAPI's own 422 models are no longer referenced once replaced (in this order).
    for unused in ("HTTPValidationError", "ValidationError"):
        if json.dumps(_REF.format(model=unused)) not in json.dumps(schema):
            components.pop(unused, None)
    return schema
