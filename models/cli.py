"""`streetlight model ...`: train, score and evaluate failure-prediction models."""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from core import db
from core.commands import AddCommand, CliError, Subparsers, require_migrated_database
from core.settings import Settings

# The commands import the models modules themselves: those load pandas and scikit-learn,
# which would otherwise slow the start of every other `streetlight` command.

# Feature windows reach this many days back: aggregates are refreshed that far before a window.
WINDOW_DAYS = 30


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `model` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
    model = sub.add_parser("model", help="Failure prediction: train, score, evaluate").add_subparsers(
        dest="model_command", required=True
    )
    p = add(model, "train", cmd_train, "Train a model on the history in the database, judge it, store it")
    p.add_argument("--from", dest="start", type=_day, help="first feature day (default: 30 days into the data)")
    p.add_argument("--to", dest="end", type=_day, help="last feature day (default: the last day of data)")
    p.add_argument(
        "--horizon", type=int, help="days ahead a failure counts (default STREETLIGHT_PREDICTION_HORIZON_DAYS)"
    )
    p.add_argument("--k", type=int, help="lamps the crews visit a day (default STREETLIGHT_CREW_VISITS_PER_DAY)")
    p.add_argument("--no-refresh", action="store_true", help="use the daily aggregates as they are")

    p = add(model, "score", cmd_score, "Score every lamp with the newest model and store the predictions")
    p.add_argument("--day", type=_day, help="the feature day to score (default: yesterday, town time)")
    p.add_argument("--version", help="a model version (default: the newest ready one)")
    p.add_argument("--no-refresh", action="store_true", help="use the daily aggregates as they are")

    p = add(model, "evaluate", cmd_evaluate, "Judge a model and the rule baselines against a simulator truth file")
    p.add_argument("--truth", required=True, help="ground-truth CSV of `streetlight simulate history --truth`")
    p.add_argument("--from", dest="start", type=_day, help="first day judged (default: the model's test slice)")
    p.add_argument("--to", dest="end", type=_day, help="last day judged (default: the model's test slice)")
    p.add_argument("--k", type=int, help="lamps the crews visit a day (default STREETLIGHT_CREW_VISITS_PER_DAY)")
    p.add_argument("--version", help="a model version (default: the newest ready one)")
    p.add_argument("--modes", help="judge only these failure modes, e.g. capacitor_ageing,cycling")
    p.add_argument("--refresh", action="store_true", help="refresh the daily aggregates of the days judged first")

    add(model, "list", cmd_list, "List the stored models with their windows and figures")


def _day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a day (YYYY-MM-DD)") from None


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


class _Counter:
    """Progress of a (done, total) loop, printed at most every few seconds."""

    def __init__(self, what: str, every_s: float = 5.0) -> None:
        self.what, self.every_s, self.last = what, every_s, 0.0

    def __call__(self, done: int, total: int) -> None:
        if done >= total or time.monotonic() - self.last >= self.every_s:
            self.last = time.monotonic()
            _say(f"{self.what}: {done}/{total}")


def _positive(value: int | None, default: int, name: str) -> int:
    value = default if value is None else value
    if value < 1:
        raise CliError(f"{name} must be at least 1, not {value}")
    return value


def refresh(conn, start: date, end: date, settings: Settings) -> None:
    from models import features

    _say(f"refreshing daily aggregates {start} to {end - timedelta(days=1)}")
    written = features.refresh_daily(
        conn, start, end, time_zone=settings.town_timezone, progress=_Counter("daily aggregates, days")
    )
    _say(f"daily aggregates: {written} rows")


