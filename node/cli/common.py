"""What every command group shares: the admin client as the CLI uses it, output, parsing, registration.

The group modules (lifecycle, partners, jobs, candidates, referrals, audit) import this module and
nothing of each other or of ``node.cli.main``; ``main`` only assembles their parsers and dispatches.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.core.errors import UserError
from node.terminal import one_line_values, safe_text

if TYPE_CHECKING:  # imported when a command runs: `orgnode --help` needs neither (bench/startup.py)
    from node.http.admin_client import AdminClient

CommandFn = Callable[[argparse.Namespace], int]
Human = str | Callable[[], str]


# --- output --------------------------------------------------------------------------------------


def emit(args: argparse.Namespace, data: Any, human: Human) -> None:
    """Print ``data`` as JSON with --json, else the human text with control characters escaped.

    Human text carries partners' titles, names and notes: ``safe_text`` keeps them from sending
    terminal escape sequences. JSON is exact (json.dumps escapes control characters itself).
    """
    if getattr(args, "json", False):
        from node.formats.cli_json import conventions

        print(json.dumps(conventions(data, command_words(args)), indent=2, sort_keys=True))
    else:
        print(safe_text(human() if callable(human) else human))


def command_words(args: argparse.Namespace) -> str:
    """The command's words as ``orgnode`` was given them (``"referral pending"``)."""
    first = getattr(args, "command", None) or ""
    second = getattr(args, f"{first.replace('-', '_')}_command", None)
    return f"{first} {second}" if second else first


# --- the node's home and admin socket ----------------------------------------------------------------


def home_of(args: argparse.Namespace) -> Path:
    from node.home import default_home

    return Path(args.home) if getattr(args, "home", None) else default_home()


class CliAdmin:
    """The admin client as the CLI uses it: answers for human output come back with one-line values.

    Everything the admin API returns may carry partners' text; ``one_line_values`` escapes newlines
    (and other line breaks) in every string before any renderer lays out rows, so a partner's job title
    cannot forge a row. With --json the answer is passed on exactly.
    """

    def __init__(self, client: AdminClient, exact: bool) -> None:
        self.client = client
        self.exact = exact

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        result = self.client.call(method, path, body, timeout=timeout)
        return result if self.exact else one_line_values(result)


def admin(args: argparse.Namespace) -> CliAdmin:
    from node.home import Home
    from node.http.admin_client import AdminClient

    home = Home(home_of(args))
    home.require()
    return CliAdmin(AdminClient(home.admin_socket), exact=bool(getattr(args, "json", False)))


