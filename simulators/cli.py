"""`streetlight simulate ...`: a simulated town's inventory, and its fleet of controllers over MQTT."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core.commands import AddCommand, CliError, Subparsers, require_broker, stop_event_on_signals
from core.mqtt import BrokerConfig
from core.settings import Settings
from simulators.controllers import SimulationOptions, run_simulation
from simulators.failures import FailureConfig, with_mode_weights
from simulators.town import generate_town, town_to_csv, town_to_geojson


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `simulate` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
    sim = sub.add_parser("simulate", help="The lamp-fleet simulator").add_subparsers(dest="sim_command", required=True)
    town = add(sim, "town", cmd_simulate_town, "Write a simulated town's inventory (CSV or GeoJSON)")
    town.add_argument("--lamps", type=int, default=1500)
    town.add_argument("--seed", type=int, default=1)
    town.add_argument("--out", required=True, help="file.csv or file.geojson")

    run = add(sim, "run", cmd_simulate_run, "Run a fleet of simulated controllers over MQTT")
    _add_fleet_options(run)
    run.add_argument("--speed", type=float, default=1.0, help="simulated seconds per real second; 0 = max")
    history = add(
        sim, "history", cmd_simulate_history, "Generate past telemetry for the whole fleet as fast as possible"
    )
    _add_fleet_options(history)
    history.add_argument("--days", type=float, help="days of history ending now (or from --start)")


def _add_fleet_options(p: argparse.ArgumentParser) -> None:
    """The options `simulate run` and `simulate history` share."""
    p.add_argument("--lamps", type=int, default=1500)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--town", help="inventory file to simulate instead of a generated town")
    p.add_argument("--interval", type=float, default=600.0, help="seconds between readings of one lamp")
    p.add_argument("--start", help="simulated start time (ISO 8601; default now)")
    p.add_argument("--end", help="simulated end time (ISO 8601)")
    p.add_argument("--duration", type=float, help="stop after this many real seconds")
    p.add_argument("--batch", type=int, default=1, help="readings per telemetry message")
    p.add_argument("--truth", help="write the ground-truth failure file here (CSV)")
    p.add_argument("--failure-scale", type=float, help="multiply the real failure rates (default: the engine's)")
    p.add_argument(
        "--failure-mix",
        metavar="MODE=WEIGHT,...",
        help="multiply chosen failure modes' rates, e.g. capacitor_ageing=0.5,cycling=2 (others 1)",
    )
    p.add_argument("--outage-scale", type=float, default=1.0, help="multiply how often controllers go offline")
    p.add_argument("--connections", default="shared", help="'shared' (a few MQTT connections) or 'per-lamp'")


def cmd_simulate_town(args: argparse.Namespace, settings: Settings) -> None:
    lamps = generate_town(args.lamps, seed=args.seed)
    out = Path(args.out)
    if out.suffix.lower() in (".geojson", ".json"):
        town_to_geojson(lamps, out)
    else:
        town_to_csv(lamps, out)
    print(f"wrote {len(lamps)} lamps to {out}")


def parse_time(value: str | None) -> datetime | None:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    if value is None:
        return None
    when = datetime.fromisoformat(value)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_failure_mix(value: str | None) -> dict[str, float] | None:
    """`capacitor_ageing=0.5,photocell=3` -> {"capacitor_ageing": 0.5, "photocell": 3.0}, checked."""
    if not value:
        return None
    mix: dict[str, float] = {}
    for part in value.split(","):
        mode, sep, weight = part.partition("=")
        try:
            mix[mode.strip()] = float(weight)
        except ValueError:
            raise CliError(f"--failure-mix: {part.strip()!r} is not MODE=WEIGHT (e.g. cycling=2)") from None
        if not sep:
            raise CliError(f"--failure-mix: {part.strip()!r} is not MODE=WEIGHT (e.g. cycling=2)")
    try:
        with_mode_weights(FailureConfig(), mix)
    except ValueError as exc:
        raise CliError(f"--failure-mix: {exc}") from None
    return mix


def cmd_simulate_run(args: argparse.Namespace, settings: Settings) -> None:
    require_broker(settings)
    options = SimulationOptions(
        broker=BrokerConfig.from_settings(settings),
        topic_prefix=settings.topic_prefix,
        lamps=args.lamps,
        seed=args.seed,
        speed=args.speed,
        report_interval_s=args.interval,
        start=parse_time(args.start),
        end=parse_time(args.end),
        duration_s=args.duration,
        batch=args.batch,
        truth_path=Path(args.truth) if args.truth else None,
        town_file=Path(args.town) if args.town else None,
        failure_scale=args.failure_scale,
        failure_mix=parse_failure_mix(args.failure_mix),
        outage_scale=args.outage_scale,
        connections=args.connections,
    )
    summary = run_simulation(options, stop_event_on_signals())
    print(summary.describe())


def cmd_simulate_history(args: argparse.Namespace, settings: Settings) -> None:
    args.speed = 0.0  # as fast as possible
    if args.days is not None:
        start = parse_time(args.start) or default_history_start(args.days)
        args.start = start.isoformat()
        args.end = (start + timedelta(days=args.days)).isoformat()
    cmd_simulate_run(args, settings)


def default_history_start(days: float) -> datetime:
    """`days` before the start of today (UTC), so that the history ends at midnight."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days)
