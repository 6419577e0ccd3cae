"""Queries on the lamp inventory and what is known about each lamp.

Each filter of the lamp list has a fixed condition, and a query joins those of the
filters given (`LampFilter.where`), so that each combination is planned with its indexes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psycopg
import psycopg.rows
from psycopg.types.json import Jsonb

from api.database import DictConnection, one
from core import inventory
from core.paging import page_clause

# Columns a client can write: the inventory's columns but the id, which is written once, on creation.
EDITABLE_COLUMNS = tuple(column for column in inventory.LAMP_COLUMNS if column != "lamp_id")

# `lamps.online` is the controller's last reported connection state (null: never reported),
# kept equal to `lamp_status` by the database (migration 0012): the list reads the inventory alone.
_LIST_COLUMNS = """l.lamp_id, l.name, l.lat, l.lon, l.street, l.address, l.circuit, l.group_name, l.technology,
                   l.rated_power_w, l.state, l.online"""
_DETAIL_COLUMNS = """l.lamp_id, l.name, l.lat, l.lon, l.street, l.address, l.circuit, l.group_name, l.lighting_class,
                     l.model, l.technology, l.rated_power_w, l.install_date, l.state, l.properties, l.created_at,
                     l.updated_at, l.online, s.changed_at AS status_changed_at"""

# One fixed condition per filter; a query joins those of the filters given (TRUE for none).
# Each combination is then a statement of its own, planned for what it filters on: a
# prepared statement's generic plan can still use the indexes (the text search's trigram
# index among them), which a single "(%(x)s IS NULL OR ...)" statement for every
# combination could not.
_CONDITIONS = {
    "states": "l.state = ANY(%(states)s)",
    "group_name": "l.group_name = %(group_name)s",
    "circuit": "l.circuit = %(circuit)s",
    "street": "l.street = %(street)s",
    # A closed box (its edges included), searched in the positions' R-tree (migration 0011).
    "bbox": "point(l.lon, l.lat) <@ box(point(%(min_lon)s, %(min_lat)s), point(%(max_lon)s, %(max_lat)s))",
    # The matching ids first (served by the trigram index of migration 0008), then the
    # lamps by id. Written as a plain filter, a page in id order was planned as a walk of
    # the whole id index testing every lamp's four texts, to find the few that match.
    "text": """l.lamp_id = ANY (ARRAY(
                   SELECT t.lamp_id FROM lamps t
                   WHERE t.lamp_id ILIKE %(pattern)s OR t.name ILIKE %(pattern)s
                      OR t.street ILIKE %(pattern)s OR t.address ILIKE %(pattern)s))""",
}
_CONNECTIVITY = {"online": "l.online", "offline": "NOT l.online", "unknown": "l.online IS NULL"}

_GET = f"SELECT {_DETAIL_COLUMNS} FROM lamps l LEFT JOIN lamp_status s USING (lamp_id) WHERE l.lamp_id = %s"
_GET_FOR_UPDATE = _GET + " FOR UPDATE OF l"


def contains_pattern(text: str) -> str:
    r"""An ILIKE pattern matching `text` anywhere, with % _ \ taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass(frozen=True, slots=True)
class LampFilter:
    states: Sequence[str] | None = None
    group_name: str | None = None
    circuit: str | None = None
    street: str | None = None
    connectivity: str | None = None  # online, offline, unknown
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    text: str | None = None  # matched anywhere in id, name, street, address

    def where(self) -> str:
        """The SQL condition of the filters given, joined from the fixed ones above."""
        given = {
            "states": self.states or None,
            "group_name": self.group_name,
            "circuit": self.circuit,
            "street": self.street,
            "bbox": self.bbox,
            "text": self.text or None,
        }
        conditions = [_CONDITIONS[name] for name, value in given.items() if value is not None]
        if self.connectivity is not None:
            conditions.append(_CONNECTIVITY[self.connectivity])
        return " AND ".join(conditions) or "TRUE"

    def params(self) -> dict[str, Any]:
        min_lon, min_lat, max_lon, max_lat = self.bbox or (None, None, None, None)
        return {
            "states": list(self.states) if self.states else None,
            "group_name": self.group_name,
            "circuit": self.circuit,
            "street": self.street,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "pattern": contains_pattern(self.text) if self.text else None,
        }


