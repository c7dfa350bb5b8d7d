"""CLI commands for the web dashboard's accounts: ``orgnode user add/list/remove/passwd``.

They work on the home's database directly (the node may be running: SQLite lets both write), through
the same ``Accounts`` use case the dashboard signs in with. Passwords are typed twice on the terminal
or read from ``--password-file`` (mode 0600, like the key passphrase file); never a command-line value.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli.common import command, emit, group, home_of

if TYPE_CHECKING:  # imported when a command runs: `orgnode --help` loads no storage code (bench.startup)
    from node.core.accounts import Accounts


@contextmanager
def accounts(args: argparse.Namespace) -> Iterator[Accounts]:
    from node.core.accounts import Accounts
    from node.core.clock import now_ms, system_random
    from node.core.service import open_database
    from node.home import Home
    from storage.users import UserStore

    home = Home(home_of(args))
    home.require()
    db = open_database(home)
    try:
        yield Accounts(UserStore(db), now_ms, system_random)
    finally:
        db.close()


def password(args: argparse.Namespace, name: str) -> str:
    from node.passphrase import prompt_secret, read_passphrase_file

    if args.password_file:
        return read_passphrase_file(Path(args.password_file), "--password-file")
    return prompt_secret(f"password for {name}: ", flag="--password-file", what="the password", confirm=True)


def cmd_user_add(args: argparse.Namespace) -> int:
    with accounts(args) as acc:
        user = acc.add(args.name, args.role, password(args, args.name))
    emit(args, {"name": user.name, "role": user.role}, f"Added {user.name} ({user.role}). They sign in at the "
         "dashboard address `orgnode status` shows.")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    from node.core.views import iso

    with accounts(args) as acc:
        users = acc.store.all()
    data = [{"name": u.name, "role": u.role, "created": iso(u.created_at)} for u in users]
    lines = [f"{u['name']:<20} {u['role']:<7} added {u['created']}" for u in data] or ["No dashboard users yet: "
             "add one with `orgnode user add NAME --role admin`."]
    emit(args, data, "\n".join(lines))
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    with accounts(args) as acc:
        acc.remove(args.name)
    emit(args, {"name": args.name, "removed": True}, f"Removed {args.name}; their sessions are closed.")
    return 0


def cmd_user_passwd(args: argparse.Namespace) -> int:
    with accounts(args) as acc:
        acc.passwd(args.name, password(args, args.name))
    emit(args, {"name": args.name, "changed": True}, f"Changed the password of {args.name}; their sessions are closed.")
    return 0


def _password_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--password-file", metavar="FILE", help="read the password from FILE (mode 0600); default: asked twice")


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    usub = group(sub, common, "user", "manage the web dashboard's accounts")
    a = command(usub, common, "add", cmd_user_add, "add a dashboard account (admin, staff or viewer)")
    a.add_argument("name", help="the user name they sign in with (lower case letters, digits, . _ -)")
    a.add_argument("--role", required=True, choices=("admin", "staff", "viewer"),
                   help="admin: everything; staff: jobs, candidates, referrals; viewer: read only")
    _password_option(a)
    command(usub, common, "list", cmd_user_list, "list the dashboard accounts and their roles")
    r = command(usub, common, "remove", cmd_user_remove, "remove a dashboard account (its sessions end)")
    r.add_argument("name")
    p = command(usub, common, "passwd", cmd_user_passwd, "set a new password for a dashboard account (its sessions end)")
    p.add_argument("name")
    _password_option(p)
