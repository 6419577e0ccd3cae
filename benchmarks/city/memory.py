"""The resident memory of the server's processes, sampled in the background throughout a run (Linux /proc)."""

from __future__ import annotations

import threading
from pathlib import Path


def _children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            pass
    return found


def tree_rss_bytes(pid: int) -> int:
    """The RSS of a process and of its descendants (uvicorn's workers, if any); 0 once it is gone."""
    total = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
        pending += _children(current)
    return total


class RssSampler:
    """Samples the RSS of a process tree every `interval_s`; keeps the peak and the last sample."""

    def __init__(self, pid: int, interval_s: float = 0.1) -> None:
        self.pid = pid
        self._interval_s = interval_s
        self._stop = threading.Event()
        self.peak_bytes = 0
        self.last_bytes = 0
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> int:
        rss = tree_rss_bytes(self.pid)
        if rss:
            self.last_bytes = rss
            self.peak_bytes = max(self.peak_bytes, rss)
        return rss

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()
