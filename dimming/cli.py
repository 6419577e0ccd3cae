"""`streetlight dimming ...`: profiles, plans and energy from the command line."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from dimming.push import PushState


def register(sub: argparse._SubParsersAction, add: Callable[..., argparse.ArgumentParser]) -> None:
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


def _database(settings) -> str:
    from core import db
    from core.cli import CliError

    if not settings.database_url:
        raise CliError("STREETLIGHT_DATABASE_URL is not set (e.g. postgresql://streetlight@127.0.0.1:5432/streetlight)")
    db.wait_for_database(settings.database_url, timeout_s=30)
    db.upgrade(settings.database_url, chunk_interval_hours=settings.chunk_interval_hours)
    return settings.database_url


def cmd_push(args, settings) -> None:
    from core import db
    from core.cli import CliError
    from dimming.leader import active_scheduler
    from dimming.scheduler import NotLeading, PlanScheduler, request_push
    from dimming.service import scheduler_options

    url = _database(settings)
    if not settings.mqtt_url:
        raise CliError("STREETLIGHT_MQTT_URL is not set (e.g. mqtt://127.0.0.1:1883)")
    scheduler = PlanScheduler(scheduler_options(settings, url, settings.mqtt_url))
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


def cmd_status(args, settings) -> None:
    from core import db
    from core.contract import utc_now
    from dimming.leader import active_scheduler
    from dimming.push_store import push_status

    if args.limit < 0:
        from core.cli import CliError

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
