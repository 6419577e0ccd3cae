"""Features and labels assembled for training and evaluation, a chunk of lamps at a time.

Memory grows with lamps x days x features of the window asked for (float32), never with
the raw readings: each chunk reads the daily aggregate table only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from models import features as feature_table
from models import labels as label_table

Progress = Callable[[str], None]
LABEL_COLUMNS = ("label", "failure_ts", "usable", "false_alarm")


def lamp_ids(conn) -> list[str]:
    """Every lamp the service scores: all but retired ones, in a stable order."""
    rows = conn.execute("SELECT lamp_id FROM lamps WHERE state <> 'retired' ORDER BY lamp_id").fetchall()
    return [row[0] for row in rows]


def chunked(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    if size < 1:
        raise ValueError(f"chunk size must be at least 1, not {size}")
    for i in range(0, len(items), size):
        yield items[i : i + size]


def build_dataset(
    conn,
    start: date,
    end: date,
    horizon_days: int,
    *,
    chunk_lamps: int = 500,
    progress: Progress | None = None,
) -> pd.DataFrame:
    """Rows (lamp_id, day) for days [start, end): the features (float32) and the label columns."""
    ids = lamp_ids(conn)
    if not ids:
        raise ValueError("no lamps in the inventory: import them first (streetlight lamps import FILE)")
    parts = []
    done = 0
    for chunk in chunked(ids, chunk_lamps):
        features = feature_table.build_features(conn, start, end, lamp_ids=list(chunk))
        features = features.loc[:, list(feature_table.FEATURES)].astype(np.float32)
        labels = label_table.build_labels(conn, features.index, horizon_days)
        parts.append(features.join(labels.loc[:, list(LABEL_COLUMNS)]))
        done += len(chunk)
        if progress:
            progress(f"features and labels: {done}/{len(ids)} lamps, {start} to {end - timedelta(days=1)}")
    frame = pd.concat(parts) if parts else pd.DataFrame()
    return frame.sort_index()


def local_day(ts: datetime, zone: ZoneInfo) -> date:
    return ts.astimezone(zone).date()


def day_bounds(first: date, end: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """The instants where local day `first` begins and local day `end` begins."""
    return datetime.combine(first, time(), zone), datetime.combine(end, time(), zone)


def failures_from_events(conn, start: date, end: date, timezone_name: str) -> pd.DataFrame:
    """Recorded failures (events of the types in FAILURE_EVENT_TYPES, any source) on local days [start, end).

    A lamp that reports its failure and then has it confirmed by a technician counts once:
    failures of the same lamp less than a day apart are one failure.
    """
    zone = ZoneInfo(timezone_name)
    lo, hi = day_bounds(start, end, zone)
    rows = conn.execute(
        "SELECT lamp_id, ts FROM events WHERE type = ANY(%s) AND ts >= %s AND ts < %s ORDER BY lamp_id, ts",
        (list(label_table.FAILURE_EVENT_TYPES), lo, hi),
    ).fetchall()
    kept: list[tuple[str, date]] = []
    last: dict[str, datetime] = {}
    for lamp_id, ts in rows:
        previous = last.get(lamp_id)
        last[lamp_id] = ts
        if previous is not None and ts - previous < timedelta(days=1):
            continue
        kept.append((lamp_id, local_day(ts, zone)))
    frame = pd.DataFrame(kept, columns=["lamp_id", "day"])
    frame["had_precursor"] = np.nan
    return frame


def data_days(conn) -> tuple[date, date] | None:
    """First and last local day present in the daily aggregate table, if any."""
    row = conn.execute("SELECT min(day), max(day) FROM lamp_daily").fetchone()
    return None if row is None or row[0] is None else (row[0], row[1])


def reading_days(conn, timezone_name: str) -> tuple[date, date] | None:
    """First and last local day with readings (cheap on the readings' time index)."""
    first = conn.execute("SELECT ts FROM readings ORDER BY ts ASC LIMIT 1").fetchone()
    last = conn.execute("SELECT ts FROM readings ORDER BY ts DESC LIMIT 1").fetchone()
    if first is None:
        return None
    zone = ZoneInfo(timezone_name)
    return local_day(first[0], zone), local_day(last[0], zone)
