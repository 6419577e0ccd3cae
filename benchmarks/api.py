"""API benchmark: latency and throughput of the read endpoints on a month of a 10,000-lamp town.

What it measures, against the real application served by uvicorn in a separate
process with the service's pool of ``db_pool_size`` connections. One worker process by
default, as ``streetlight serve`` runs its HTTP server; ``--workers N`` shows what more
processes would give:

- the lamp list, ``GET /api/v1/lamps?limit=100`` with a rotation of filters
  (state, group, connectivity, text, bounding box) and offsets;
- the fleet summary, ``GET /api/v1/fleet/summary``;
- one lamp's 24 h chart, ``GET /api/v1/lamps/{id}/telemetry?bucket=5min`` over the
  last 24 h of the data, a random lamp per request;
- two floors measured in the same run: ``GET /healthz`` (the framework alone: no
  authentication, no database) and ``GET /api/v1/auth/me`` (what every
  authenticated request pays: the bearer token is looked up and its
  ``last_used_at`` written).

Each endpoint gets ``--clients`` concurrent keep-alive connections for
``--duration`` seconds, driven by wrk (Debian package ``wrk``) after a short
warm-up. Every client request carries a bearer token; the tokens (one per
client) are used in turn, so that concurrent requests rarely write the same
token row. p50/p99 are wrk's latency percentiles (closed loop: a client sends
its next request when the previous answer is in).

The data: a town from ``simulators.town.generate_town`` and ``--days`` days of
readings from ``simulators.engine.FleetSimulator`` (one per lamp every 10 min,
ending at load time), written with binary COPY built from the simulator's numpy
columns over a few parallel connections. The database is kept between runs under
a fixed name; ``--reload`` rebuilds it. Its readings end when it was loaded, so
"today" and "this month" of the fleet summary cover less data as it ages: the
run says so, and ``--reload`` brings it back to now.

    scripts/timescaledb start && .venv/bin/python benchmarks/api.py
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np
import psycopg
from psycopg.types.json import Jsonb

from benchmarks.common import (
    DEFAULT_MQTT_URL,
    REPO_ROOT,
    BenchmarkError,
    CpuMeter,
    Progress,
    children_of,
    database_server_pids,
    database_url,
    default_timescale_url,
    describe_machine,
    format_rate,
    format_table,
    say,
    service_env,
    wait_until,
)
from core import db

TARGET_P99_S = 0.100
READING_INTERVAL = timedelta(minutes=10)
STEPS_PER_BATCH = 36  # six hours of readings per COPY
DATABASE_URL_VARIABLE = "STREETLIGHT_BENCH_DATABASE_URL"
BENCH_USER = "bench-api"

# Binary COPY of readings: the columns written, and their wire types (big-endian).
_COPY_COLUMNS = (
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


# --- the application, as uvicorn imports it -----------------------------------------------
def app_from_environment():
    """The application over the benchmark database (uvicorn --factory, one call per worker)."""
    from api.app import create_app, open_pool
    from core.settings import get_settings

    settings = get_settings()
    pool = open_pool(os.environ[DATABASE_URL_VARIABLE], settings)  # as the service opens it
    return create_app(pool, settings=settings)


# --- loading ----------------------------------------------------------------------------------
def database_name(lamps: int, days: int) -> str:
    size = f"{lamps // 1000}k" if lamps % 1000 == 0 else str(lamps)
    return f"bench_api_{size}_{days}d"


def loaded_data(url: str, lamps: int, days: int) -> tuple[datetime, datetime] | None:
    """(first, last) reading time when a completed load of this size is there, else None."""
    try:
        with db.connect(url) as conn:
            row = conn.execute(
                "SELECT first_ts, last_ts FROM bench_load WHERE lamps = %s AND days = %s", (lamps, days)
            ).fetchone()
    except psycopg.Error:
        return None
    return (row[0], row[1]) if row else None


def _readings_dtype(id_length: int) -> np.dtype:
    """One binary COPY row: field count, then (length, value) per column; lamp_id first."""
    fields = [("nfields", ">i2"), ("lamp_id_len", ">i4"), ("lamp_id", f"S{id_length}")]
    for name, wire in _COPY_COLUMNS:
        fields += [(f"{name}_len", ">i4"), (name, wire)]
    return np.dtype(fields)


class _BatchBuilder:
    """Turns simulator steps into binary COPY bytes."""

    def __init__(self, lamp_ids: list[str]) -> None:
        lengths = {len(lamp_id) for lamp_id in lamp_ids}
        if len(lengths) != 1:
            raise BenchmarkError("the benchmark's COPY writer wants lamp ids of one length")
        self.id_length = lengths.pop()
        self.dtype = _readings_dtype(self.id_length)
        self.ids = np.array([lamp_id.encode() for lamp_id in lamp_ids], dtype=f"S{self.id_length}")

    def rows(self, step) -> np.ndarray:
        online = ~step.offline
        n = int(online.sum())
        rows = np.zeros(n, dtype=self.dtype)
        rows["nfields"] = 1 + len(_COPY_COLUMNS)
        rows["lamp_id_len"] = self.id_length
        rows["lamp_id"] = self.ids[online]
        ts_us = int((step.ts - _PG_EPOCH).total_seconds() * 1_000_000)
        for name, wire in _COPY_COLUMNS:
            rows[f"{name}_len"] = np.dtype(wire).itemsize
            if name == "ts":
                rows[name] = ts_us
            elif name == "received_at":  # the ingester commits about a second after the reading
                rows[name] = ts_us + 1_000_000
            else:
                rows[name] = step.columns[name][online]
        return rows


def _copy_worker(url: str, batches: queue.Queue, counts: list[int], errors: list[Exception]) -> None:
    columns = ", ".join(["lamp_id", *(name for name, _ in _COPY_COLUMNS)])
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


def load(admin_url: str, name: str, *, lamps: int, days: int, loaders: int, seed: int = 1) -> tuple[datetime, datetime]:
    """Build database `name`: schema, town, `days` days of readings ending now, events, connection state."""
    from api.accounts import create_user
    from api.deps import Role
    from core.inventory import import_inventory, parse_inventory
    from simulators.engine import FleetSimulator
    from simulators.town import generate_town, town_to_csv_bytes

    db.create_database(admin_url, name, drop_existing=True)
    url = database_url(admin_url, name)
    db.upgrade(url)
    town = generate_town(lamps, seed=seed)
    with db.connect(url) as conn:
        import_inventory(conn, parse_inventory(town_to_csv_bytes(town), "town.csv"))
        create_user(conn, BENCH_USER, Role.TECHNICIAN)
        conn.commit()

    now = datetime.now(UTC)
    end = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    start = end - timedelta(days=days)
    steps = int((end - start) / READING_INTERVAL)
    simulator = FleetSimulator(town, seed=seed, start=start)
    builder = _BatchBuilder(simulator.lamp_ids)

    batches: queue.Queue = queue.Queue(maxsize=2 * loaders)
    counts: list[int] = []
    errors: list[Exception] = []
    threads = [
        threading.Thread(target=_copy_worker, args=(url, batches, counts, errors), daemon=True) for _ in range(loaders)
    ]
    for thread in threads:
        thread.start()
    progress = Progress(every_s=10)
    began = time.monotonic()
    events: list[tuple] = []
    batch: list[np.ndarray] = []
    step = None
    for k in range(1, steps + 1):
        step = simulator.step_arrays(start + k * READING_INTERVAL)
        batch.append(builder.rows(step))
        events.extend(step.events)
        if len(batch) == STEPS_PER_BATCH or k == steps:
            while not errors:
                try:
                    batches.put(batch, timeout=1)
                    break
                except queue.Full:
                    pass
            if errors:
                break
            batch = []
            done = sum(counts)
            elapsed = time.monotonic() - began
            progress.update(
                f"  readings: {done:,} stored, {k / steps:.0%} simulated, {done / elapsed:,.0f} rows/s, {elapsed:.0f} s"
            )
    for _ in threads:
        batches.put(None)
    for thread in threads:
        thread.join()
    if errors:
        raise BenchmarkError(f"loading failed: {errors[0]!r}")
    total = sum(counts)
    elapsed = time.monotonic() - began
    progress.done(
        f"  readings: {total:,} rows in {elapsed:.0f} s ({total / elapsed:,.0f} rows/s, {loaders} COPY connections)"
    )

    with db.connect(url) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (lamp_id, ts, type, detail) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(lamp_id, e["ts"], e["type"], Jsonb(e.get("detail"))) for lamp_id, e in events],
            )
            cur.executemany(
                "INSERT INTO lamp_status (lamp_id, online, changed_at) VALUES (%s, %s, %s)"
                " ON CONFLICT (lamp_id) DO UPDATE SET online = excluded.online, changed_at = excluded.changed_at",
                [(lamp_id, not bool(offline), end) for lamp_id, offline in zip(step.lamp_ids, step.offline)],
            )
        conn.execute(
            "CREATE TABLE bench_load (lamps integer, days integer, first_ts timestamptz,"
            " last_ts timestamptz, loaded_at timestamptz DEFAULT now())"
        )
        conn.commit()
    say(f"  events: {len(events):,}; lamp_status: {len(step.lamp_ids):,}")
    began = time.monotonic()
    with db.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")  # as autovacuum would have done: visibility map, statistics
        conn.execute(
            "INSERT INTO bench_load (lamps, days, first_ts, last_ts) VALUES (%s, %s, %s, %s)",
            (lamps, days, start + READING_INTERVAL, end),
        )
    say(f"  VACUUM ANALYZE: {time.monotonic() - began:.0f} s")
    return start + READING_INTERVAL, end


# --- the load generator ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Scenario:
    label: str
    paths: list[str]
    authenticated: bool = True
    target: bool = True  # held to the p99 target (floors and once-a-minute calls are not)


@dataclass
class Result:
    label: str
    requests: int
    duration_s: float
    p50_s: float
    p99_s: float
    max_s: float
    errors: int
    non_2xx: int
    server_cores: float
    database_cores: float
    client_cores: float
    target: bool = True

    @property
    def per_s(self) -> float:
        return self.requests / self.duration_s if self.duration_s else 0.0

    def cpu_ms_per_request(self, cores: float) -> float:
        """Processor time per answered request, ms: robust to a busy machine, unlike the rates."""
        return cores * self.duration_s / self.requests * 1000 if self.requests else 0.0


_WRK_SCRIPT = """
local paths = {%(paths)s}
local tokens = {%(tokens)s}
local n = 0
request = function()
  n = n + 1
  local headers = {}
  if #tokens > 0 then headers["Authorization"] = "Bearer " .. tokens[(n %% #tokens) + 1] end
  return wrk.format("GET", paths[(n %% #paths) + 1], headers)
end
done = function(summary, latency, requests)
  local non2xx = summary.errors.status
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format('RESULT {"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p99_us": %%d,'
    .. ' "max_us": %%d, "errors": %%d, "non_2xx": %%d}\\n', summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max, errors, non2xx))
end
"""


def _lua_strings(values: list[str]) -> str:
    return ", ".join(json.dumps(value) for value in values)  # JSON string escapes are valid Lua here


def run_wrk(
    base_url: str, scenario: Scenario, tokens: list[str], *, clients: int, duration_s: int, script_dir: Path
) -> dict:
    script = script_dir / "scenario.lua"
    script.write_text(
        _WRK_SCRIPT
        % {"paths": _lua_strings(scenario.paths), "tokens": _lua_strings(tokens if scenario.authenticated else [])}
    )
    out = subprocess.run(
        ["wrk", "-t1", f"-c{clients}", f"-d{duration_s}s", "--timeout", "10s", "-s", str(script), base_url],
        capture_output=True,
        text=True,
        timeout=duration_s + 60,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise BenchmarkError(f"wrk gave no result: {out.stdout[-500:]} {out.stderr[-500:]}")


def measure(
    base_url: str,
    scenario: Scenario,
    tokens: list[str],
    *,
    clients: int,
    duration_s: int,
    warmup_s: int,
    server_pids: list[int],
    database_url_: str,
    script_dir: Path,
) -> Result:
    if warmup_s:
        run_wrk(base_url, scenario, tokens, clients=clients, duration_s=warmup_s, script_dir=script_dir)
    # After the warm-up: the pools' connections (server processes of their own) are open by then.
    meter = CpuMeter({"server": server_pids, "database": database_server_pids(database_url_)})
    raw = run_wrk(base_url, scenario, tokens, clients=clients, duration_s=duration_s, script_dir=script_dir)
    meter.stop()
    return Result(
        label=scenario.label,
        requests=raw["requests"],
        duration_s=raw["duration_us"] / 1e6,
        p50_s=raw["p50_us"] / 1e6,
        p99_s=raw["p99_us"] / 1e6,
        max_s=raw["max_us"] / 1e6,
        errors=raw["errors"],
        non_2xx=raw["non_2xx"],
        server_cores=meter.cores["server"],
        database_cores=meter.cores["database"],
        client_cores=meter.untracked,  # wrk, mostly; the machine's other work too
        target=scenario.target,
    )


def scenarios(url: str, first_ts: datetime, last_ts: datetime, rng: random.Random) -> list[Scenario]:
    with db.connect(url) as conn:
        lamp_ids = [row[0] for row in conn.execute("SELECT lamp_id FROM lamps ORDER BY lamp_id")]
        groups = [row[0] for row in conn.execute("SELECT DISTINCT group_name FROM lamps ORDER BY 1")]
        streets = [row[0] for row in conn.execute("SELECT DISTINCT street FROM lamps ORDER BY 1")]
        lat0, lat1, lon0, lon1 = conn.execute(
            "SELECT percentile_cont(0.4) WITHIN GROUP (ORDER BY lat), percentile_cont(0.6) WITHIN GROUP (ORDER BY lat),"
            " percentile_cont(0.4) WITHIN GROUP (ORDER BY lon), percentile_cont(0.6) WITHIN GROUP (ORDER BY lon)"
            " FROM lamps"
        ).fetchone()
    bbox = f"{lon0:.5f},{lat0:.5f},{lon1:.5f},{lat1:.5f}"
    word = streets[len(streets) // 2].split()[-1].lower()
    filters = [
        "",
        "state=in_service",
        "connectivity=online",
        "state=in_service&connectivity=offline",
        f"group_name={groups[len(groups) // 3]}",
        f"bbox={bbox}",
        f"q={word}",
    ]
    lamp_list = [
        f"/api/v1/lamps?limit=100&offset={offset}&{f}".rstrip("&").replace(" ", "%20")
        for f in filters
        for offset in (0, 100, 500)
    ]
    frm = (last_ts + READING_INTERVAL - timedelta(hours=24)).isoformat().replace("+00:00", "Z")
    to = (last_ts + READING_INTERVAL).isoformat().replace("+00:00", "Z")
    chart = [
        f"/api/v1/lamps/{lamp_id}/telemetry?bucket=5min&from={frm}&to={to}"
        for lamp_id in rng.sample(lamp_ids, min(2000, len(lamp_ids)))
    ]
    return [
        Scenario("GET /healthz (floor: framework)", ["/healthz"], authenticated=False, target=False),
        Scenario("GET /api/v1/auth/me (floor: token check)", ["/api/v1/auth/me"], target=False),
        Scenario("lamp list, limit=100, filters", lamp_list),
        Scenario("fleet summary", ["/api/v1/fleet/summary"]),
        Scenario("lamp telemetry, 24 h, 5min", chart),
        # The dashboard asks once a minute; measured for its cost, not held to the target.
        Scenario("fleet map, every lamp (dashboard)", ["/api/v1/fleet/map"], target=False),
    ]


def issue_tokens(url: str, count: int) -> list[str]:
    from api.accounts import create_token, get_user

    with db.connect(url) as conn:
        user = get_user(conn, BENCH_USER)
        # The benchmark user's tokens of earlier runs go: each run issues its own.
        conn.execute("DELETE FROM api_tokens WHERE user_id = %s", (user.user_id,))
        tokens = [create_token(conn, user.user_id, f"bench {i}") for i in range(count)]
        conn.commit()
    return tokens


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def served(
    url: str, *, workers: int, port: int, log_path: Path, pool_size: int | None, http: str = "auto", loop: str = "auto"
):
    """uvicorn serving the application; stopped on exit. `pool_size`: STREETLIGHT_DB_POOL_SIZE, if given.
    `http`, `loop`: uvicorn's choices (auto takes httptools and uvloop when installed)."""
    env = service_env(**{DATABASE_URL_VARIABLE: url})
    if pool_size:
        env["STREETLIGHT_DB_POOL_SIZE"] = str(pool_size)
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "benchmarks.api:app_from_environment",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                str(workers),
                "--http",
                http,
                "--loop",
                loop,
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=env,
            cwd=REPO_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:

        def answers() -> bool:
            if process.poll() is not None:
                raise BenchmarkError(f"uvicorn exited with code {process.returncode}: {log_path.read_text()[-800:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"GET /healthz HTTP/1.0\r\n\r\n")
                return b" 200 " in sock.recv(100)
            return False

        wait_until(answers, 60, "uvicorn")
        time.sleep(1.0 if workers > 1 else 0.2)  # let every worker start
        yield process
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _ms(value_s: float) -> str:
    return f"{value_s * 1000:.1f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin-url", default=default_timescale_url())
    parser.add_argument("--lamps", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--reload", action="store_true", help="rebuild the database even if it is loaded")
    parser.add_argument("--loaders", type=int, default=3, help="parallel COPY connections for the load")
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn worker processes (streetlight serve runs one)"
    )
    parser.add_argument(
        "--pool-size", type=int, help="database connections per worker (default: the service's db_pool_size setting)"
    )
    parser.add_argument("--http", default="auto", choices=["auto", "h11", "httptools"], help="uvicorn's HTTP parser")
    parser.add_argument("--loop", default="auto", choices=["auto", "asyncio", "uvloop"], help="uvicorn's event loop")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--duration", type=int, default=20, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each measurement")
    parser.add_argument("--only", help="measure only the scenarios whose label contains this text")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        raise BenchmarkError("the load comes from wrk: apt-get install wrk")
    db.wait_for_database(args.admin_url, timeout_s=60)
    name = database_name(args.lamps, args.days)
    url = database_url(args.admin_url, name)
    span = None if args.reload else loaded_data(url, args.lamps, args.days)
    if span is None:
        say(f"loading {args.lamps:,} lamps x {args.days} days into {name}")
        began = time.monotonic()
        span = load(args.admin_url, name, lamps=args.lamps, days=args.days, loaders=args.loaders, seed=args.seed)
        say(f"  loaded in {time.monotonic() - began:.0f} s")
    else:
        say(f"using {name} as loaded (--reload to rebuild)")
        db.upgrade(url)  # migrations added since the load
    first_ts, last_ts = span
    with db.connect(url) as conn:
        rows = conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        month_rows = conn.execute(
            "SELECT count(*) FROM readings WHERE ts >= date_trunc('month', now() AT TIME ZONE 'Europe/Paris')"
            " AT TIME ZONE 'Europe/Paris'"
        ).fetchone()[0]
    age = datetime.now(UTC) - last_ts
    say(
        f"data: {rows:,} readings from {first_ts:%Y-%m-%d %H:%M} to {last_ts:%Y-%m-%d %H:%M} UTC;"
        f" {month_rows:,} in this month (the fleet summary's energy)"
    )
    if age > timedelta(hours=6):
        say(f"  note: the data ends {age.total_seconds() / 3600:.0f} h ago; --reload for figures at today's volume")

    tokens = issue_tokens(url, args.clients)
    all_scenarios = scenarios(url, first_ts, last_ts, random.Random(args.seed))
    chosen = [s for s in all_scenarios if not args.only or args.only in s.label]
    port = free_port()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        tmp_dir = Path(tmp)
        with served(
            url,
            workers=args.workers,
            port=port,
            log_path=tmp_dir / "uvicorn.log",
            pool_size=args.pool_size,
            http=args.http,
            loop=args.loop,
        ) as server:
            server_pids = [server.pid, *children_of(server.pid)]
            base_url = f"http://127.0.0.1:{port}"
            for scenario in chosen:
                say(f"  {scenario.label}: {args.clients} clients, {args.warmup} s warm-up + {args.duration} s ...")
                result = measure(
                    base_url,
                    scenario,
                    tokens,
                    clients=args.clients,
                    duration_s=args.duration,
                    warmup_s=args.warmup,
                    server_pids=server_pids,
                    database_url_=url,
                    script_dir=tmp_dir,
                )
                results.append(result)
                say(
                    f"    {result.per_s:,.0f} requests/s, p50 {_ms(result.p50_s)} ms, p99 {_ms(result.p99_s)} ms;"
                    f" per request: server {result.cpu_ms_per_request(result.server_cores):.2f} ms,"
                    f" database {result.cpu_ms_per_request(result.database_cores):.2f} ms of processor time"
                )

    machine = [row for row in describe_machine(url, DEFAULT_MQTT_URL) if row[0] != "broker"]
    import fastapi
    import uvicorn

    wrk_version = (
        subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False).stdout.split("[")[0].strip()
    )
    from core.settings import Settings

    pool_size = args.pool_size or Settings().db_pool_size
    server = (
        f"uvicorn {uvicorn.__version__} (http {args.http}, loop {args.loop}: {_uvicorn_choice()}),"
        f" {args.workers} worker process(es) with {pool_size} database connections each, FastAPI {fastapi.__version__}"
    )
    machine += [
        ("server", server),
        ("client", f"{wrk_version}, 1 thread, {args.clients} connections, {args.duration} s per endpoint"),
    ]
    say("")
    say(format_table(["", ""], machine))
    say("")
    say(
        format_table(
            [
                "endpoint", "requests/s", "p50 ms", "p99 ms", "max ms", "errors", "server cores", "db cores",
                "server ms/req", "db ms/req", "target",
            ],
            [
                (
                    r.label,
                    format_rate(r.per_s),
                    _ms(r.p50_s),
                    _ms(r.p99_s),
                    _ms(r.max_s),
                    r.errors + r.non_2xx,
                    f"{r.server_cores:.2f}",
                    f"{r.database_cores:.2f}",
                    f"{r.cpu_ms_per_request(r.server_cores):.2f}",
                    f"{r.cpu_ms_per_request(r.database_cores):.2f}",
                    _verdict(r, args.clients),
                )
                for r in results
            ],
            right=[False, True, True, True, True, True, True, True, True, True, False],
        )
    )
    say(
        f"\ntarget: p99 under {TARGET_P99_S * 1000:.0f} ms at {args.clients} concurrent clients;"
        " errors counts failed connections and non-2xx answers; ms/req is processor time per answered request"
    )
    if any(_verdict(r, args.clients) == "STALLED" for r in results):
        say("STALLED: fewer answers than clients in the whole run (the server stopped answering)")
    return 1 if any(_verdict(r, args.clients) not in ("-", "OK") for r in results) else 0


def _uvicorn_choice() -> str:
    """What uvicorn's auto takes here: httptools and uvloop when they are installed."""
    import importlib.util

    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    return f"auto is {http} and {loop} here"


def _verdict(result: Result, clients: int) -> str:
    if result.requests < clients:
        return "STALLED"
    if not result.target:
        return "-"
    return "OK" if result.p99_s < TARGET_P99_S and not result.errors + result.non_2xx else "MISSED"


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
