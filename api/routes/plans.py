"""plans endpoints."""

from __future__ import annotations

from fastapi import APIRouter

from api import problems

router = APIRouter(prefix="/api/v1", tags=["plans"], responses=problems.responses(401, 403))
