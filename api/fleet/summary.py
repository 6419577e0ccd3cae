"""The fleet summary: computed from the database, and kept in memory by each application."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from psycopg_pool import ConnectionPool

from api.database import Database, DictConnection, with_dict_rows
from api.fleet import queries
from api.fleet.schemas import ConnectivityCounts, Energy, FleetSummary

log = logging.getLogger(__name__)

# The summary is recomputed at most once per this many seconds in each server process and
# shared by every caller: a dashboard on every desk must not cost the database a summary
# each. `generated_at` tells its age.
CACHE_S = 30.0


@dataclass(frozen=True, slots=True)
class _Computed:
    summary: FleetSummary
    body: bytes  # the summary as JSON, encoded once for every caller
    fresh_until: float  # time.monotonic()


class SummaryCache:
    """One application's fleet summary, kept in memory and refreshed in the background.

    Only the first request of a process waits for a computation. Afterwards every request
    is answered from memory at once; the first one to find the summary older than
    `max_age_s` starts a refresh on a thread of its own, with a connection of its own,
    and the summary it computes replaces the old one when it is ready
    (stale-while-revalidate). A failed refresh is logged and the last summary is kept
    until the next one succeeds.
    """

    def __init__(self, max_age_s: float = CACHE_S) -> None:
        self.max_age_s = max_age_s
        self._current: _Computed | None = None
        self._first = threading.Lock()  # callers arriving before the first summary wait for it
        self._refreshing = threading.Lock()  # held by the one background refresh running
        self.refresh_failures = 0

    def get(self, db: Database, pool: ConnectionPool, time_zone: str) -> _Computed:
        """The summary; `db` gives the connection of the first computation (the request's)."""
        current = self._current
        if current is None:
            with self._first:
                if self._current is None:
                    with db.connection() as conn:
                        self._current = self._compute(conn, time_zone)
                return self._current
        if current.fresh_until <= time.monotonic() and self._refreshing.acquire(blocking=False):
            threading.Thread(
                target=self._refresh, args=(pool, time_zone), name="fleet-summary-refresh", daemon=True
            ).start()
        return current

    def _compute(self, conn: DictConnection, time_zone: str) -> _Computed:
        summary = compute_summary(conn, time_zone)
        return _Computed(summary, summary.model_dump_json().encode(), time.monotonic() + self.max_age_s)

    def _refresh(self, pool: ConnectionPool, time_zone: str) -> None:
        try:
            with pool.connection() as conn:
                self._current = self._compute(with_dict_rows(conn), time_zone)
        except Exception:  # noqa: BLE001 - the last summary stays; the next stale request tries again
            self.refresh_failures += 1
            log.exception("the fleet summary could not be refreshed; the previous one is kept")
        finally:
            self._refreshing.release()


def compute_summary(conn: DictConnection, time_zone: str) -> FleetSummary:
    now = datetime.now(UTC)
    periods = queries.calendar_periods(now, ZoneInfo(time_zone))
    by_state = queries.lamps_by_state(conn)
    energy = queries.energy_wh(conn, periods)
    return FleetSummary(
        generated_at=now,
        time_zone=time_zone,
        lamps_total=sum(by_state.values()),
        lamps_by_state=by_state,
        connectivity=ConnectivityCounts(**queries.connectivity_counts(conn)),
        lamps_out=queries.count_lamps_out(conn),
        energy=Energy(
            today_kwh=energy["day_wh"] / 1000,
            month_kwh=energy["month_wh"] / 1000,
            today_from=periods.day_start,
            month_from=periods.month_start,
        ),
        dead_letters_24h=queries.count_recent_dead_letters(conn, hours=24),
        unknown_lamps_pending=queries.count_pending_unknown_lamps(conn),
    )
