"""Request and response bodies of signing in and out, one's own account, and API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from accounts import PASSWORD_MAX_LENGTH
from api.vocabulary import Locale
from core.columns import NoNul, Text
from core.vocabulary import Role


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    username: Text = Field(min_length=1, max_length=256)
    password: Text = Field(min_length=1, max_length=PASSWORD_MAX_LENGTH)
    next: Text | None = Field(
        None,
        description="Where to send the browser after signing in (a path on this site), for the HTML form;"
        " without it the answer is JSON",
    )


class Me(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "claire",
                    "display_name": "Claire Martin",
                    "role": "technician",
                    "locale": "fr",
                    "via": "session",
                    "csrf_token": "kq0Jm3TgH1c9Vw6aZp2eLr8sYx4uNb7dQf5oCi1hEjA",
                }
            ]
        }
    )

    username: str
    display_name: str
    role: Role
    locale: str
    via: Literal["session", "token"]
    csrf_token: str | None = Field(
        None, description="Send it back in the X-CSRF-Token header with every change made with the session cookie"
    )


class MeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    locale: Locale | None = None
    password: Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH), NoNul] | None = Field(
        None, description="The new password"
    )
    current_password: Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH), NoNul] | None = Field(
        None, description="Needed with `password`"
    )


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text = Field("", max_length=100, description="What the token is for, e.g. the script that uses it")
    username: Text | None = Field(None, description="Administrators only: make the token for this account")


TOKEN_EXAMPLE: JsonDict = {
    "token_id": 12,
    "username": "claire",
    "name": "SIG export",
    "created_at": "2026-11-20T08:15:00Z",
    "last_used_at": "2026-11-24T06:00:03Z",
    "revoked_at": None,
}


class TokenInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOKEN_EXAMPLE]})

    token_id: int
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewToken(TokenInfo):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                TOKEN_EXAMPLE | {"last_used_at": None, "token": "slt_3Jx0bq9yVd2LmT7kR4wZs1HcN8fP6uGa5eQiYo0Xr_M"}
            ]
        }
    )

    token: str = Field(description="The bearer token. It is shown this once: only a hash of it is kept")
