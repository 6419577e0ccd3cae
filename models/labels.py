"""Failure-prediction labels: did the lamp fail within the horizon after each day?

Labels look forward (events and work orders after the end of the day), features look
back. The rules (what counts as a failure, which days are usable) are in docs/prediction.md.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg

from core.settings import get_settings
from core.vocabulary import FAILURE_EVENT_TYPES
from models.daily import local_midnight

LABEL_COLUMNS = ("label", "failure_ts", "usable", "false_alarm")


def build_labels(
    conn: psycopg.Connection, index: pd.MultiIndex, horizon_days: int, *, time_zone: str | None = None
) -> pd.DataFrame:
    """Labels for each (lamp_id, day) of `index` (the index build_features returns).

    Columns: `label` (int 0/1), `failure_ts` (the first failure in the horizon, UTC, NaT
    if none), `usable` (bool), `false_alarm` (bool). Same index, same order.
    """
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be at least 1, got {horizon_days}")
    if index.nlevels != 2:
        raise ValueError("the index must have two levels: (lamp_id, day)")
    zone = ZoneInfo(time_zone or get_settings().town_timezone)
    lamp_ids = pd.Series(index.get_level_values(0), dtype="str").to_numpy()
    days = pd.to_datetime(index.get_level_values(1)).normalize()
    rows = pd.DataFrame(
        {
            "row": np.arange(len(index)),
            "lamp_id": lamp_ids,
            "day_end": _day_ends(days, zone, 1),
            "horizon_end": _day_ends(days, zone, 1 + horizon_days),
        }
    )
    wanted = sorted(set(lamp_ids))
    events = _events(conn, wanted)
    false_alarms = _false_alarms(conn, wanted)
    retired = _retired(conn, wanted)

    rows = rows.sort_values("day_end", kind="stable")
    failures = events[events["type"].isin(FAILURE_EVENT_TYPES)][["lamp_id", "ts"]]
    outs = failures.rename(columns={"ts": "out_ts"})
    failures = failures.rename(columns={"ts": "failure_ts"})
    repairs = events[events["type"] == "repaired"][["lamp_id", "ts"]].rename(columns={"ts": "repair_ts"})
    alarms = false_alarms.rename(columns={"closed_at": "alarm_ts"})

    rows = _asof(rows, failures, "failure_ts", "forward")
    rows = _asof(rows, outs, "out_ts", "backward")
    rows = _asof(rows, repairs, "repair_ts", "backward")
    rows = _asof(rows, alarms, "alarm_ts", "forward")
    rows = rows.sort_values("row")

    failed = rows["failure_ts"].notna() & (rows["failure_ts"] <= rows["horizon_end"])
    out = rows["out_ts"].notna() & (rows["repair_ts"].isna() | (rows["repair_ts"] < rows["out_ts"]))
    usable = ~out & ~rows["lamp_id"].isin(retired)
    false_alarm = rows["alarm_ts"].notna() & (rows["alarm_ts"] <= rows["horizon_end"])
    return pd.DataFrame(
        {
            "label": failed.to_numpy().astype(np.int64),
            "failure_ts": rows["failure_ts"].where(failed).array,
            "usable": usable.to_numpy(),
            "false_alarm": false_alarm.to_numpy(),
        },
        index=index,
    )


def _day_ends(days: pd.DatetimeIndex, zone: ZoneInfo, days_after: int) -> pd.DatetimeIndex:
    """Local midnight `days_after` days after each day, as UTC instants (computed once per distinct day)."""
    codes, unique = pd.factorize(days)
    ends = [local_midnight(d.date() + timedelta(days=days_after), zone) for d in unique]
    return pd.DatetimeIndex(pd.to_datetime(ends, utc=True), dtype="datetime64[us, UTC]")[codes]


def events_within_horizon(index: pd.MultiIndex, events: pd.DataFrame, horizon_days: int, time_zone: str) -> np.ndarray:
    """1 where an event of the row's key falls in (end of its day, end of day + horizon]. Pure.

    `index`: two levels, (key, day), e.g. (lamp_id, day) or (circuit, day); `events`: a
    column named like the key level and `ts` (any time zone). Used to label from other
    sources than the events table: a simulator's truth file, a circuit's supply losses.
    """
    if len(index) == 0 or events.empty:
        return np.zeros(len(index), dtype=np.int64)
    key = index.names[0]
    days = pd.to_datetime(index.get_level_values(1)).normalize()
    rows = pd.DataFrame(
        {
            "row": np.arange(len(index)),
            key: pd.Series(index.get_level_values(0), dtype="str").to_numpy(),
            "day_end": _day_ends(pd.DatetimeIndex(days), ZoneInfo(time_zone), 1),
        }
    )
    found = pd.DataFrame({key: events[key].astype(str).to_numpy(), "event_ts": events["ts"].to_numpy()})
    rows = _asof(rows.sort_values("day_end", kind="stable"), found, "event_ts", "forward", by=key).sort_values("row")
    within = rows["event_ts"].notna() & ((rows["event_ts"] - rows["day_end"]) <= pd.Timedelta(days=horizon_days))
    return within.to_numpy().astype(np.int64)


def _asof(rows: pd.DataFrame, events: pd.DataFrame, column: str, direction: str, by: str = "lamp_id") -> pd.DataFrame:
    """Add `column`: for each row, its key's first event after its day's end (forward) or last
    at or before it (backward)."""
    events = events.sort_values(column, kind="stable")
    events = events.assign(**{column: pd.to_datetime(events[column], utc=True).astype("datetime64[us, UTC]")})
    return pd.merge_asof(
        rows,
        events,
        left_on="day_end",
        right_on=column,
        by=by,
        direction=direction,
        allow_exact_matches=direction == "backward",
    )


def _events(conn: psycopg.Connection, lamp_ids: list[str]) -> pd.DataFrame:
    rows = (
        conn.cursor(binary=False)
        .execute(
            "SELECT lamp_id, ts, type FROM events WHERE lamp_id = ANY(%s) AND type = ANY(%s)",
            (lamp_ids, [*FAILURE_EVENT_TYPES, "repaired"]),
        )
        .fetchall()
    )
    return pd.DataFrame(rows, columns=["lamp_id", "ts", "type"]).astype({"lamp_id": "str", "type": "str"})


def _false_alarms(conn: psycopg.Connection, lamp_ids: list[str]) -> pd.DataFrame:
    rows = (
        conn.cursor(binary=False)
        .execute(
            """SELECT lamp_id, closed_at FROM work_orders
               WHERE lamp_id = ANY(%s) AND outcome = 'false_alarm' AND closed_at IS NOT NULL""",
            (lamp_ids,),
        )
        .fetchall()
    )
    return pd.DataFrame(rows, columns=["lamp_id", "closed_at"]).astype({"lamp_id": "str"})


def _retired(conn: psycopg.Connection, lamp_ids: list[str]) -> set[str]:
    rows = conn.cursor(binary=False).execute(
        "SELECT lamp_id FROM lamps WHERE lamp_id = ANY(%s) AND state = 'retired'", (lamp_ids,)
    )
    return {row[0] for row in rows}
