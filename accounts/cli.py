"""`streetlight users ...`: accounts and API tokens from the command line.

Changes made here are audited with the actor "system": whoever can run these commands
holds the database credentials anyway.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import UTC, datetime

from accounts import audit, users
from accounts.passwords import WeakPasswordError, check_password_policy
from core import db
from core.commands import AddCommand, CliError, Subparsers, require_migrated_database
from core.settings import Settings
from core.vocabulary import ROLES, Role


def register(sub: Subparsers, add: AddCommand) -> None:
    """Add the `users` commands to the CLI (`add(parent, name, func, help)` makes one command)."""
    group = sub.add_parser("users", help="Accounts and API tokens").add_subparsers(dest="users_command", required=True)
    p = add(group, "add", cmd_users_add, "Create an account (asks for its password twice on a terminal)")
    p.add_argument("name")
    p.add_argument("--role", required=True, choices=list(ROLES))
    p.add_argument("--locale", default="fr", choices=["fr", "en"])
    p.add_argument("--display-name", default="")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    how.add_argument("--no-password", action="store_true", help="an account that uses API tokens only")
    add(group, "list", cmd_users_list, "List the accounts")
    p = add(group, "passwd", cmd_users_passwd, "Set an account's password (ends its console sessions)")
    p.add_argument("name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    p = add(group, "deactivate", cmd_users_deactivate, "Stop an account from signing in or using its tokens")
    p.add_argument("name")
    p = add(group, "token", cmd_users_token, "Make an API token for an account and print it (shown once)")
    p.add_argument("name")
    p.add_argument("--name", dest="label", default="", help="what the token is for")
    p = add(group, "tokens", cmd_users_tokens, "List an account's API tokens (never the tokens themselves)")
    p.add_argument("name")
    p = add(group, "revoke-token", cmd_users_revoke_token, "Revoke an API token")
    p.add_argument("token_id", type=int)


def read_new_password(username: str, *, from_stdin: bool) -> str:
    """The new password: one line of standard input, or asked twice on the terminal. Refuses weak ones."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif sys.stdin.isatty():
        password = getpass.getpass(f"new password for {username}: ")
        if getpass.getpass("the same again: ") != password:
            raise CliError("the two passwords differ; nothing changed")
    else:
        raise CliError("no terminal to ask for the password on: pipe it with --password-stdin")
    try:
        check_password_policy(username, password)
    except WeakPasswordError as exc:
        raise CliError(f"{exc}; nothing changed") from None
    return password


def cmd_users_add(args: argparse.Namespace, settings: Settings) -> None:
    try:
        users.check_username(args.name)
    except users.AccountError as exc:
        raise CliError(str(exc)) from None
    password = None if args.no_password else read_new_password(args.name, from_stdin=args.password_stdin)
    # The first administrator may be made before `serve` ever ran: migrate first.
    with db.connect(require_migrated_database(settings)) as conn:
        try:
            users.create_user(
                conn, args.name, Role(args.role), password=password, locale=args.locale, display_name=args.display_name
            )
        except users.AccountError as exc:
            raise CliError(str(exc)) from None
        user = users.require_user(conn, args.name)
        audit.record(
            conn,
            audit.SYSTEM,
            "user.create",
            users.user_target(user.username),
            after=user.public() | {"has_password": user.has_password},
        )
    how = "signs in with a password" if password else "uses API tokens only (streetlight users token NAME)"
    print(f"added {user.username}, {user.role.value}; {how}")


def cmd_users_list(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_migrated_database(settings)) as conn:
        accounts = users.list_users(conn)
        tokens = users.list_tokens(conn)
    if not accounts:
        print("no accounts yet; create the first administrator with: streetlight users add NAME --role admin")
        return
    live_tokens: dict[int, int] = {}
    for token in tokens:
        if token.revoked_at is None:
            live_tokens[token.user_id] = live_tokens.get(token.user_id, 0) + 1
    print(f"{'USERNAME':<20} {'ROLE':<15} {'ACTIVE':<7} {'LOCALE':<7} {'SIGN-IN':<14} {'TOKENS':>6}  NAME")
    for user in accounts:
        sign_in = "demo password" if user.demo_password else "password" if user.has_password else "tokens only"
        print(
            f"{user.username:<20} {user.role.value:<15} {'yes' if user.active else 'no':<7} {user.locale:<7}"
            f" {sign_in:<14} {live_tokens.get(user.user_id, 0):>6}  {user.display_name}"
        )


def cmd_users_passwd(args: argparse.Namespace, settings: Settings) -> None:
    url = require_migrated_database(settings)
    with db.connect(url) as conn:
        if users.get_user(conn, args.name) is None:
            raise CliError(f"no user {args.name}")
    password = read_new_password(args.name, from_stdin=args.password_stdin)
    with db.connect(url) as conn:
        try:
            users.set_password(conn, args.name, password)
        except users.AccountError as exc:
            raise CliError(str(exc)) from None
        audit.record(conn, audit.SYSTEM, "user.password_reset", users.user_target(args.name))
    print(f"new password set for {args.name}; their console sessions are ended")


def cmd_users_deactivate(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_migrated_database(settings)) as conn:
        try:
            before, after = users.changes(*users.update_user(conn, args.name, active=False))
        except users.AccountError as exc:
            raise CliError(str(exc)) from None
        if after:
            audit.record(conn, audit.SYSTEM, "user.update", users.user_target(args.name), before, after)
    print(f"{args.name} is deactivated: no sign-in, no tokens")


def cmd_users_token(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_migrated_database(settings)) as conn:
        user = users.get_user(conn, args.name)
        if user is None:
            raise CliError(f"no user {args.name}")
        token, secret = users.issue_token(conn, user.user_id, args.label)
        audit.record(
            conn,
            audit.SYSTEM,
            "token.create",
            users.token_target(token.token_id),
            after={"username": user.username, "name": token.name},
        )
    if not user.active:
        print(f"warning: {user.username} is deactivated; the token works once the account is active", file=sys.stderr)
    print(
        f"token {token.token_id} for {user.username}; it is shown this once"
        f" (revoke it with: streetlight users revoke-token {token.token_id}):",
        file=sys.stderr,
    )
    print(secret)


def cmd_users_tokens(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_migrated_database(settings)) as conn:
        user = users.get_user(conn, args.name)
        if user is None:
            raise CliError(f"no user {args.name}")
        tokens = users.list_tokens(conn, user_id=user.user_id)
    print(f"{'ID':>6}  {'CREATED':<20} {'LAST USED':<20} {'REVOKED':<20} NAME")
    for t in tokens:
        print(
            f"{t.token_id:>6}  {_when(t.created_at):<20} {_when(t.last_used_at):<20} {_when(t.revoked_at):<20} {t.name}"
        )


def _when(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def cmd_users_revoke_token(args: argparse.Namespace, settings: Settings) -> None:
    with db.connect(require_migrated_database(settings)) as conn:
        token = users.get_token(conn, args.token_id)
        if token is None:
            raise CliError(f"no token {args.token_id}")
        if token.revoked_at is not None:
            print(f"token {token.token_id} of {token.username} was already revoked")
            return
        revoked = users.revoke_token(conn, token.token_id)
        assert revoked is not None  # found above, in the same transaction
        audit.record(
            conn,
            audit.SYSTEM,
            "token.revoke",
            users.token_target(token.token_id),
            before={"username": token.username, "name": token.name, "revoked_at": None},
            after={"username": token.username, "name": token.name, "revoked_at": revoked.revoked_at},
        )
    print(f"revoked token {token.token_id} ({token.name or 'unnamed'}) of {token.username}")
