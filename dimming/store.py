"""Dimming data in the database: profiles and their versions, assignments, the calendar, overrides.

The scheduler reads with `load_config` and `load_lamps`. The changes never commit (the
caller's transaction does) and each ends with `pg_notify('streetlight_dimming', what)`, so the
scheduler hears of a change only once it commits. Records are plain dicts shaped as the API
shows them (`id` is the record's own); a profile handed to `create_profile` or `update_profile`
must have passed `validate_profile`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from core.paging import page_clause
from dimming.calendar import CalendarException
from dimming.profiles import ProfileSpec, Step
from dimming.resolve import Assignment, DimmingConfig, Lamp, Override, Profile

NOTIFY_CHANNEL = "streetlight_dimming"
# Lamps whose controllers are installed: they get plans (a faulty lamp's controller still runs one).
PLANNED_STATES = ("in_service", "faulty", "under_repair")
# The lamps column that holds each kind of target.
TARGET_COLUMNS = {
    "lamp": "lamp_id",
    "group": "group_name",
    "street": "street",
    "circuit": "circuit",
    "lighting_class": "lighting_class",
}


class StoreError(Exception):
    """A change that cannot be made; `field` names the input at fault where there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class NotFound(StoreError):
    pass


class Conflict(StoreError):
    """The change clashes with the current state (a stale version, a name in use, a profile in use)."""


class InvalidTarget(StoreError):
    pass


def notify(conn: psycopg.Connection, what: str) -> None:
    """Tell the plan scheduler what changed; delivered when the transaction commits."""
    conn.execute("SELECT pg_notify(%s, %s)", (NOTIFY_CHANNEL, what))


