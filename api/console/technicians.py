"""The console's technicians pages (see api/console/routes.py for the shared rendering)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(include_in_schema=False)
