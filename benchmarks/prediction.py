"""Prediction benchmark: training on 1,500 lamps x one year, scoring 100,000 lamps.

Each phase is measured beside a one-lamp-at-a-time baseline in the same run: wall time,
and the peak of Python's and numpy's allocations (tracemalloc). What it measures, and
the latest figures, are in docs/performance.md.

    scripts/timescaledb start && .venv/bin/python benchmarks/prediction.py
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Generic, TypeVar

if __package__ in (None, ""):  # run as a script: make `benchmarks.common` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg
from psycopg.types.json import Jsonb

from benchmarks.common import (
    DEFAULT_MQTT_URL,
    Progress,
    default_timescale_url,
    format_table,
    fresh_database,
    run_id,
    say,
)
from benchmarks.machine import describe_machine
from core import db

if TYPE_CHECKING:
    import pandas as pd

    from models.registry import LoadedModel
    from models.score import ScoreSummary
    from models.train import TrainResult

TOWN = "Europe/Paris"
READING_COLUMNS = (
    "voltage_v", "current_a", "power_w", "power_factor", "energy_wh", "dim_level", "driver_temp_c", "ambient_lux",
    "burning_hours", "switch_cycles", "rssi_dbm",
)  # fmt: skip
WINDOW_DAYS = 30
RIGHT = (False, True, True, True, True, False)  # the report's right-aligned columns
FIRST_DAY = date(2025, 1, 1)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Measure(Generic[T]):
    seconds: float
    peak_mib: float
    result: T


def measured(func: Callable[[], T]) -> Measure[T]:
    tracemalloc.start()
    began = time.perf_counter()
    try:
        result = func()
    finally:
        elapsed = time.perf_counter() - began
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return Measure(elapsed, peak / 2**20, result)


# --- the data -------------------------------------------------------------------------------
def load_history(url: str, lamps: int, first: date, days: int, seed: int, failure_scale: float) -> int:
    """Simulated hourly readings and events for `days` local days from `first`, by COPY."""
    from zoneinfo import ZoneInfo

    from core.inventory import import_inventory, parse_inventory
    from simulators.engine import FleetSimulator
    from simulators.failures import FailureConfig
    from simulators.town import generate_town, town_to_csv_bytes

    town = generate_town(lamps, seed=seed)
    start = datetime.combine(first, datetime.min.time(), ZoneInfo(TOWN)).astimezone(UTC)
    sim = FleetSimulator(
        town, seed=seed, start=start, failure_config=FailureConfig(rate_scale=failure_scale), report_interval_s=3600.0
    )
    steps = days * 24
    progress = Progress(every_s=15)
    events = []
    rows = 0
    with db.connect(url) as conn:
        import_inventory(conn, parse_inventory(town_to_csv_bytes(town), "town.csv"))
        conn.commit()
        with conn.cursor().copy(f"COPY readings (lamp_id, ts, {', '.join(READING_COLUMNS)}) FROM STDIN") as copy:
            for k in range(1, steps + 1):
                step = sim.step_arrays(start + timedelta(hours=k))
                columns = [step.columns[c].tolist() for c in READING_COLUMNS]
                for i, lamp_id in enumerate(step.lamp_ids):
                    copy.write_row((lamp_id, step.ts, *(col[i] for col in columns)))
                rows += len(step.lamp_ids)
                events.extend(step.events)
                progress.update(f"  readings: {rows:,} ({k / steps:.0%})")
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (lamp_id, ts, type, detail) VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                [(lamp_id, e["ts"], e["type"], Jsonb(e.get("detail"))) for lamp_id, e in events],
            )
        conn.commit()
    progress.done(f"  readings: {rows:,}; events: {len(events):,}")
    return rows


def _column_names(conn: psycopg.Connection, table: str, leave_out: tuple[str, ...]) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s"
            " AND column_name <> ALL(%s) ORDER BY ordinal_position",
            (table, list(leave_out)),
        )
    ]


def synthesize_fleet(url: str, lamps: int, day: date) -> None:
    """`lamps` more lamps, each a copy of a town lamp: inventory and the 30 daily rows up to `day`.

    Each copy of the town has circuits of its own (the town's names with the copy's number), so
    that the fleet has as many circuits as a city of its size, for the circuit supply warnings."""
    with db.connect(url) as conn:
        conn.execute(
            """CREATE TEMP TABLE fleet_map AS
               SELECT 'F' || lpad(n::text, 6, '0') AS lamp_id, src.lamp_id AS source,
                      (n - 1) / (SELECT count(*) FROM lamps) AS copy_no
               FROM generate_series(1, %(n)s) AS n
               JOIN (SELECT lamp_id, row_number() OVER (ORDER BY lamp_id) - 1 AS i FROM lamps) src
                 ON src.i = (n - 1) %% (SELECT count(*) FROM lamps)""",
            {"n": lamps},
        )
        columns = _column_names(conn, "lamps", ("lamp_id", "created_at", "updated_at"))
        names = ", ".join(columns)
        copied = {"circuit": "CASE WHEN l.circuit = '' THEN '' ELSE l.circuit || '-' || m.copy_no END"}
        conn.execute(
            f"INSERT INTO lamps (lamp_id, {names}) SELECT m.lamp_id, {', '.join(copied.get(c, 'l.' + c) for c in columns)}"
            " FROM fleet_map m JOIN lamps l ON l.lamp_id = m.source"
        )
        daily = _column_names(conn, "lamp_daily", ("lamp_id",))
        conn.execute(
            f"INSERT INTO lamp_daily (lamp_id, {', '.join(daily)}) SELECT m.lamp_id, {', '.join('d.' + c for c in daily)}"
            " FROM fleet_map m JOIN lamp_daily d ON d.lamp_id = m.source WHERE d.day > %s AND d.day <= %s",
            (day - timedelta(days=WINDOW_DAYS), day),
        )
        conn.commit()
        conn.execute("ANALYZE lamps")
        conn.execute("ANALYZE lamp_daily")
        conn.commit()


# --- the phases ------------------------------------------------------------------------------
@dataclass
class Training:
    refresh: Measure[int]  # refresh_daily: rows written
    trained: Measure[TrainResult]
    model: LoadedModel
    naive_lamps: int  # lamps of the one-at-a-time baseline
    naive_dataset: Measure[int]
    chunked_dataset: Measure[pd.DataFrame]


def measure_training(url: str, args: argparse.Namespace, end: date) -> Training:
    """Daily aggregates, the training, and the dataset built in chunks and lamp by lamp."""
    from models import dataset, features, labels, registry, train

    with db.connect(url) as conn:
        refresh = measured(lambda: features.refresh_daily(conn, FIRST_DAY, end, time_zone=TOWN))
        conn.commit()
        say(f"refresh_daily: {refresh.result:,} rows in {refresh.seconds:.0f} s")
        options = train.TrainOptions(
            start=FIRST_DAY + timedelta(days=WINDOW_DAYS), end=end, horizon_days=args.horizon, k=20
        )
        say("training ...")
        trained = measured(lambda: train.train(conn, options, TOWN, progress=lambda text: say("  " + text)))
        version = registry.save_model(
            conn, trained.result.bundle, trained_from=options.start, trained_to=end, metrics=trained.result.metrics
        )
        model = registry.load_model(conn, features.FEATURES, version)
        ids = dataset.lamp_ids(conn)[: args.naive_lamps]
        feature_end = train.labelled_end(conn, end, args.horizon)
        say(f"baseline: features and labels one lamp at a time, {len(ids)} lamps ...")

        def per_lamp_dataset() -> int:
            n = 0
            for lamp_id in ids:
                frame = features.build_features(conn, options.start, feature_end, lamp_ids=[lamp_id], time_zone=TOWN)
                labels.build_labels(conn, frame.index, args.horizon, time_zone=TOWN)
                n += len(frame)
            return n

        naive_dataset = measured(per_lamp_dataset)
        chunked_dataset = measured(
            lambda: dataset.build_dataset(conn, options.start, feature_end, args.horizon, chunk_lamps=500)
        )
    return Training(refresh, trained, model, len(ids), naive_dataset, chunked_dataset)


def naive_scoring(conn: psycopg.Connection, model: LoadedModel, day: date, lamp_ids: list[str]) -> int:
    """The obvious loop: for each lamp, its features, its probability, its reasons, one INSERT."""
    from models import features
    from models.reasons import explain

    scored_at = datetime.now(UTC)
    for lamp_id in lamp_ids:
        frame = features.build_features(conn, day, day + timedelta(days=1), lamp_ids=[lamp_id], time_zone=TOWN)
        frame = frame.loc[:, list(model.bundle.features)]
        probability = model.bundle.predict(frame)
        why = explain(model.bundle.predict, frame, probability, model.bundle.reference, model.bundle.features)
        conn.execute(
            "INSERT INTO lamp_predictions (lamp_id, scored_at, feature_day, probability, horizon_days, model_version,"
            " reasons) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (lamp_id, scored_at, day, float(probability[0]), model.bundle.horizon_days, model.version, Jsonb(why[0])),
        )
    conn.commit()
    return len(lamp_ids)


@dataclass
class Scoring:
    scored: Measure[ScoreSummary]
    naive_lamps: int
    naive: Measure[int]


def measure_scoring(url: str, args: argparse.Namespace, model: LoadedModel, score_day: date) -> Scoring:
    """The fleet synthesized to its full size, then one day scored at once and lamp by lamp."""
    from models import dataset, score

    say(f"synthesizing {args.score_lamps:,} lamps for scoring ...")
    made = measured(lambda: synthesize_fleet(url, args.score_lamps - args.train_lamps, score_day))
    say(f"  made in {made.seconds:.0f} s")
    with db.connect(url) as conn:
        scored = measured(lambda: score.score_day(conn, model, score_day, time_zone=TOWN))
        naive_ids = dataset.lamp_ids(conn)[: args.naive_lamps]
        naive = measured(lambda: naive_scoring(conn, model, score_day, naive_ids))
    return Scoring(scored, len(naive_ids), naive)


# --- the report ------------------------------------------------------------------------------
def _rows(args: argparse.Namespace, t: Training, s: Scoring) -> list[tuple[str, ...]]:
    trained, chunked, naive_train = t.trained, t.chunked_dataset, t.naive_dataset
    scored, naive_score = s.scored, s.naive
    n_scored = scored.result.lamps
    scale_train = args.train_lamps / t.naive_lamps
    scale_score = n_scored / s.naive_lamps
    return [
        ("training, 1 lamp-year per lamp", f"{args.train_lamps:,} x {args.days} d", f"{trained.seconds:.0f} s",
         f"{trained.peak_mib:,.0f}", "< 300 s", f"{trained.seconds:.0f} s" + (" met" if trained.seconds < 300 else " MISSED")),
        ("  of which features + labels (chunks of 500)", f"{args.train_lamps:,}", f"{chunked.seconds:.0f} s",
         f"{chunked.peak_mib:,.0f}", "", ""),
        ("  baseline: features + labels lamp by lamp", f"{t.naive_lamps} -> x{scale_train:.0f}",
         f"{naive_train.seconds * scale_train:.0f} s", f"{naive_train.peak_mib:,.0f}", "",
         f"{naive_train.seconds * scale_train / chunked.seconds:.1f}x slower"),
        ("scoring one day", f"{n_scored:,}", f"{scored.seconds:.1f} s", f"{scored.peak_mib:,.0f}", "< 60 s",
         f"{scored.seconds:.0f} s" + (" met" if scored.seconds < 60 else " MISSED")),
        ("  baseline: lamp by lamp", f"{s.naive_lamps} -> x{scale_score:.0f}",
         f"{naive_score.seconds * scale_score:.0f} s", f"{naive_score.peak_mib:,.0f}", "",
         f"{naive_score.seconds * scale_score / scored.seconds:.1f}x slower"),
    ]  # fmt: skip


def report(args: argparse.Namespace, load: Measure[int], t: Training, s: Scoring) -> None:
    say("")
    say(f"set-up: readings {load.result:,} in {load.seconds:.0f} s; refresh_daily {t.refresh.seconds:.0f} s")
    say(format_table(("phase", "lamps", "time", "peak MiB", "target", "result"), _rows(args, t, s), right=RIGHT))
    metrics = t.trained.result.metrics
    say(
        f"scoring also gave {s.scored.result.circuits:,} circuits their supply warning"
        f" ({metrics['circuit_supply_warnings']})"
    )
    test = metrics["model"]
    say(f"model on its test slice: {json.dumps({k: test[k] for k in ('pr_auc', 'precision_at_k', 'recall_all')})}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--train-lamps", type=int, default=1500)
    parser.add_argument("--days", type=int, default=365, help="feature days the training learns from")
    parser.add_argument("--score-lamps", type=int, default=100_000)
    parser.add_argument("--naive-lamps", type=int, default=100, help="lamps the baselines handle one at a time")
    parser.add_argument("--failure-scale", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--horizon", type=int, default=14)
    args = parser.parse_args(argv)

    history_days = WINDOW_DAYS + args.days + args.horizon
    with fresh_database(default_timescale_url(), f"sl_bench_pred_{run_id()}") as url:
        for key, value in describe_machine(url, DEFAULT_MQTT_URL):
            say(f"{key}: {value}")
        say(f"history: {args.train_lamps:,} lamps x {history_days} days, one reading an hour")
        load = measured(
            lambda: load_history(url, args.train_lamps, FIRST_DAY, history_days, args.seed, args.failure_scale)
        )
        end = FIRST_DAY + timedelta(days=history_days)
        training = measure_training(url, args, end)
        scoring = measure_scoring(url, args, training.model, end - timedelta(days=args.horizon + 1))
        report(args, load, training, scoring)


if __name__ == "__main__":
    main()