def _rows(conn: psycopg.Connection, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def _row(conn: psycopg.Connection, query: str, params: Any = None) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchone()


def _inserted_id(conn: psycopg.Connection, query: str, params: Any = None) -> int:
    """The `id` an INSERT ... RETURNING ... AS id gives back."""
    row = _row(conn, query, params)
    assert row is not None, "an INSERT ... RETURNING always returns its row"
    return row["id"]


# --- for the scheduler --------------------------------------------------------------

# An override record's fields in the order of `resolve.Override`'s.
_OVERRIDE_FIELDS = ("id", "target_kind", "target", "level", "starts_at", "expires_at", "reason", "created_by")


def load_lamps(conn: psycopg.Connection) -> list[Lamp]:
    """Lamps that get a plan: installed (in service, faulty or under repair) and with coordinates."""
    rows = _rows(
        conn,
        """SELECT lamp_id, lat, lon, group_name, street, circuit, lighting_class FROM lamps
           WHERE state = ANY(%s) AND lat IS NOT NULL AND lon IS NOT NULL ORDER BY lamp_id""",
        (list(PLANNED_STATES),),
    )
    return [Lamp(**row) for row in rows]


def load_config(conn: psycopg.Connection, now: datetime) -> DimmingConfig:
    """Profiles in force, assignments, calendar exceptions, and the overrides not yet over at `now`."""
    profiles = {
        row["id"]: Profile(
            row["id"], row["name"], row["version"], row["twilight"], tuple(Step(**step) for step in row["steps"])
        )
        for row in _rows(conn, _PROFILE_QUERY + " AND p.retired_at IS NULL")
    }
    assignments = tuple(
        Assignment(row["id"], row["target_kind"], row["target"], row["profile_id"]) for row in list_assignments(conn)
    )
    exceptions = tuple(_exception(row) for row in list_exceptions(conn))
    overrides = tuple(Override(*(row[k] for k in _OVERRIDE_FIELDS)) for row in list_overrides(conn, active_at=now))
    return DimmingConfig(profiles, assignments, exceptions, overrides)


def _exception(row: dict[str, Any]) -> CalendarException:
    return CalendarException(
        exception_id=row["id"],
        name=row["name"],
        profile_id=row["profile_id"],
        kind=row["kind"],
        start_date=row["start_date"],
        end_date=row["end_date"],
        weekdays=tuple(row["weekdays"] or ()),
        start_day=row["start_day"],
        end_day=row["end_day"],
        target_kind=row["target_kind"],
        target=row["target"],
        priority=row["priority"],
    )


def lamp(conn: psycopg.Connection, lamp_id: str) -> dict[str, Any] | None:
    """One lamp's fields that rules look at, whatever its state; None if there is no such lamp."""
    return _row(
        conn,
        "SELECT lamp_id, lat, lon, group_name, street, circuit, lighting_class, state FROM lamps WHERE lamp_id = %s",
        (lamp_id,),
    )


def latest_push(conn: psycopg.Connection, lamp_id: str) -> dict[str, Any] | None:
    """The lamp's newest plan push and its answer, or None if none was pushed."""
    return _row(
        conn,
        """SELECT version, plan, created_at, pushed_at, attempts, ack_status, ack_reason, acked_at
           FROM plan_pushes WHERE lamp_id = %s ORDER BY version DESC LIMIT 1""",
        (lamp_id,),
    )


# --- profiles -------------------------------------------------------------------------

_PROFILE_QUERY = """
    SELECT p.profile_id AS id, v.name, v.description, p.version, v.twilight, v.steps,
           p.retired_at, p.created_at, p.updated_at, p.updated_by
    FROM dimming_profiles p JOIN dimming_profile_versions v USING (profile_id)
    WHERE v.version = p.version"""


def list_profiles(conn: psycopg.Connection, *, include_retired: bool = False) -> list[dict[str, Any]]:
    where = "" if include_retired else " AND p.retired_at IS NULL"
    return _rows(conn, _PROFILE_QUERY + where + " ORDER BY v.name")


def get_profile(conn: psycopg.Connection, profile_id: int, *, for_update: bool = False) -> dict[str, Any]:
    lock = " FOR UPDATE OF p" if for_update else ""
    row = _row(conn, _PROFILE_QUERY + " AND p.profile_id = %s" + lock, (profile_id,))
    if row is None:
        raise NotFound(f"no dimming profile {profile_id}")
    return row


def profile_versions(conn: psycopg.Connection, profile_id: int) -> list[dict[str, Any]]:
    """Every version of a profile, newest first."""
    get_profile(conn, profile_id)
    return _rows(
        conn,
        """SELECT version, name, description, twilight, steps, created_at, created_by
           FROM dimming_profile_versions WHERE profile_id = %s ORDER BY version DESC""",
        (profile_id,),
    )


def _name_taken(conn: psycopg.Connection, name: str, except_id: int | None = None) -> bool:
    return (
        _row(
            conn,
            "SELECT 1 AS taken FROM dimming_profiles WHERE name = %s AND profile_id IS DISTINCT FROM %s",
            (name, except_id),
        )
        is not None
    )


def _steps_json(spec: ProfileSpec) -> Jsonb:
    return Jsonb([step.model_dump(exclude_none=True) for step in spec.steps])


def _write_version(conn: psycopg.Connection, profile_id: int, version: int, spec: ProfileSpec, actor: str) -> None:
    conn.execute(
        """INSERT INTO dimming_profile_versions (profile_id, version, name, description, twilight, steps, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s)""",
        (profile_id, version, spec.name, spec.description, spec.twilight, _steps_json(spec), actor),
    )


def create_profile(conn: psycopg.Connection, spec: ProfileSpec, actor: str) -> dict[str, Any]:
    if _name_taken(conn, spec.name):
        raise Conflict(f"a profile named {spec.name!r} already exists", "name")
    profile_id = _inserted_id(
        conn,
        "INSERT INTO dimming_profiles (name, updated_by) VALUES (%s, %s) RETURNING profile_id AS id",
        (spec.name, actor),
    )
    _write_version(conn, profile_id, 1, spec, actor)
    notify(conn, f"profile:{profile_id}")
    return get_profile(conn, profile_id)


def update_profile(
    conn: psycopg.Connection, profile_id: int, spec: ProfileSpec, expected_version: int, actor: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Write a new version of the profile; `expected_version` is the one the editor started from."""
    before = get_profile(conn, profile_id, for_update=True)
    if before["retired_at"] is not None:
        raise Conflict(f"profile {profile_id} is retired; copy it to edit it")
    if before["version"] != expected_version:
        raise Conflict(
            f"profile {profile_id} is at version {before['version']}, not {expected_version}:"
            " someone changed it meanwhile; reload it and edit again",
            "version",
        )
    if _name_taken(conn, spec.name, profile_id):
        raise Conflict(f"a profile named {spec.name!r} already exists", "name")
    version = before["version"] + 1
    _write_version(conn, profile_id, version, spec, actor)
    conn.execute(
        """UPDATE dimming_profiles SET name = %s, version = %s, updated_at = now(), updated_by = %s
           WHERE profile_id = %s""",
        (spec.name, version, actor, profile_id),
    )
    notify(conn, f"profile:{profile_id}")
    return before, get_profile(conn, profile_id)


def copy_profile(conn: psycopg.Connection, profile_id: int, name: str, actor: str) -> dict[str, Any]:
    """A new profile (version 1) doing what the given one does now."""
    source = get_profile(conn, profile_id)
    spec = ProfileSpec(
        name=name,
        description=source["description"],
        twilight=source["twilight"],
        steps=[Step(**step) for step in source["steps"]],
    )
    return create_profile(conn, spec, actor)


def profile_users(conn: psycopg.Connection, profile_id: int) -> list[str]:
    """What makes lamps follow the profile: its assignments and calendar exceptions, described."""
    rows = _rows(
        conn,
        """SELECT 'assignment ' || assignment_id || ' (' || target_kind
                  || CASE WHEN target = '' THEN '' ELSE ' ' || target END || ')' AS what
           FROM dimming_assignments WHERE profile_id = %(id)s
           UNION ALL
           SELECT 'calendar exception ' || exception_id || ' (' || name || ')'
           FROM dimming_calendar WHERE profile_id = %(id)s""",
        {"id": profile_id},
    )
    return [row["what"] for row in rows]


def retire_profile(conn: psycopg.Connection, profile_id: int, actor: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Retire a profile no rule uses any more; retiring twice changes nothing."""
    before = get_profile(conn, profile_id, for_update=True)
    if before["retired_at"] is not None:
        return before, before
    users = profile_users(conn, profile_id)
    if users:
        raise Conflict(f"profile {profile_id} is still used by {', '.join(users)}; assign another profile first")
    conn.execute(
        "UPDATE dimming_profiles SET retired_at = now(), updated_at = now(), updated_by = %s WHERE profile_id = %s",
        (actor, profile_id),
    )
    notify(conn, f"profile:{profile_id}")
    return before, get_profile(conn, profile_id)


def _usable_profile(conn: psycopg.Connection, profile_id: int) -> dict[str, Any]:
    try:
        profile = get_profile(conn, profile_id)
    except NotFound:
        raise InvalidTarget(f"no dimming profile {profile_id}", "profile_id") from None
    if profile["retired_at"] is not None:
        raise InvalidTarget(f"profile {profile_id} ({profile['name']}) is retired", "profile_id")
    return profile


# --- targets ------------------------------------------------------------------------


def check_target(conn: psycopg.Connection, target_kind: str, target: str) -> None:
    """Refuse a target that names nothing: a typo would otherwise reach no lamp, silently."""
    if target_kind == "town":
        if target != "":
            raise InvalidTarget("a town-wide rule has an empty target", "target")
        return
    if target == "":
        raise InvalidTarget(f"a {target_kind} rule needs a target (which {target_kind.replace('_', ' ')})", "target")
    column = TARGET_COLUMNS[target_kind]  # a fixed column name, never user input
    found = _row(conn, f"SELECT 1 AS found FROM lamps WHERE {column} = %s LIMIT 1", (target,))
    if found is None:
        what = "lamp" if target_kind == "lamp" else f"lamp with {target_kind.replace('_', ' ')}"
        raise InvalidTarget(f"no {what} {target!r}", "target")


# --- assignments -----------------------------------------------------------------------

_ASSIGNMENT_QUERY = """
    SELECT a.assignment_id AS id, a.target_kind, a.target, a.profile_id, v.name AS profile_name,
           a.created_at, a.created_by
    FROM dimming_assignments a
    JOIN dimming_profiles p USING (profile_id)
    JOIN dimming_profile_versions v ON v.profile_id = p.profile_id AND v.version = p.version"""


def list_assignments(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, _ASSIGNMENT_QUERY + " ORDER BY a.target_kind, a.target")


def get_assignment(conn: psycopg.Connection, assignment_id: int) -> dict[str, Any]:
    row = _row(conn, _ASSIGNMENT_QUERY + " WHERE a.assignment_id = %s", (assignment_id,))
    if row is None:
        raise NotFound(f"no assignment {assignment_id}")
    return row


def assign(
    conn: psycopg.Connection, target_kind: str, target: str, profile_id: int, actor: str
) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    """Give a target a profile, replacing the one it had; returns (before or None, after)."""
    check_target(conn, target_kind, target)
    _usable_profile(conn, profile_id)
    before = _row(conn, _ASSIGNMENT_QUERY + " WHERE a.target_kind = %s AND a.target = %s", (target_kind, target))
    assignment_id = _inserted_id(
        conn,
        """INSERT INTO dimming_assignments (target_kind, target, profile_id, created_by) VALUES (%s, %s, %s, %s)
           ON CONFLICT (target_kind, target)
           DO UPDATE SET profile_id = EXCLUDED.profile_id, created_at = now(), created_by = EXCLUDED.created_by
           RETURNING assignment_id AS id""",
        (target_kind, target, profile_id, actor),
    )
    notify(conn, f"assignment:{assignment_id}")
    return before, get_assignment(conn, assignment_id)


def delete_assignment(conn: psycopg.Connection, assignment_id: int) -> dict[str, Any]:
    before = get_assignment(conn, assignment_id)
    conn.execute("DELETE FROM dimming_assignments WHERE assignment_id = %s", (assignment_id,))
    notify(conn, f"assignment:{assignment_id}")
    return before


# --- calendar -------------------------------------------------------------------------

_EXCEPTION_QUERY = """
    SELECT c.exception_id AS id, c.name, c.profile_id, v.name AS profile_name, c.kind, c.start_date, c.end_date,
           c.weekdays, c.start_day, c.end_day, c.target_kind, c.target, c.priority,
           c.created_at, c.updated_at, c.created_by
    FROM dimming_calendar c
    JOIN dimming_profiles p USING (profile_id)
    JOIN dimming_profile_versions v ON v.profile_id = p.profile_id AND v.version = p.version"""

EXCEPTION_FIELDS = (
    "name", "profile_id", "kind", "start_date", "end_date", "weekdays", "start_day", "end_day",
    "target_kind", "target", "priority",
)  # fmt: skip


def list_exceptions(conn: psycopg.Connection) -> list[dict[str, Any]]:
    return _rows(conn, _EXCEPTION_QUERY + " ORDER BY c.priority DESC, c.exception_id")


def get_exception(conn: psycopg.Connection, exception_id: int, *, for_update: bool = False) -> dict[str, Any]:
    lock = " FOR UPDATE OF c" if for_update else ""
    row = _row(conn, _EXCEPTION_QUERY + " WHERE c.exception_id = %s" + lock, (exception_id,))
    if row is None:
        raise NotFound(f"no calendar exception {exception_id}")
    return row


def _exception_values(conn: psycopg.Connection, values: dict[str, Any]) -> dict[str, Any]:
    check_target(conn, values["target_kind"], values["target"])
    _usable_profile(conn, values["profile_id"])
    values = dict(values)
    values["weekdays"] = list(values["weekdays"]) if values.get("weekdays") else None
    return values


def create_exception(conn: psycopg.Connection, values: dict[str, Any], actor: str) -> dict[str, Any]:
    """`values`: EXCEPTION_FIELDS, their dates already checked (dimming.calendar.check)."""
    values = _exception_values(conn, values)
    exception_id = _inserted_id(
        conn,
        """INSERT INTO dimming_calendar (name, profile_id, kind, start_date, end_date, weekdays, start_day, end_day,
                                         target_kind, target, priority, created_by)
           VALUES (%(name)s, %(profile_id)s, %(kind)s, %(start_date)s, %(end_date)s, %(weekdays)s, %(start_day)s,
                   %(end_day)s, %(target_kind)s, %(target)s, %(priority)s, %(actor)s)
           RETURNING exception_id AS id""",
        values | {"actor": actor},
    )
    notify(conn, f"calendar:{exception_id}")
    return get_exception(conn, exception_id)


def update_exception(
    conn: psycopg.Connection, exception_id: int, values: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    before = get_exception(conn, exception_id, for_update=True)
    values = _exception_values(conn, values)
    conn.execute(
        """UPDATE dimming_calendar SET name = %(name)s, profile_id = %(profile_id)s, kind = %(kind)s,
               start_date = %(start_date)s, end_date = %(end_date)s, weekdays = %(weekdays)s,
               start_day = %(start_day)s, end_day = %(end_day)s, target_kind = %(target_kind)s,
               target = %(target)s, priority = %(priority)s, updated_at = now()
           WHERE exception_id = %(id)s""",
        values | {"id": exception_id},
    )
    notify(conn, f"calendar:{exception_id}")
    return before, get_exception(conn, exception_id)


def delete_exception(conn: psycopg.Connection, exception_id: int) -> dict[str, Any]:
    before = get_exception(conn, exception_id, for_update=True)
    conn.execute("DELETE FROM dimming_calendar WHERE exception_id = %s", (exception_id,))
    notify(conn, f"calendar:{exception_id}")
    return before


# --- overrides ------------------------------------------------------------------------

_OVERRIDE_QUERY = """
    SELECT override_id AS id, target_kind, target, level, starts_at, expires_at, reason, created_by, created_at,
           cancelled_at, cancelled_by
    FROM dimming_overrides"""


def list_overrides(
    conn: psycopg.Connection, *, active_at: datetime | None = None, limit: int = 1000
) -> list[dict[str, Any]]:
    """With `active_at`: the overrides not cancelled and not expired then (current or future), soonest first.
    Without: all of them, newest first."""
    if active_at is not None:
        return _rows(
            conn,
            _OVERRIDE_QUERY
            + " WHERE cancelled_at IS NULL AND expires_at > %s ORDER BY starts_at, override_id "
            + page_clause(limit),
            (active_at,),
        )
    return _rows(conn, _OVERRIDE_QUERY + " ORDER BY override_id DESC " + page_clause(limit))


def get_override(conn: psycopg.Connection, override_id: int, *, for_update: bool = False) -> dict[str, Any]:
    lock = " FOR UPDATE" if for_update else ""
    row = _row(conn, _OVERRIDE_QUERY + " WHERE override_id = %s" + lock, (override_id,))
    if row is None:
        raise NotFound(f"no override {override_id}")
    return row


def create_override(
    conn: psycopg.Connection,
    target_kind: str,
    target: str,
    level: int,
    starts_at: datetime,
    expires_at: datetime,
    reason: str,
    actor: str,
) -> dict[str, Any]:
    check_target(conn, target_kind, target)
    if expires_at <= starts_at:
        raise InvalidTarget("expires_at must be after starts_at", "expires_at")
    override_id = _inserted_id(
        conn,
        """INSERT INTO dimming_overrides (target_kind, target, level, starts_at, expires_at, reason, created_by)
           VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING override_id AS id""",
        (target_kind, target, level, starts_at, expires_at, reason, actor),
    )
    notify(conn, f"override:{override_id}")
    return get_override(conn, override_id)


def cancel_override(conn: psycopg.Connection, override_id: int, actor: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """End an override now; cancelling twice changes nothing."""
    before = get_override(conn, override_id, for_update=True)
    if before["cancelled_at"] is not None:
        return before, before
    conn.execute(
        "UPDATE dimming_overrides SET cancelled_at = now(), cancelled_by = %s WHERE override_id = %s",
        (actor, override_id),
    )
    notify(conn, f"override:{override_id}")
    return before, get_override(conn, override_id)