def cmd_train(args, settings: Settings) -> None:
    from models import dataset, train

    horizon = _positive(args.horizon, settings.prediction_horizon_days, "--horizon")
    k = _positive(args.k, settings.crew_visits_per_day, "--k")
    with db.connect(require_migrated_database(settings)) as conn:
        span = dataset.reading_days(conn, settings.town_timezone)
        if span is None:
            raise CliError("no readings in the database: nothing to learn from")
        first_data, last_data = span
        start = args.start or first_data + timedelta(days=WINDOW_DAYS)
        end = (args.end or last_data) + timedelta(days=1)
        if end <= start:
            raise CliError(f"--from {start} is not before --to {end - timedelta(days=1)}")
        if not args.no_refresh:
            refresh(
                conn,
                max(first_data, start - timedelta(days=WINDOW_DAYS)),
                min(end, last_data + timedelta(days=1)),
                settings,
            )
        options = train.TrainOptions(start=start, end=end, horizon_days=horizon, k=k)
        try:
            result = train.train_and_register(conn, options, settings.town_timezone, _say)
        except train.TrainingError as exc:
            raise CliError(
                f"training failed (recorded as a failed version; the last good model stays): {exc}"
            ) from None
    model = result.metrics["model"]
    ratio = result.metrics["pr_auc_vs_best_baseline"]
    print(
        f"model {result.version}: PR-AUC {_num(model['pr_auc'])}"
        f" ({_num(ratio, '.2f')} x the best baseline), precision at {k} {_pct(model['precision_at_k'])},"
        f" recall {_pct(model['recall_all'])} of {model['failures']} failures at least"
        f" {result.metrics['lead_days']} days ahead, median lead {_num(model['median_lead_days'], '.0f')} days"
    )
    if result.bundle.circuit_model is not None:
        print(
            f"circuit supply warnings: fitted; {model.get('circuit_visits', 0)} of the test slice's"
            f" {model['flagged']} visits were to a circuit"
        )
    else:
        print(f"circuit supply warnings: none ({result.metrics['circuit_supply_warnings']})")


def cmd_score(args, settings: Settings) -> None:
    from models import features, registry, score

    day = args.day or (datetime.now(ZoneInfo(settings.town_timezone)).date() - timedelta(days=1))
    with db.connect(require_migrated_database(settings)) as conn:
        try:
            model = registry.load_model(conn, features.FEATURES, args.version)
        except registry.ModelError as exc:
            raise CliError(str(exc)) from None
        if not args.no_refresh:
            refresh(conn, day, day + timedelta(days=1), settings)
        summary = score.score_day(conn, model, day, progress=_say, time_zone=settings.town_timezone)
    print(summary.describe())


def cmd_evaluate(args, settings: Settings) -> None:
    from models import evaluate, features, registry

    k = _positive(args.k, settings.crew_visits_per_day, "--k")
    modes = [m.strip() for m in args.modes.split(",")] if args.modes else None
    try:
        truth = evaluate.read_truth(Path(args.truth), settings.town_timezone, modes)
    except evaluate.TruthFileError as exc:
        raise CliError(str(exc)) from None
    with db.connect(require_migrated_database(settings)) as conn:
        try:
            model = registry.load_model(conn, features.FEATURES, args.version)
        except registry.ModelError as exc:
            raise CliError(str(exc)) from None
        test = model.info.metrics.get("split", {}).get("test")
        start = args.start or (date.fromisoformat(test[0]) if test else None)
        end = args.end + timedelta(days=1) if args.end else (date.fromisoformat(test[1]) if test else None)
        if start is None or end is None:
            raise CliError("give --from and --to: this model has no test slice recorded")
        if end <= start:
            raise CliError(f"--from {start} is not before --to {end - timedelta(days=1)}")
        if args.refresh:
            refresh(conn, start - timedelta(days=WINDOW_DAYS), end, settings)
        report = evaluate.evaluate_model(
            conn, model, truth, start, end, k=k, timezone_name=settings.town_timezone, progress=_say
        )
    print(f"model {model.version} against {args.truth}")
    print(report.describe())


def cmd_list(args, settings: Settings) -> None:
    from models import registry

    with db.connect(require_migrated_database(settings)) as conn:
        models = registry.list_models(conn)
    if not models:
        print("no models yet: run `streetlight model train`")
        return
    print(
        f"{'VERSION':<20} {'STATUS':<7} {'WINDOW':<23} {'H':>3} {'PR-AUC':>7} {'x BASE':>6} {'PREC@K':>7} {'RECALL':>7}  NOTE"
    )
    for m in models:
        window = f"{m.trained_from or '?'}..{m.trained_to or '?'}"
        figures = m.metrics.get("model", {})
        note = m.error or ""
        print(
            f"{m.version:<20} {m.status:<7} {window:<23} {m.horizon_days:>3} {_num(figures.get('pr_auc')):>7}"
            f" {_num(m.metrics.get('pr_auc_vs_best_baseline'), '.2f'):>6} {_pct(figures.get('precision_at_k')):>7}"
            f" {_pct(figures.get('recall_all')):>7}  {note}"
        )


def _num(value, spec: str = ".3f") -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else format(value, spec)


def _pct(value) -> str:
    return "-" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.1f} %"
