"""`taktline cloud users|tokens ...`: the users and API tokens of the web interface.

`users add NAME --role R` (the password is asked twice on the terminal, or read from
`--password-file`, which only its owner may read), `users reset NAME [--role R]`, `users disable
NAME`, `users list`; `tokens add NAME --role R` (the token is printed once, and kept nowhere but
as a hash), `tokens list`, `tokens revoke ID`. They work on the cloud database (`--db`), which
they migrate like the cloud does; a running cloud sees the change within seconds.
"""

from __future__ import annotations

import argparse
import getpass
import os
import stat
import sys
from pathlib import Path

from cloud.auth.roles import ROLES
from cloud.auth.store import AuthError, AuthStore
from cloud.errors import ConfigError

__all__ = ["configure", "read_password", "run"]


def configure(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Adds `users` and `tokens` to the cloud's subcommands."""
    db = {"default": argparse.SUPPRESS, "help": "the cloud database (as for taktline cloud)"}
    users = subparsers.add_parser("users", help="users of the web interface")
    user_actions = users.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = user_actions.add_parser("add", help="add a user (asks for the password)")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, required=True)
    add.add_argument("--password-file", type=Path, help="read the password from this file (0600)")
    reset = user_actions.add_parser("reset", help="a new password (and role); enables the user")
    reset.add_argument("name")
    reset.add_argument("--role", choices=ROLES)
    reset.add_argument("--password-file", type=Path, help="read the password from this file (0600)")
    disable = user_actions.add_parser("disable", help="the user can no longer log in")
    disable.add_argument("name")
    listed = user_actions.add_parser("list", help="every user with role and state")
    tokens = subparsers.add_parser("tokens", help="API tokens for machines")
    token_actions = tokens.add_subparsers(dest="action", metavar="ACTION", required=True)
    token_add = token_actions.add_parser("add", help="make a token (printed once)")
    token_add.add_argument("name", help="what uses it, e.g. erp-bridge")
    token_add.add_argument("--role", choices=ROLES, required=True)
    token_list = token_actions.add_parser("list", help="every token without its secret")
    revoke = token_actions.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("id")
    for sub in (add, reset, disable, listed, token_add, token_list, revoke):
        sub.add_argument("--db", **db)  # type: ignore[arg-type]


def read_password(path: Path | None) -> str:
    """The password from a file only its owner can read, or asked twice on the terminal.

    Raises:
        ConfigError: a file others may read, or two different answers.
    """
    if path is not None:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(f"{path} may be read by others: chmod 600 it first")
        return path.read_text(encoding="utf-8").rstrip("\r\n")
    first = getpass.getpass("password: ")
    if getpass.getpass("again: ") != first:
        raise ConfigError("the two passwords differ")
    return first


def _open(db: str) -> AuthStore:
    from cloud.store import EventLog

    if "://" not in db:
        Path(db).parent.mkdir(parents=True, exist_ok=True)
    with EventLog(db if "://" in db else Path(db)) as log:  # migrates to the newest schema
        url = log.url
    if "://" not in db:
        os.chmod(db, 0o600)  # it holds the password hashes
    return AuthStore(url)


def run(args: argparse.Namespace) -> int:
    """Runs one users/tokens action; 0 done, 2 refused (the reason on stderr)."""
    try:
        store = _open(args.db)
        try:
            _act(store, args)
        finally:
            store.close()
    except (AuthError, ConfigError, OSError) as exc:
        print(f"taktline cloud {args.cloud_command}: {exc}", file=sys.stderr)
        return 2
    return 0


def _act(store: AuthStore, args: argparse.Namespace) -> None:
    if args.cloud_command == "users":
        if args.action == "add":
            store.add_user(args.name, args.role, read_password(args.password_file))
            print(f"user {args.name} added ({args.role})")
        elif args.action == "reset":
            store.reset(args.name, read_password(args.password_file), args.role)
            print(f"user {args.name}: new password{f', role {args.role}' if args.role else ''}")
        elif args.action == "disable":
            store.disable(args.name)
            print(f"user {args.name} disabled")
        else:
            for user in store.users():
                state = "disabled" if user["disabled"] else "enabled"
                print(f"{user['name']}\t{user['role']}\t{state}\tsince {user['created_at']}")
        return
    if args.action == "add":
        made = store.add_token(args.name, args.role, "cli")
        print(f"token {made.id} for {made.name} ({made.role}); shown once, keep it safe:")
        print(made.secret)
    elif args.action == "revoke":
        store.revoke_token(args.id)
        print(f"token {args.id} revoked")
    else:
        for token in store.tokens():
            state = f"revoked {token['revoked_at']}" if token["revoked_at"] else "live"
            used = token["last_used_at"] or "never"
            print(f"{token['id']}\t{token['name']}\t{token['role']}\t{state}\tlast used {used}")
