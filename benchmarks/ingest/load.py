"""The load: publisher processes sharing the lamps between them, started together."""

from __future__ import annotations

import contextlib
import multiprocessing
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from benchmarks.common import BenchmarkError
from benchmarks.ingest.messages import LoadSpec
from benchmarks.ingest.paho_publisher import publish_with_paho
from benchmarks.ingest.raw_publisher import publish_raw

PUBLISHERS: dict[str, Callable[..., None]] = {"raw": publish_raw, "paho": publish_with_paho}
PUBLISHER_NAMES = {"raw": "MQTT 3.1.1 on a plain socket, packets built before the run", "paho": "paho-mqtt"}


@dataclass
class LoadResult:
    first_publish: float
    last_publish: float
    all_acked: float | None
    messages: int

    @property
    def published_per_s(self) -> float | None:
        if self.all_acked is None or self.all_acked <= self.first_publish:
            return None
        return self.messages / (self.all_acked - self.first_publish)


class Load:
    """Publisher processes sharing the lamps between them; started together."""

    def __init__(self, specs: Sequence[LoadSpec]) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self.specs = list(specs)
        self._go = self._ctx.Event()
        self._results = self._ctx.Queue()
        self._ready = [self._ctx.Event() for _ in specs]
        self._published = [self._ctx.Value("q", 0, lock=False) for _ in specs]
        self._acked = [self._ctx.Value("q", 0, lock=False) for _ in specs]
        self._processes = [
            self._ctx.Process(
                target=PUBLISHERS[spec.publisher],
                args=(spec, ready, self._go, self._results, published, acked),
                name=spec.client_id,
                daemon=True,
            )
            for spec, ready, published, acked in zip(specs, self._ready, self._published, self._acked, strict=True)
        ]
        self._reports: list[dict[str, Any]] = []

    def start(self, timeout_s: float = 60.0) -> None:
        for process in self._processes:
            process.start()
        deadline = time.monotonic() + timeout_s
        for ready, process in zip(self._ready, self._processes, strict=True):
            while not ready.wait(0.2):
                self._collect()
                if self._reports and self._reports[-1]["error"]:
                    raise BenchmarkError(f"publisher failed: {self._reports[-1]['error']}")
                if not process.is_alive() or time.monotonic() > deadline:
                    raise BenchmarkError(f"publisher {process.name} did not get ready")
        self._go.set()

    @property
    def pids(self) -> list[int]:
        return [p.pid for p in self._processes if p.pid is not None]

    @property
    def published(self) -> int:
        return sum(v.value for v in self._published)

    @property
    def acked(self) -> int:
        return sum(v.value for v in self._acked)

    @property
    def messages(self) -> int:
        return sum(s.messages for s in self.specs)

    def _collect(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                self._reports.append(self._results.get_nowait())

    def finished(self) -> bool:
        self._collect()
        return len(self._reports) == len(self._processes)

    def check(self) -> None:
        """Raise at once if a publisher has already failed."""
        self._collect()
        errors = [r["error"] for r in self._reports if r["error"]]
        if errors:
            raise BenchmarkError("publisher failed: " + "; ".join(errors))

    def result(self, timeout_s: float = 120.0) -> LoadResult:
        deadline = time.monotonic() + timeout_s
        while not self.finished():
            if time.monotonic() > deadline:
                raise BenchmarkError("publishers did not finish")
            time.sleep(0.1)
        errors = [r["error"] for r in self._reports if r["error"]]
        if errors:
            raise BenchmarkError("publisher failed: " + "; ".join(errors))
        acked = [r["all_acked"] for r in self._reports]
        return LoadResult(
            first_publish=min(r["first_publish"] for r in self._reports),
            last_publish=max(r["last_publish"] for r in self._reports),
            all_acked=None if None in acked else max(acked),
            messages=self.messages,
        )

    def close(self) -> None:
        for process in self._processes:
            process.join(5)
            if process.is_alive():
                process.kill()
                process.join(5)


def make_load(
    mqtt_url: str,
    name: str,
    prefix: str,
    lamp_ids: Sequence[str],
    messages: int,
    publishers: int,
    readings_per_message: int = 1,
    readings_per_s: float | None = None,
    publisher: str = "raw",
) -> Load:
    """Split the messages and the lamps evenly between `publishers` processes."""
    specs = []
    for k in range(publishers):
        share = messages // publishers + (1 if k < messages % publishers else 0)
        specs.append(
            LoadSpec(
                mqtt_url=mqtt_url,
                client_id=f"{name}-pub{k + 1}",
                topic_prefix=prefix,
                lamp_ids=tuple(lamp_ids[k::publishers]),
                messages=share,
                readings_per_message=readings_per_message,
                messages_per_s=readings_per_s / readings_per_message / publishers if readings_per_s else None,
                publisher=publisher,
            )
        )
    return Load(specs)
