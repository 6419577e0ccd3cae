"""The API benchmark's pure parts: the wrk script and its result line, the verdicts, the COPY rows,
wrk installed when missing."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.api.copy_writer import COPY_COLUMNS, BatchBuilder
from benchmarks.api.report import TARGET_P99_S, result_row, verdict
from benchmarks.api.wrk import (
    Result,
    Scenario,
    ensure_installed,
    lua_strings,
    parse_wrk_output,
    refusal,
    wrk_script,
)
from benchmarks.common import BenchmarkError


def result(requests: int = 1000, p99_s: float = 0.01, errors: int = 0, target: bool = True) -> Result:
    return Result("x", requests, 10.0, 0.005, p99_s, 0.2, errors, 0, 0.5, 0.25, 0.1, target=target)


def test_the_script_carries_paths_and_tokens_as_lua_strings() -> None:
    assert lua_strings(['a"b', "c"]) == '"a\\"b", "c"'
    script = wrk_script(Scenario("s", ["/x?a=1"]), ["t1", "t2"])
    assert 'local paths = {"/x?a=1"}' in script
    assert 'local tokens = {"t1", "t2"}' in script
    assert "(n % #paths)" in script  # the template's %% became %
    anonymous = wrk_script(Scenario("s", ["/healthz"], authenticated=False), ["t1"])
    assert "local tokens = {}" in anonymous


def test_the_result_line_is_found_among_wrks_output() -> None:
    out = 'Running 1s test\nRESULT {"requests": 5, "duration_us": 1000000}\nTransfer/sec: 1KB\n'
    assert parse_wrk_output(out) == {"requests": 5, "duration_us": 1000000}
    assert parse_wrk_output("no result") is None


def test_rates_and_processor_time_per_request() -> None:
    r = result()
    assert r.per_s == 100.0
    assert r.cpu_ms_per_request(r.server_cores) == pytest.approx(5.0)


def test_verdicts() -> None:
    assert verdict(result(), clients=50) == "OK"
    assert verdict(result(p99_s=TARGET_P99_S), clients=50) == "MISSED"
    assert verdict(result(errors=1), clients=50) == "MISSED"
    assert verdict(result(target=False, p99_s=1.0), clients=50) == "-"
    assert verdict(result(requests=10), clients=50) == "STALLED"
    assert result_row(result(), 50) == ("x", "100", "5.0", "10.0", "200.0", 0, "0.50", "0.25", "5.00", "2.50", "OK")


def test_copy_rows_hold_each_online_lamp_in_binary() -> None:
    builder = BatchBuilder(["L1", "L2", "L3"])
    columns = {name: np.arange(3, dtype=np.float64) + 1 for name, _ in COPY_COLUMNS}
    step = SimpleNamespace(
        ts=datetime(2000, 1, 1, 0, 0, 1, tzinfo=UTC), offline=np.array([False, True, False]), columns=columns
    )
    rows = builder.rows(step)  # type: ignore[arg-type]  # the two fields of a step it reads
    assert list(rows["lamp_id"]) == [b"L1", b"L3"]
    assert set(rows["nfields"]) == {1 + len(COPY_COLUMNS)}
    assert list(rows["ts"]) == [1_000_000, 1_000_000]  # µs after PostgreSQL's epoch
    assert list(rows["received_at"]) == [2_000_000, 2_000_000]
    assert list(rows["power_w"]) == [1.0, 3.0]
    assert set(rows["power_w_len"]) == {4}


def test_copy_rows_want_lamp_ids_of_one_length() -> None:
    with pytest.raises(BenchmarkError):
        BatchBuilder(["L1", "L10"])


def test_wrk_is_installed_only_by_root_with_apt_get() -> None:
    assert refusal("wrk", is_root=True, has_apt_get=True) is None
    not_root = refusal("wrk", is_root=False, has_apt_get=True)
    assert not_root is not None and "as root" in not_root and "apt-get install wrk" in not_root
    no_apt = refusal("wrk", is_root=True, has_apt_get=False)
    assert no_apt is not None and "by hand" in no_apt


class FakeSystem:
    """apt-get as a list of the commands run; `wrk` on the PATH once an install succeeded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, *, root: bool, first_install_fails: bool = False) -> None:
        self.commands: list[list[str]] = []
        self.installed = False
        self.first_install_fails = first_install_fails
        monkeypatch.setattr("benchmarks.api.wrk.os.geteuid", lambda: 0 if root else 1000)
        monkeypatch.setattr("benchmarks.api.wrk.shutil.which", self.which)

    def which(self, command: str) -> str | None:
        if command == "apt-get" or (command == "wrk" and self.installed):
            return f"/usr/bin/{command}"
        return None

    def run(self, command: list[str]) -> subprocess.CompletedProcess:
        self.commands.append(command)
        failed = command[1] == "install" and self.first_install_fails and len(self.commands) == 1
        self.installed = self.installed or (command[1] == "install" and not failed)
        return subprocess.CompletedProcess(command, 1 if failed else 0, "", "")


def test_a_missing_wrk_is_installed_updating_the_package_lists_if_need_be(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch, root=True, first_install_fails=True)
    said: list[str] = []
    ensure_installed("wrk", "wrk", say=said.append, run=system.run)
    assert [c[:2] for c in system.commands] == [["apt-get", "install"], ["apt-get", "update"], ["apt-get", "install"]]
    assert system.commands[0][-1] == "wrk"
    assert said == ["wrk is missing: apt-get install wrk"]
    ensure_installed("wrk", "wrk", say=said.append, run=system.run)  # present now: nothing run
    assert len(system.commands) == 3


def test_a_missing_wrk_without_root_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    system = FakeSystem(monkeypatch, root=False)
    with pytest.raises(BenchmarkError, match="as root"):
        ensure_installed("wrk", "wrk", say=print, run=system.run)
    assert system.commands == []
