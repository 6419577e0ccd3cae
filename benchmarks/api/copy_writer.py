"""Readings written with binary COPY, built from the simulator's numpy columns, over parallel connections."""

from __future__ import annotations

import contextlib
import queue
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from benchmarks.common import BenchmarkError
from core import db

if TYPE_CHECKING:
    from simulators.engine import StepArrays

# Binary COPY of readings: the columns written, and their wire types (big-endian).
COPY_COLUMNS = (
    ("ts", ">i8"),
    ("seq", ">i8"),
    ("voltage_v", ">f4"),
    ("current_a", ">f4"),
    ("power_w", ">f4"),
    ("power_factor", ">f4"),
    ("energy_wh", ">f8"),
    ("dim_level", ">f4"),
    ("driver_temp_c", ">f4"),
    ("ambient_lux", ">f4"),
    ("burning_hours", ">f8"),
    ("switch_cycles", ">i8"),
    ("rssi_dbm", ">f4"),
    ("received_at", ">i8"),
)
_PG_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
_COPY_TRAILER = np.array([-1], dtype=">i2").tobytes()

Batch = list[np.ndarray]


def readings_dtype(id_length: int) -> np.dtype:
    """One binary COPY row: field count, then (length, value) per column; lamp_id first."""
    fields = [("nfields", ">i2"), ("lamp_id_len", ">i4"), ("lamp_id", f"S{id_length}")]
    for name, wire in COPY_COLUMNS:
        fields += [(f"{name}_len", ">i4"), (name, wire)]
    return np.dtype(fields)


class BatchBuilder:
    """Turns simulator steps into binary COPY rows."""

    def __init__(self, lamp_ids: list[str]) -> None:
        lengths = {len(lamp_id) for lamp_id in lamp_ids}
        if len(lengths) != 1:
            raise BenchmarkError("the benchmark's COPY writer wants lamp ids of one length")
        self.id_length = lengths.pop()
        self.dtype = readings_dtype(self.id_length)
        self.ids = np.array([lamp_id.encode() for lamp_id in lamp_ids], dtype=f"S{self.id_length}")

    def rows(self, step: StepArrays) -> np.ndarray:
        online = ~step.offline
        n = int(online.sum())
        rows = np.zeros(n, dtype=self.dtype)
        rows["nfields"] = 1 + len(COPY_COLUMNS)
        rows["lamp_id_len"] = self.id_length
        rows["lamp_id"] = self.ids[online]
        ts_us = int((step.ts - _PG_EPOCH).total_seconds() * 1_000_000)
        for name, wire in COPY_COLUMNS:
            rows[f"{name}_len"] = np.dtype(wire).itemsize
            if name == "ts":
                rows[name] = ts_us
            elif name == "received_at":  # the ingester commits about a second after the reading
                rows[name] = ts_us + 1_000_000
            else:
                rows[name] = step.columns[name][online]
        return rows


def _copy_worker(url: str, batches: queue.Queue, counts: list[int], errors: list[Exception]) -> None:
    columns = ", ".join(["lamp_id", *(name for name, _ in COPY_COLUMNS)])
    try:
        with db.connect(url) as conn:
            while (batch := batches.get()) is not None:
                with conn.cursor().copy(f"COPY readings ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
                    copy.write(_COPY_HEADER)
                    for rows in batch:
                        copy.write(rows.tobytes())
                    copy.write(_COPY_TRAILER)
                conn.commit()
                counts.append(sum(len(rows) for rows in batch))
    except Exception as exc:  # noqa: BLE001 - any failure is reported by the producer, which stops feeding
        errors.append(exc)
        with contextlib.suppress(queue.Empty):
            while True:
                batches.get_nowait()


class CopyWriters:
    """`loaders` threads, each with a connection of its own, committing one batch per COPY."""

    def __init__(self, url: str, loaders: int) -> None:
        self.loaders = loaders
        self._batches: queue.Queue = queue.Queue(maxsize=2 * loaders)
        self.counts: list[int] = []
        self.errors: list[Exception] = []
        self._threads = [
            threading.Thread(target=_copy_worker, args=(url, self._batches, self.counts, self.errors), daemon=True)
            for _ in range(loaders)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def stored(self) -> int:
        return sum(self.counts)

    def put(self, batch: Batch) -> None:
        """Queue `batch`, waiting while the writers are busy; dropped once a writer has failed (see `errors`)."""
        while not self.errors:
            try:
                self._batches.put(batch, timeout=1)
                return
            except queue.Full:
                pass

    def finish(self) -> int:
        """Wait for every queued batch to be written; the rows stored. Raises if a writer failed."""
        for _ in self._threads:
            self._batches.put(None)
        for thread in self._threads:
            thread.join()
        if self.errors:
            raise BenchmarkError(f"loading failed: {self.errors[0]!r}")
        return self.stored
