"""The settings `create_app` was given: the one way routes, pages and dependencies reach them."""

from __future__ import annotations

from fastapi import Request

from core.settings import Settings, get_settings


def app_settings_or_none(request: Request) -> Settings | None:
    return getattr(request.app.state, "settings", None)


def app_settings(request: Request) -> Settings:
    """The application's settings; those of the environment for an application made without any."""
    return app_settings_or_none(request) or get_settings()


async def settings_dependency(request: Request) -> Settings:
    # async: taken in the event loop, with no turn of the thread pool.
    return app_settings(request)
