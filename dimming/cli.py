"""`streetlight dimming ...`: profiles, plans and energy from the command line."""

from __future__ import annotations

import argparse

from core import db
from core.commands import AddCommand, CliError, Subparsers, require_broker, require_migrated_database
from core.contract import utc_now
from core.mqtt import BrokerConfig
from core.settings import Settings
from dimming.leader import active_scheduler
from dimming.push import PushState
from dimming.push_store import push_status
from dimming.scheduler import NotLeading, PlanScheduler, request_push
from dimming.service import scheduler_options


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `dimming` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
    dimming = sub.add_parser("dimming", help="Dimming plans and their delivery").add_subparsers(
        dest="dimming_command", required=True
    )
    p = add(
        dimming,
        "push",
        cmd_push,
        "Resolve every lamp's plan and push those that changed, now (the active scheduler does it if one runs)",
    )
    p.add_argument("--all", action="store_true", help="push a new version to every lamp, changed or not")
    p = add(dimming, "status", cmd_status, "Count lamps whose plan is applied, pending, rejected or stale; list them")
    p.add_argument(
        "--state",
        action="append",
        choices=[s.value for s in PushState],
        help="list lamps in this state (repeat for several; default: all but applied)",
    )
    p.add_argument("--limit", type=int, default=50, help="lamps listed at most (default 50; 0 lists none)")


def _database(settings: Settings) -> str:
    """The database URL once it answers and its schema is up to date."""
    return require_migrated_database(settings, wait_s=30)


def cmd_push(args: argparse.Namespace, settings: Settings) -> None:
    url = _database(settings)
    require_broker(settings)
    scheduler = PlanScheduler(scheduler_options(settings, url, BrokerConfig.from_settings(settings)))
    try:
        result = scheduler.push_once(force_all=args.all)
    except NotLeading:
        with db.connect(url, autocommit=True) as conn:
            active = active_scheduler(conn)
            request_push(conn, everything=args.all)
        who = active.name if active else "another replica"
        print(f"the active scheduler ({who}) pushes now; follow it with: streetlight dimming status")
        return
    except TimeoutError as exc:
        raise CliError(str(exc)) from None
    print(result.describe())


def cmd_status(args: argparse.Namespace, settings: Settings) -> None:
    if args.limit < 0:
        raise CliError("--limit must be 0 or more")
    states = [PushState(s) for s in args.state] if args.state else [s for s in PushState if s is not PushState.APPLIED]
    with db.connect(_database(settings), autocommit=True) as conn:
        active = active_scheduler(conn)
        page = push_status(conn, utc_now(), states=states, limit=args.limit)
    if active:
        print(f"active scheduler: {active.name}, since {active.since:%Y-%m-%d %H:%M:%S %Z}")
    else:
        print("no active scheduler: plans are not being pushed (it runs inside `streetlight serve`)")
    print("  ".join(f"{state.value} {page.counts[state]}" for state in PushState))
    if not page.items:
        return
    width = max(len(item.lamp_id) for item in page.items)
    print(f"{'LAMP':<{width}}  {'STATE':<8}  DETAIL")
    for item in page.items:
        print(f"{item.lamp_id:<{width}}  {item.state.value:<8}  {item.detail}")
    if page.total > len(page.items):
        print(f"... {page.total - len(page.items)} more (--limit)")
