"""Request and response bodies of the accounts endpoints (administrators)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
from pydantic.config import JsonDict

from accounts import PASSWORD_MAX_LENGTH, USERNAME_PATTERN
from api.vocabulary import Locale
from core.columns import NoNul, Text
from core.vocabulary import Role

USER_EXAMPLE: JsonDict = {
    "username": "claire",
    "display_name": "Claire Martin",
    "role": "technician",
    "locale": "fr",
    "active": True,
    "has_password": True,
    "demo_password": False,
    "created_at": "2026-10-01T09:00:00Z",
    "updated_at": "2026-11-20T08:10:00Z",
}


class UserInfo(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [USER_EXAMPLE]})

    username: str
    display_name: str
    role: Role
    locale: str
    active: bool
    has_password: bool = Field(description="False: the account signs in with API tokens only")
    demo_password: bool = Field(description="True while the password is one the demo generated")
    created_at: datetime
    updated_at: datetime


class UserCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(pattern=USERNAME_PATTERN.pattern, description="letters, digits and . _ @ -")
    role: Role
    locale: Locale = "fr"
    display_name: Text = Field("", max_length=200)
    password: Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH), NoNul] | None = Field(
        None, description="Omit for an account that uses API tokens only"
    )


class UserUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role | None = None
    locale: Locale | None = None
    display_name: Annotated[str, Field(max_length=200), NoNul] | None = None
    active: bool | None = Field(None, description="False: the account can no longer sign in or use its tokens")
    password: Annotated[str, Field(max_length=PASSWORD_MAX_LENGTH), NoNul] | None = Field(
        None, description="A new password (a reset)"
    )
