"""The ``orgnode`` command line: human output by default, ``--json`` for scripts.

This module only assembles the parser from the command groups (one module each, sharing
``node/cli/common.py``) and dispatches. A command is a function ``(args) -> int`` that its group sets
as the parser's ``func``. Errors are one line on stderr and a non-zero exit code, or with ``--json`` the
error object on stdout (docs/cli.md, "JSON conventions"); tracebacks only with ``ORGNODE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from typing import Any, NoReturn, Protocol

from node.cli import audit, backups, candidates, jobs, keys, lifecycle, partners, referrals, service, users
from node.cli.common import CommandFn, command_words, home_of
from node.core.disk import EXIT_DISK_FULL, disk_full_message
from node.core.errors import StorageFull, UserError
from node.terminal import safe_text


class CommandGroup(Protocol):
    """A command-group module: it adds its parsers (each command's carrying ``func``) to ``sub``."""

    def register(self, sub: Any, common: argparse.ArgumentParser) -> None: ...


GROUPS: tuple[CommandGroup, ...] = (lifecycle, backups, service, partners, keys, jobs, candidates, referrals, audit, users)  # in `orgnode --help` order

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


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors are the JSON error object on stdout when --json was asked
    for (``JSON_ERRORS``: set from the raw command line, as the parse that fails cannot tell us)."""

    def error(self, message: str) -> NoReturn:
        if JSON_ERRORS:
            print_error(True, "usage", f"{self.prog}: {message}", words=self.prog.removeprefix("orgnode").strip())
            raise SystemExit(2)
        super().error(message)


JSON_ERRORS = False

def print_error(as_json: bool, code: str, message: str, hint: str | None = None,
                field: str | None = None, words: str = "") -> None:
    """An error as the command line shows it: one line on stderr, or with --json the error object on
    stdout (docs/cli.md, "JSON conventions"), whose ``hint`` says what to do about this error
    (node/cli/hints.py). The exit status is the caller's, as without --json."""
    if as_json:
        from node.cli.hints import fallback_hint, hint_for

        said = hint_for(code, message, words, hint) or fallback_hint(message, words)
        body: dict[str, Any] = {"code": code, "message": message, "hint": said}
        if field:
            body["field"] = field
        print(json.dumps({"error": body}, indent=2, sort_keys=True))
        return
    prefix = "orgnode: " if code in ("interrupted", "usage") else "orgnode: internal error: " if code == "internal" else "orgnode: error: "
    print(safe_text(prefix + message, multiline=False), file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    common = Parser(add_help=False)
    common.add_argument("--home", default=argparse.SUPPRESS, help="node home directory (default: $ORGNODE_HOME or ~/.local/share/orgnode)")
    parser = Parser(
        prog="orgnode",
        description="Run and manage an orgnode: a federated talent-referral node for your organization.",
        parents=[common],
    )
    # Also before the command (`orgnode --home A --json status`): a dest of its own, since a command's
    # own --json default would overwrite it (argparse copies a subcommand's defaults over the top level's).
    parser.add_argument("--json", dest="global_json", action="store_true", help="print JSON for scripts (also after the command)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in GROUPS:
        group.register(sub, common)
    COMMANDS.clear()
    COMMANDS.update(command_table(parser))
    return parser


def wants_json(argv: list[str]) -> bool:
    """--json on the raw command line (before a ``--``): usage errors honour it before parsing ends."""
    words = argv[: argv.index("--")] if "--" in argv else argv
    return "--json" in words


def warn_unknown_variables() -> None:
    """A stderr line per misspelt or unknown ``ORGNODE_*`` variable (node.config loaded only if one is set)."""
    if any(name.startswith("ORGNODE_") for name in os.environ):
        from node.config import unknown_env_variables, unknown_env_warning

        for name, close in unknown_env_variables():
            print(safe_text(f"orgnode: {unknown_env_warning(name, close)}", multiline=False), file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    global JSON_ERRORS
    os.umask(0o077)  # the home holds keys and personal data: nothing in it is for other users
    argv = sys.argv[1:] if argv is None else argv
    JSON_ERRORS = wants_json(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "global_json", False):
        if not hasattr(args, "json"):
            parser.error(f"`orgnode {args.command}` has no JSON output: leave out --json")
        args.json = True
    if args.command != "run":  # `orgnode run` logs them as events (node/runtime.py)
        warn_unknown_variables()
    as_json = bool(getattr(args, "json", False))
    try:
        return int(args.func(args))
    except UserError as exc:
        # One line: the message may carry a partner's or the node's remote detail.
        print_error(as_json, exc.code, str(exc), exc.hint, field=exc.field, words=command_words(args))
        return exc.exit_code
    except StorageFull as exc:  # an offline command (init, restore, a backup file) met a full disk
        print_error(as_json, "disk-full", disk_full_message(home_of(args), exc.path))
        return EXIT_DISK_FULL
    except KeyboardInterrupt:
        print_error(as_json, "interrupted", "interrupted")
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `orgnode job export ID | head`): not an error of ours.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        if os.environ.get("ORGNODE_DEBUG"):
            traceback.print_exc()
        print_error(as_json, "internal", f"{type(exc).__name__}: {exc}" + ("" if as_json else " (set ORGNODE_DEBUG=1 for details)"))
        return 70


if __name__ == "__main__":
    sys.exit(main())
