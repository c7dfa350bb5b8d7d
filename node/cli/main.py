"""The ``orgnode`` command line: human output by default, ``--json`` for scripts.

This module only assembles the parser from the command groups (one module each, sharing
``node/cli/common.py``) and dispatches. A command is a function ``(args) -> int`` that its group sets
as the parser's ``func``. Errors are one line on stderr and a non-zero exit code; tracebacks only with
``ORGNODE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Any, Protocol

from node.cli import audit, backups, candidates, jobs, keys, lifecycle, partners, referrals, service
from node.cli.common import CommandFn, home_of
from node.core.disk import EXIT_DISK_FULL, disk_full_message
from node.core.errors import StorageFull, UserError
from node.terminal import safe_text


class CommandGroup(Protocol):
    """A command-group module: it adds its parsers (each command's carrying ``func``) to ``sub``."""

    def register(self, sub: Any, common: argparse.ArgumentParser) -> None: ...


GROUPS: tuple[CommandGroup, ...] = (lifecycle, backups, service, partners, keys, jobs, candidates, referrals, audit)  # in `orgnode --help` order

COMMANDS: dict[str, CommandFn] = {}  # "trust accept" -> its function; filled by build_parser()


def command_table(parser: argparse.ArgumentParser, prefix: str = "") -> dict[str, CommandFn]:
    """Every command under ``parser`` by its words: the parsers that carry a ``func`` to run."""
    table: dict[str, CommandFn] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                words = f"{prefix}{name}"
                if (fn := child.get_default("func")) is not None:
                    table[words] = fn
                table.update(command_table(child, words + " "))
    return table


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="node home directory (default: $ORGNODE_HOME or ~/.local/share/orgnode)")
    parser = argparse.ArgumentParser(
        prog="orgnode",
        description="Run and manage an orgnode: a federated talent-referral node for your organization.",
        parents=[common],
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in GROUPS:
        group.register(sub, common)
    COMMANDS.clear()
    COMMANDS.update(command_table(parser))
    return parser


def warn_unknown_variables() -> None:
    """A stderr line per misspelt or unknown ``ORGNODE_*`` variable (node.config loaded only if one is set)."""
    if any(name.startswith("ORGNODE_") for name in os.environ):
        from node.config import unknown_env_variables, unknown_env_warning

        for name, close in unknown_env_variables():
            print(safe_text(f"orgnode: {unknown_env_warning(name, close)}", multiline=False), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # the home holds keys and personal data: nothing in it is for other users
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "run":  # `orgnode run` logs them as events (node/runtime.py)
        warn_unknown_variables()
    try:
        return int(args.func(args))
    except UserError as exc:
        # One line: the message may carry a partner's or the node's remote detail.
        print(safe_text(f"orgnode: error: {exc}", multiline=False), file=sys.stderr)
        return exc.exit_code
    except StorageFull as exc:  # an offline command (init, restore, a backup file) met a full disk
        print(safe_text(f"orgnode: error: {disk_full_message(home_of(args), exc.path)}", multiline=False), file=sys.stderr)
        return EXIT_DISK_FULL
    except KeyboardInterrupt:
        print("orgnode: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `orgnode job export ID | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("ORGNODE_DEBUG"):
            traceback.print_exc()
        print(safe_text(f"orgnode: internal error: {type(exc).__name__}: {exc} (set ORGNODE_DEBUG=1 for details)",
                        multiline=False), file=sys.stderr)
        return 70


if __name__ == "__main__":
    sys.exit(main())
