"""With --py-spy: every ingester of a run sampled by py-spy (installed separately)."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
from pathlib import Path

from benchmarks.common import ServiceProcess


def start_py_spy(out_dir: Path | None, run: str, services: list[ServiceProcess]) -> list[subprocess.Popen]:
    """Sample every service of `run` into `out_dir`, two raw folded-stack files per process.

    <run>-<n>-cpu.txt holds the samples of threads on a processor, <run>-<n>-gil.txt
    those of the thread holding the GIL (the Python part of the work). Nothing without `out_dir`.
    """
    if not out_dir:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    out_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for n, service in enumerate(services, 1):
        for view, extra in (("cpu", []), ("gil", ["--gil"])):
            out = out_dir / f"{run}-{n}-{view}.txt"
            command = [spy, "record", "--pid", str(service.process.pid), "--rate", "100", "--threads",
                       "--nonblocking", "--format", "raw", "--output", str(out), *extra]  # fmt: skip
            spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    return spies


def stop_py_spy(spies: list[subprocess.Popen]) -> None:
    for spy in spies:
        spy.send_signal(signal.SIGINT)
    for spy in spies:
        try:
            spy.wait(30)
        except subprocess.TimeoutExpired:
            spy.kill()
            spy.wait(5)
