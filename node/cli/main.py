"""The ``orgnode`` command line: human output by default, ``--json`` for scripts.

Each command is a function ``(args) -> int`` registered with ``command(...)``. Errors are one line
on stderr and a non-zero exit code; tracebacks only with ``ORGNODE_DEBUG=1``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from node.core.clock import system_random
from node.core.errors import NodeNotRunning, UserError
from node.home import PASSPHRASE_ENV, Config, Home, default_home, parse_listen
from node.http.admin_client import AdminClient
from node.terminal import one_line_values, safe_text
from protocol.bodies import SECTORS
from protocol.peer_url import normalise_base_url

CommandFn = Callable[[argparse.Namespace], int]


def emit(args: argparse.Namespace, data: Any, human: str | Callable[[], str]) -> None:
    """Print ``data`` as JSON with --json, else the human text with control characters escaped.

    Human text carries partners' titles, names and notes: ``safe_text`` keeps them from sending
    terminal escape sequences. JSON is exact (json.dumps escapes control characters itself).
    """
    if getattr(args, "json", False):
        print(json.dumps(data, indent=2, sort_keys=True))
    else:
        print(safe_text(human() if callable(human) else human))


def home_of(args: argparse.Namespace) -> Path:
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
    home = Home(home_of(args))
    home.require()
    return CliAdmin(AdminClient(home.admin_socket), exact=bool(getattr(args, "json", False)))


# --- commands ------------------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    from node.core.service import NodeService
    from protocol.identity import Identity

    host, port = parse_listen(args.listen)
    if not args.url and host in ("0.0.0.0", "::", ""):
        raise UserError(f"--listen {args.listen} listens on every interface: also give --url with the address partners use "
                        "(e.g. --url https://orgnode.example.org)")
    url = args.url or (f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}")
    try:  # partners refuse a card whose URL is not a plain base URL (docs/protocol.md section 12.1)
        url = normalise_base_url(url)
    except ValueError as exc:
        raise UserError(f"--url must be a base URL like https://orgnode.example.org (http(s), a host, optional port and "
                        f"path, no user name, query or fragment): {url!r} is not ({exc})") from exc
    if not args.name.strip() or len(args.name) > 200:
        raise UserError("--name must be your organization's name, 1 to 200 characters")
    home = Home(home_of(args).absolute())
    identity = Identity.from_random(system_random)
    passphrase = os.environ.get(PASSPHRASE_ENV) or None
    existed = home.path.exists()
    home.create(Config(args.name.strip(), args.sector, host, port, url, allow_private_peers=args.allow_private_peers),
                identity, passphrase)
    try:
        service = NodeService.open(home.path, passphrase)
        try:
            service.publish_org_card()
        finally:
            service.close()
    except BaseException:
        # A half-made home would be refused by the next `init` and unusable by `run`: remove it.
        import shutil

        shutil.rmtree(home.path if not existed else home.keys_dir, ignore_errors=True)
        for leftover in (home.config_path, home.db_path):
            leftover.unlink(missing_ok=True)
        raise
    data = {"home": str(home.path), "node_id": identity.node_id.hex(), "fingerprint": identity.fingerprint, "url": url}
    emit(
        args,
        data,
        f"Initialised {args.name!r} in {home.path}\n"
        f"  node id:     {identity.node_id.hex()}\n"
        f"  fingerprint: {identity.fingerprint}   (read this to partners to confirm pairing)\n"
        f"  federation:  {url}  (listening on {host}:{port})\n"
        f"  keys:        {'protected by ' + PASSPHRASE_ENV if passphrase else 'not passphrase-protected'}\n"
        f"Next: `orgnode --home {home.path} run`",
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from node import logs, runtime

    logs.configure(args.log_level)
    return runtime.run(home_of(args))


def cmd_status(args: argparse.Namespace) -> int:
    from node.core.service import NodeService
    from node.http.admin_api import status_info

    home = Home(home_of(args))
    home.require()
    client = admin(args)
    try:
        data = client.call("GET", "/status", timeout=3.0)
    except NodeNotRunning:
        service = NodeService.open(home.path)
        try:
            data = status_info(service, running=False)
        finally:
            service.close()
    forks = data.get("forked_authors") or []
    emit(
        args,
        data,
        lambda: "\n".join(
            [
                f"{data['name']} ({data['sector']})",
                f"  node id:     {data['node_id']}",
                f"  fingerprint: {data['fingerprint']}",
                f"  url:         {data['url']}",
                f"  running:     {'yes' if data['running'] else 'no (start it with `orgnode run`)'}",
                f"  statements:  {data['statements']} held, {data['own_statements']} of our own",
            ]
            + ([f"  WARNING: {len(forks)} peer(s) equivocated (forked logs): {', '.join(f[:16] for f in forks)}"] if forks else [])
        ),
    )
    return 0


def cmd_log(args: argparse.Namespace) -> int:
    from node.core.service import NodeService
    from node.core.views import statement_view

    home = Home(home_of(args))
    home.require()
    try:
        # A running node answers without needing the key passphrase again.
        entries = admin(args).call("GET", "/log", timeout=10)
    except NodeNotRunning:
        service = NodeService.open(home.path)
        try:
            entries = [statement_view(s) for s in service.own_statements()]
        finally:
            service.close()

    def human() -> str:
        lines = [f"{len(entries)} statement(s) in this node's log:"]
        for e in entries:
            lines.append(f"  #{e['seq']:<4} {e['time']}  {e['kind']:<14} {'private' if e['private'] else 'public ':<8} {e['id'][:16]}")
        return "\n".join(lines)

    emit(args, entries, human)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from node.cli.demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None, args.keep)


# --- parser --------------------------------------------------------------------------------------

COMMANDS: dict[str, CommandFn] = {}


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

    def add(name: str, fn: CommandFn, help_text: str, json_flag: bool = True) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        if json_flag:
            p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=fn)
        COMMANDS[name] = fn
        return p

    p = add("init", cmd_init, "create a node home: keys, config, database and the signed org card")
    p.add_argument("--name", required=True, help="your organization's name, as partners will see it")
    p.add_argument("--sector", required=True, choices=SECTORS, help="your organization's sector")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="address the federation API listens on")
    p.add_argument("--url", help="public URL peers use to reach this node (default: http://HOST:PORT)")
    p.add_argument("--allow-private-peers", action="store_true",
                   help="let this node contact partners at loopback, private and link-local addresses (a LAN, tests); "
                        "sets allow_private_peers in config.json")

    p = add("run", cmd_run, "run the node: federation API, admin socket and background sync", json_flag=False)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log verbosity")

    add("status", cmd_status, "show this node's identity and whether it is running")
    add("log", cmd_log, "list this node's own signed statements")

    p = add("demo", cmd_demo, "run a local three-organization federation on loopback and narrate it", json_flag=False)
    p.add_argument("--keep", action="store_true", help="leave the nodes running and print how to talk to them")
    p.add_argument("--dir", help="where to create the demo homes (default: a temporary directory, removed afterwards)")

    from node.cli import partners as cli_extensions

    cli_extensions.register(sub, common, add)
    from node.cli import talent as cli_talent

    cli_talent.register(sub, common, add)
    from node.cli import audit as cli_audit

    cli_audit.register(sub, common, add)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.umask(0o077)  # the home holds keys and personal data: nothing in it is for other users
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except UserError as exc:
        # One line: the message may carry a partner's or the node's remote detail.
        print(safe_text(f"orgnode: error: {exc}", multiline=False), file=sys.stderr)
        return exc.exit_code
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
