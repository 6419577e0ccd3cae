"""Queries on the scores the nightly job writes: each lamp's latest failure score and its history
(`lamp_predictions`), and the supply warnings of the circuits of its newest run (`circuit_predictions`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.database import DictConnection, one
from core.paging import page_clause

# Each lamp's newest score: the rows of the newest scoring run (from the index on scored_at),
# and for a lamp that run left out (added since, or silent that day), its own newest score,
# one backward probe of the (lamp_id, scored_at) key for each such lamp alone. A probe for
# every lamp cost most of the answer in a city of hundreds of thousands of lamps. The scores
# are ranked on these narrow columns first; the page's rows then get their reasons and open
# work order. Retired lamps are left out: nobody goes to repair them.
_NEWEST_RUN = "(SELECT max(scored_at) FROM lamp_predictions)"
_LATEST = f"""
    FROM (
        SELECT n.lamp_id, n.scored_at, n.probability FROM lamp_predictions n WHERE n.scored_at = {_NEWEST_RUN}
        UNION ALL
        SELECT o.lamp_id, o.scored_at, o.probability
        FROM lamps s
        CROSS JOIN LATERAL (
            SELECT q.lamp_id, q.scored_at, q.probability
            FROM lamp_predictions q WHERE q.lamp_id = s.lamp_id ORDER BY q.scored_at DESC LIMIT 1
        ) o
        WHERE NOT EXISTS (SELECT 1 FROM lamp_predictions n WHERE n.lamp_id = s.lamp_id AND n.scored_at = {_NEWEST_RUN})
    ) p
    JOIN lamps l ON l.lamp_id = p.lamp_id
    WHERE l.state <> 'retired'
      AND (%(group_name)s::text IS NULL OR l.group_name = %(group_name)s)
      AND (%(circuit)s::text IS NULL OR l.circuit = %(circuit)s)
      AND (%(street)s::text IS NULL OR l.street = %(street)s)
      AND (%(min_probability)s::float8 IS NULL OR p.probability >= %(min_probability)s::real)
      AND (%(min_lon)s::float8 IS NULL
           OR (l.lon BETWEEN %(min_lon)s AND %(max_lon)s AND l.lat BETWEEN %(min_lat)s AND %(max_lat)s))
"""

# The lamps' newest scores are gathered once (MATERIALIZED: both the count and the page read
# them) and counted and ranked from there; only the page's rows then get their reasons and
# open work order. The empty row on the left keeps one row, and so the count, when the page
# is past the end.
_PAGE = f"""
    WITH latest AS MATERIALIZED (
        SELECT l.lamp_id, p.scored_at, p.probability {_LATEST}
    ), ranked AS (
        SELECT * FROM latest ORDER BY probability DESC, lamp_id {{bounds}}
    )
    SELECT (SELECT count(*) FROM latest) AS total,
           l.lamp_id, l.name, l.street, l.address, l.circuit, l.group_name, l.lat, l.lon, l.state,
           r.probability, p.horizon_days, p.model_version, p.scored_at, p.feature_day, p.reasons,
           w.id AS work_order_id, w.status AS work_order_status, w.scheduled_for AS work_order_scheduled_for,
           w.source AS work_order_source
    FROM (SELECT) AS always_one_row
    LEFT JOIN (ranked r
               JOIN lamps l ON l.lamp_id = r.lamp_id
               JOIN lamp_predictions p ON p.lamp_id = r.lamp_id AND p.scored_at = r.scored_at
               LEFT JOIN work_orders w ON w.lamp_id = r.lamp_id AND w.status IN ('open', 'scheduled')) ON true
    ORDER BY r.probability DESC, r.lamp_id
"""


@dataclass(frozen=True, slots=True)
class PredictionFilter:
    group_name: str | None = None
    circuit: str | None = None
    street: str | None = None
    min_probability: float | None = None
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat

    def params(self) -> dict[str, Any]:
        min_lon, min_lat, max_lon, max_lat = self.bbox or (None, None, None, None)
        return {
            "group_name": self.group_name,
            "circuit": self.circuit,
            "street": self.street,
            "min_probability": self.min_probability,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
        }


def list_latest(
    conn: DictConnection, where: PredictionFilter, *, limit: int, offset: int
) -> tuple[int, list[dict[str, Any]]]:
    """How many lamps match, and the page of them: highest probability first, lamps of equal
    probability by id. One statement, so the lamps' newest scores are gathered once."""
    rows = conn.execute(_PAGE.format(bounds=page_clause(limit, offset)), where.params()).fetchall()
    total = rows[0]["total"]
    return total, [{k: v for k, v in row.items() if k != "total"} for row in rows if row["lamp_id"] is not None]


def latest_run_at(conn: DictConnection) -> datetime | None:
    """When the newest scoring run scored (from the index on scored_at)."""
    return one(conn.execute("SELECT max(scored_at) AS at FROM lamp_predictions").fetchone())["at"]