def lamp_page_json(conn: DictConnection, where: LampFilter, *, limit: int, offset: int) -> tuple[int, bytes]:
    """How many lamps match, and the page of them as the JSON array the API answers (objects
    with the columns of `_LIST_COLUMNS`, in id order), in one statement: the database encodes
    the rows, which cost the server more than the query when done in Python.

    The page's bounds are written into the statement, not passed as parameters: a prepared
    statement's generic plan, not knowing how many rows a page takes, walked the id index
    from the start for a filter that matches few lamps, where a page of known size reads
    the matching lamps by their own index (see core.paging)."""
    bounds = page_clause(limit, offset)
    condition = where.where()
    total, items = one(
        conn.cursor(row_factory=psycopg.rows.tuple_row)
        .execute(
            f"""WITH page AS (
                SELECT {_LIST_COLUMNS} FROM lamps l WHERE {condition}
                ORDER BY l.lamp_id {bounds})
            SELECT (SELECT count(*) FROM lamps l WHERE {condition}),
                   (SELECT coalesce(json_agg(page ORDER BY page.lamp_id), '[]')::text FROM page)""",
            where.params(),
        )
        .fetchone()
    )
    return total, items.encode()


def get_lamp(conn: DictConnection, lamp_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """Inventory row and connection state; `for_update` locks the lamp row until the transaction ends."""
    return conn.execute(_GET_FOR_UPDATE if for_update else _GET, (lamp_id,)).fetchone()


def lamp_exists(conn: DictConnection, lamp_id: str) -> bool:
    return conn.execute("SELECT 1 FROM lamps WHERE lamp_id = %s", (lamp_id,)).fetchone() is not None


# The newest reading of a lamp, {recent}ly or at any time.
_LAST_READING = """SELECT ts, seq, voltage_v, current_a, power_w, power_factor, energy_wh, dim_level, driver_temp_c,
                          ambient_lux, burning_hours, switch_cycles, rssi_dbm, extra, received_at
                   FROM readings WHERE lamp_id = %s {recent} ORDER BY ts DESC LIMIT 1"""
_LAST_READING_RECENT = _LAST_READING.format(recent="AND ts > now() - interval '2 days'")
_LAST_READING_EVER = _LAST_READING.format(recent="")


def last_reading(conn: DictConnection, lamp_id: str) -> dict[str, Any] | None:
    """The newest reading: a backward scan of the (lamp_id, ts) key, one row read. It is looked
    for in the last two days first, a statement planned over their chunks alone; only a lamp
    silent longer pays for one planned over every chunk of the hypertable."""
    return (
        conn.execute(_LAST_READING_RECENT, (lamp_id,)).fetchone()
        or conn.execute(_LAST_READING_EVER, (lamp_id,)).fetchone()
    )


def open_events(conn: DictConnection, lamp_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Events after the lamp's last 'repaired' event (all of them if it was never repaired), newest first."""
    return conn.execute(
        f"""SELECT lamp_id, ts, type, detail, source, received_at FROM events
           WHERE lamp_id = %(lamp_id)s AND type <> 'repaired'
             AND ts > coalesce((SELECT max(ts) FROM events WHERE lamp_id = %(lamp_id)s AND type = 'repaired'),
                               '-infinity')
           ORDER BY ts DESC, type {page_clause(limit)}""",
        {"lamp_id": lamp_id},
    ).fetchall()


def insert_lamp(conn: DictConnection, lamp_id: str, values: dict[str, Any]) -> bool:
    """Add a lamp; False when the id is taken."""
    row = conn.execute(
        """INSERT INTO lamps (lamp_id, name, lat, lon, street, address, circuit, group_name, lighting_class, model,
                              technology, rated_power_w, install_date, state, properties)
           VALUES (%(lamp_id)s, %(name)s, %(lat)s, %(lon)s, %(street)s, %(address)s, %(circuit)s, %(group_name)s,
                   %(lighting_class)s, %(model)s, %(technology)s, %(rated_power_w)s, %(install_date)s, %(state)s,
                   %(properties)s)
           ON CONFLICT (lamp_id) DO NOTHING RETURNING lamp_id""",
        _column_params(values) | {"lamp_id": lamp_id},
    ).fetchone()
    return row is not None


def update_lamp(conn: DictConnection, lamp_id: str, values: dict[str, Any]) -> None:
    """Write every editable column from `values` (the merged old and new values)."""
    conn.execute(
        """UPDATE lamps SET name = %(name)s, lat = %(lat)s, lon = %(lon)s, street = %(street)s,
                  address = %(address)s, circuit = %(circuit)s, group_name = %(group_name)s,
                  lighting_class = %(lighting_class)s, model = %(model)s, technology = %(technology)s,
                  rated_power_w = %(rated_power_w)s, install_date = %(install_date)s, state = %(state)s,
                  properties = %(properties)s, updated_at = now()
           WHERE lamp_id = %(lamp_id)s""",
        _column_params(values) | {"lamp_id": lamp_id},
    )


def set_lamp_state(conn: DictConnection, lamp_id: str, state: str) -> None:
    conn.execute("UPDATE lamps SET state = %s, updated_at = now() WHERE lamp_id = %s", (state, lamp_id))


def _column_params(values: dict[str, Any]) -> dict[str, Any]:
    params = {name: values[name] for name in EDITABLE_COLUMNS}
    params["properties"] = Jsonb(params["properties"] or {})
    return params
