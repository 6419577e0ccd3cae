"""The API's pool, as the service opens it: each connection set up once."""

from __future__ import annotations

from api.app import open_pool
from core.settings import Settings


def test_each_connection_limits_statements_and_plans_for_the_values_given(database_url):
    settings = Settings(_env_file=None, db_pool_size=2, api_statement_timeout_s=1.5)
    with open_pool(database_url, settings) as pool, pool.connection() as conn:
        assert conn.execute("SHOW statement_timeout").fetchone()[0] == "1500ms"
        # PostgreSQL's default: a chart is planned for its range, not for every chunk (api.app.open_pool)
        assert conn.execute("SHOW plan_cache_mode").fetchone()[0] == "auto"
