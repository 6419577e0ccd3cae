"""The API's OpenAPI schema, as committed in docs/openapi.json.

    python -m api.openapi > docs/openapi.json

The schema is built from the application itself; no database is needed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from psycopg_pool import ConnectionPool

from api.app import create_app


def openapi_schema() -> dict[str, Any]:
    pool = ConnectionPool("", open=False)  # never opened: building the schema touches no database
    return create_app(pool).openapi()


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(openapi_schema()))
