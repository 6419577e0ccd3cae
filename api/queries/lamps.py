"""Queries on the lamp inventory and what is known about each lamp."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from api.queries import contains_pattern

# Columns a client can write (the id is only written once, on creation).
EDITABLE_COLUMNS = (
    "name", "lat", "lon", "street", "address", "circuit", "group_name", "lighting_class", "model", "technology",
    "rated_power_w", "install_date", "state", "properties",
)

_LIST_COLUMNS = """l.lamp_id, l.name, l.lat, l.lon, l.street, l.address, l.circuit, l.group_name, l.technology,
                   l.rated_power_w, l.state, s.online"""
_DETAIL_COLUMNS = """l.lamp_id, l.name, l.lat, l.lon, l.street, l.address, l.circuit, l.group_name, l.lighting_class,
                     l.model, l.technology, l.rated_power_w, l.install_date, l.state, l.properties, l.created_at,
                     l.updated_at, s.online, s.changed_at AS status_changed_at"""

# Every filter is optional: NULL means "not filtered".
_FILTER = """
    (%(states)s::text[] IS NULL OR l.state = ANY(%(states)s))
    AND (%(group_name)s::text IS NULL OR l.group_name = %(group_name)s)
    AND (%(circuit)s::text IS NULL OR l.circuit = %(circuit)s)
    AND (%(street)s::text IS NULL OR l.street = %(street)s)
    AND (%(connectivity)s::text IS NULL
         OR (%(connectivity)s = 'online' AND s.online)
         OR (%(connectivity)s = 'offline' AND NOT s.online)
         OR (%(connectivity)s = 'unknown' AND s.lamp_id IS NULL))
    AND (%(min_lon)s::float8 IS NULL
         OR (l.lon BETWEEN %(min_lon)s AND %(max_lon)s AND l.lat BETWEEN %(min_lat)s AND %(max_lat)s))
    AND (%(pattern)s::text IS NULL
         OR l.lamp_id ILIKE %(pattern)s OR l.name ILIKE %(pattern)s
         OR l.street ILIKE %(pattern)s OR l.address ILIKE %(pattern)s)
"""

_GET = f"SELECT {_DETAIL_COLUMNS} FROM lamps l LEFT JOIN lamp_status s USING (lamp_id) WHERE l.lamp_id = %s"
_GET_FOR_UPDATE = _GET + " FOR UPDATE OF l"


@dataclass(frozen=True, slots=True)
class LampFilter:
    states: list[str] | None = None
    group_name: str | None = None
    circuit: str | None = None
    street: str | None = None
    connectivity: str | None = None  # online, offline, unknown
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    text: str | None = None  # matched anywhere in id, name, street, address

    def params(self) -> dict[str, Any]:
        min_lon, min_lat, max_lon, max_lat = self.bbox or (None, None, None, None)
        return {
            "states": self.states or None,
            "group_name": self.group_name,
            "circuit": self.circuit,
            "street": self.street,
            "connectivity": self.connectivity,
            "min_lon": min_lon,
            "min_lat": min_lat,
            "max_lon": max_lon,
            "max_lat": max_lat,
            "pattern": contains_pattern(self.text) if self.text else None,
        }


def count_lamps(conn: psycopg.Connection, where: LampFilter) -> int:
    return conn.execute(
        "SELECT count(*) AS n FROM lamps l LEFT JOIN lamp_status s USING (lamp_id) WHERE " + _FILTER,
        where.params(),
    ).fetchone()["n"]


def list_lamps(conn: psycopg.Connection, where: LampFilter, *, limit: int, offset: int) -> list[dict[str, Any]]:
    return conn.execute(
        f"SELECT {_LIST_COLUMNS} FROM lamps l LEFT JOIN lamp_status s USING (lamp_id) WHERE {_FILTER}"
        " ORDER BY l.lamp_id LIMIT %(limit)s OFFSET %(offset)s",
        where.params() | {"limit": limit, "offset": offset},
    ).fetchall()


def get_lamp(conn: psycopg.Connection, lamp_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """Inventory row and connection state; `for_update` locks the lamp row until the transaction ends."""
    return conn.execute(_GET_FOR_UPDATE if for_update else _GET, (lamp_id,)).fetchone()


def lamp_exists(conn: psycopg.Connection, lamp_id: str) -> bool:
    return conn.execute("SELECT 1 FROM lamps WHERE lamp_id = %s", (lamp_id,)).fetchone() is not None


def last_reading(conn: psycopg.Connection, lamp_id: str) -> dict[str, Any] | None:
    """The newest reading: a backward scan of the (lamp_id, ts) key, one row read."""
    return conn.execute(
        """SELECT ts, seq, voltage_v, current_a, power_w, power_factor, energy_wh, dim_level, driver_temp_c,
                  ambient_lux, burning_hours, switch_cycles, rssi_dbm, extra, received_at
           FROM readings WHERE lamp_id = %s ORDER BY ts DESC LIMIT 1""",
        (lamp_id,),
    ).fetchone()


def open_events(conn: psycopg.Connection, lamp_id: str, *, limit: int = 100) -> list[dict[str, Any]]:
    """Events after the lamp's last 'repaired' event (all of them if it was never repaired), newest first."""
    return conn.execute(
        """SELECT lamp_id, ts, type, detail, source, received_at FROM events
           WHERE lamp_id = %(lamp_id)s AND type <> 'repaired'
             AND ts > coalesce((SELECT max(ts) FROM events WHERE lamp_id = %(lamp_id)s AND type = 'repaired'),
                               '-infinity')
           ORDER BY ts DESC, type LIMIT %(limit)s""",
        {"lamp_id": lamp_id, "limit": limit},
    ).fetchall()


def insert_lamp(conn: psycopg.Connection, lamp_id: str, values: dict[str, Any]) -> bool:
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


def update_lamp(conn: psycopg.Connection, lamp_id: str, values: dict[str, Any]) -> None:
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


def set_lamp_state(conn: psycopg.Connection, lamp_id: str, state: str) -> None:
    conn.execute("UPDATE lamps SET state = %s, updated_at = now() WHERE lamp_id = %s", (state, lamp_id))


def _column_params(values: dict[str, Any]) -> dict[str, Any]:
    params = {name: values[name] for name in EDITABLE_COLUMNS}
    params["properties"] = Jsonb(params["properties"] or {})
    return params