def latest_for_lamp(conn: DictConnection, lamp_id: str) -> dict[str, Any] | None:
    return conn.execute(
        """SELECT scored_at, feature_day, probability, horizon_days, model_version, reasons
           FROM lamp_predictions WHERE lamp_id = %s ORDER BY scored_at DESC LIMIT 1""",
        (lamp_id,),
    ).fetchone()


def history_for_lamp(conn: DictConnection, lamp_id: str, *, since: datetime | None, limit: int) -> list[dict[str, Any]]:
    """The lamp's newest `limit` scores since `since`, oldest first."""
    rows = conn.execute(
        f"""SELECT scored_at, feature_day, probability, horizon_days, model_version
           FROM lamp_predictions
           WHERE lamp_id = %(lamp_id)s AND (%(since)s::timestamptz IS NULL OR scored_at >= %(since)s)
           ORDER BY scored_at DESC {page_clause(limit)}""",
        {"lamp_id": lamp_id, "since": since},
    ).fetchall()
    rows.reverse()
    return rows


# The circuits of the newest scoring run (the newest scored_at of either table, from their
# indexes: a run whose model had no circuit model scored lamps only, and the circuits of an
# older run are out of date), ranked on the table's own columns; the page's rows then get what
# their lamps say. A circuit's lamps are those not retired: their streets, the centroid of
# those with coordinates, their open work orders.
_CIRCUITS_OF_RUN = """
    FROM circuit_predictions c
    WHERE c.scored_at = (SELECT max(at) FROM (SELECT max(scored_at) AS at FROM circuit_predictions
                                              UNION ALL SELECT max(scored_at) FROM lamp_predictions) runs)
      AND (%(circuit)s::text IS NULL OR c.circuit = %(circuit)s)
      AND (%(min_probability)s::float8 IS NULL OR c.probability >= %(min_probability)s::real)
      AND (%(street)s::text IS NULL OR EXISTS (
               SELECT 1 FROM lamps l WHERE l.circuit = c.circuit AND l.street = %(street)s AND l.state <> 'retired'))
"""

_CIRCUIT_PAGE = f"""
    WITH ranked AS (
        SELECT c.circuit, c.scored_at, c.probability {_CIRCUITS_OF_RUN}
        ORDER BY c.probability DESC, c.circuit {{bounds}}
    )
    SELECT c.circuit, c.probability, c.horizon_days, c.feature_day, c.scored_at, c.model_version, c.lamps,
           coalesce(s.streets, ARRAY[]::text[]) AS streets, g.lat, g.lon, w.open_work_orders, c.reasons
    FROM ranked r
    JOIN circuit_predictions c ON c.circuit = r.circuit AND c.scored_at = r.scored_at
    CROSS JOIN LATERAL (
        SELECT array_agg(per_street.street ORDER BY per_street.lamps DESC, per_street.street) AS streets
        FROM (SELECT l.street, count(*) AS lamps FROM lamps l
              WHERE l.circuit = r.circuit AND l.state <> 'retired' AND l.street <> ''
              GROUP BY l.street) per_street
    ) s
    CROSS JOIN LATERAL (
        SELECT avg(l.lat) AS lat, avg(l.lon) AS lon FROM lamps l
        WHERE l.circuit = r.circuit AND l.state <> 'retired' AND l.lat IS NOT NULL AND l.lon IS NOT NULL
    ) g
    CROSS JOIN LATERAL (
        SELECT count(*) AS open_work_orders FROM work_orders w JOIN lamps l ON l.lamp_id = w.lamp_id
        WHERE l.circuit = r.circuit AND l.state <> 'retired' AND w.status IN ('open', 'scheduled')
    ) w
    ORDER BY r.probability DESC, r.circuit
"""


@dataclass(frozen=True, slots=True)
class CircuitFilter:
    circuit: str | None = None
    street: str | None = None  # circuits with a lamp not retired on this street
    min_probability: float | None = None

    def params(self) -> dict[str, Any]:
        return {"circuit": self.circuit, "street": self.street, "min_probability": self.min_probability}


def count_latest_circuits(conn: DictConnection, where: CircuitFilter) -> int:
    return one(conn.execute("SELECT count(*) AS n " + _CIRCUITS_OF_RUN, where.params()).fetchone())["n"]


def list_latest_circuits(
    conn: DictConnection, where: CircuitFilter, *, limit: int, offset: int
) -> list[dict[str, Any]]:
    """The newest run's circuits, highest probability first; circuits of equal probability by name."""
    return conn.execute(_CIRCUIT_PAGE.format(bounds=page_clause(limit, offset)), where.params()).fetchall()


def latest_circuit_run_at(conn: DictConnection) -> datetime | None:
    """When the newest run that scored circuits scored."""
    return one(conn.execute("SELECT max(scored_at) AS at FROM circuit_predictions").fetchone())["at"]