def call(args: argparse.Namespace, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    """One admin request for a command that needs nothing else of the client."""
    return admin(args).call(method, path, body, timeout=timeout)


# --- parsing -------------------------------------------------------------------------------------

DURATION = re.compile(r"^([0-9]{1,9})([smhdw])$")  # ASCII digits only: \d would take "٣"
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_duration_ms(text: str) -> int:
    match = DURATION.match(text.strip())
    if not match:
        raise UserError(f"durations look like 30m, 12h, 7d or 2w; got {text!r}")
    return int(match.group(1)) * UNIT_MS[match.group(2)]


def evidence(text: str | None) -> str:
    """``--consent-evidence``: the text itself, or the contents of the file it names (its hash is signed)."""
    if text and Path(text).is_file():
        return Path(text).read_text()
    return text or ""


# --- talent wording shared by the candidate and referral groups --------------------------------------


def when(ms: int | None) -> str:
    if ms is None:
        return "-"
    from node.core.views import INVALID_TIME, utc_datetime

    moment = utc_datetime(ms)
    return INVALID_TIME if moment is None else moment.strftime("%Y-%m-%d %H:%M UTC")


def org(name: str | None, node_id: str) -> str:
    return f"{name or 'an organization not known by name'} (node {node_id[:16]}…)"


def and_words(items: list[str]) -> str:
    """``["A", "B", "C"]`` as "A, B and C"."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def scope_words(scope: list[str], names: dict[str, str | None]) -> str:
    """A consent scope in words; ``names`` maps node ids to the names known here."""
    words = []
    for item in scope:
        if item == "all":
            words.append("any organization (trusted partners and organizations known through them)")
        elif item.startswith("sector:"):
            words.append(f"organizations of the {item[7:]} sector")
        elif item.startswith("node:"):
            words.append(f"only {org(names.get(item[5:]), item[5:])}")
        else:
            words.append(item)
    return " or ".join(words)


def withdrawal_text(d: dict[str, Any]) -> str:
    """The state of a withdrawal in words: acknowledged, or sent and not yet acknowledged (and the
    partners it was retried through, issue 8 item 8)."""
    if d["acknowledged"]:
        return "; erasure acknowledged"
    if not d["withdrawal_sent"]:
        return ""
    w = d.get("withdrawal") or {}
    vias = [v["name"] or v["id"][:16] for v in w.get("via", [])]
    if w.get("waiting_for"):
        down = w["waiting_for"]
        return f"; withdrawal waiting for {down['name'] or down['node_id'][:16]} (unreachable since {down['unreachable_since']})"
    if w.get("state") == "no-path":
        return "; withdrawal not sent yet: no partner on the way to the recipient now; it goes out as soon as there is one"
    if w.get("attempts", 1) > 1:
        return f"; withdrawal sent, not yet acknowledged, retried via {vias[-1]} ({w['attempts']} sends through {', '.join(vias)})"
    return "; withdrawal sent, not yet acknowledged" + (f" (via {vias[0]})" if vias else "")


# --- registration ----------------------------------------------------------------------------------
# A group module's ``register(sub, common)`` adds its parsers to ``sub`` (the top-level subparsers);
# every parser that runs something carries ``func``, and ``main.command_table`` finds them there.


def command(sub: Any, common: argparse.ArgumentParser, name: str, fn: CommandFn, help_text: str,
            json_flag: bool = True, description: str | None = None) -> argparse.ArgumentParser:
    """A parser that runs ``fn``: described by its help text, with --home and (usually) --json."""
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=description or help_text,
                                                parents=[common])
    if json_flag:
        json_option(p)
    p.set_defaults(func=fn)
    return p


def passphrase_option(p: argparse.ArgumentParser) -> None:
    """``--passphrase-file``: on every command that may unlock the keys (node/passphrase.py has the order)."""
    p.add_argument("--passphrase-file", metavar="FILE",
                   help="read the key passphrase from FILE (mode 0600; trailing newline ignored). Without it: "
                        "$CREDENTIALS_DIRECTORY/orgnode-passphrase (systemd), then $ORGNODE_PASSPHRASE, then a prompt")


def passphrase_file(args: argparse.Namespace) -> Path | None:
    value = getattr(args, "passphrase_file", None)
    return Path(value) if value else None


# --- long lists: one page at a time (docs/cli.md "Long lists") -------------------------------------

PAGE = 100  # node/core/requests/talent.py DEFAULT_PAGE
ALL_PAGE = 1000  # --all asks for pages this long (the node's MAX_PAGE)


def page_options(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--limit", type=int, default=PAGE, metavar="N", help=f"show at most N {what} (default {PAGE}, at most {ALL_PAGE})")
    p.add_argument("--offset", type=int, default=0, metavar="N", help=f"skip the first N {what} (the next page: --offset {PAGE})")
    p.add_argument("--all", action="store_true", help=f"show every {what[:-1]}, fetched page by page")


@dataclass(frozen=True)
class Listed:
    """A page of a long list as the CLI got it: its items and whether more follow."""

    items: list[Any]
    more: bool
    next_offset: int


def fetch_pages(args: argparse.Namespace, fetch: Callable[[int, int], list[Any]]) -> Listed:
    """The items ``--limit/--offset/--all`` select; ``fetch(limit, offset)`` is one admin call. After a
    full page, one item past it is asked for, to know whether more follow without counting them all."""
    if args.all:
        items: list[Any] = []
        while len(page := fetch(ALL_PAGE, args.offset + len(items))) == ALL_PAGE:
            items += page
        return Listed(items + page, False, 0)
    if not 1 <= args.limit <= ALL_PAGE:
        raise UserError(f"--limit must be 1 to {ALL_PAGE} (use --all for every one)")
    if args.offset < 0:
        raise UserError("--offset must be 0 or more")
    page = fetch(args.limit, args.offset)
    more = len(page) == args.limit and bool(fetch(1, args.offset + args.limit))
    return Listed(page, more, args.offset + args.limit)


def more_hint(listed: Listed, what: str) -> str:
    """The line under a cut list: how to see the rest."""
    return (f"(more {what} follow: `--offset {listed.next_offset}` shows the next page, `--all` every one)"
            if listed.more else "")


def emit_page(args: argparse.Namespace, listed: Listed, what: str, human: Human) -> None:
    """Print a page: JSON stays a plain list of the items (the hint goes to stderr), the human text
    ends with the hint."""
    import sys

    if getattr(args, "json", False):
        emit(args, listed.items, human)
        if listed.more:
            print(f"orgnode: {more_hint(listed, what)}", file=sys.stderr)
        return
    text = human() if callable(human) else human
    emit(args, None, "\n".join(t for t in (text, more_hint(listed, what)) if t))


def json_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON for scripts")


def group(sub: Any, common: argparse.ArgumentParser, name: str, help_text: str, description: str | None = None) -> Any:
    """A command group (``orgnode job …``): returns the subparsers its actions are added to."""
    parser = sub.add_parser(name, help=help_text, description=description or help_text, parents=[common])
    inner = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
    inner.required = True
    return inner
