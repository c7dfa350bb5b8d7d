"""The commands of a node's own life: ``init``, ``run``, ``status``, ``log`` and the ``demo``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.cli.common import admin, command, emit, home_of, passphrase_file, passphrase_option
from node.core.clock import system_random
from node.core.errors import NodeNotRunning, UserError
from protocol.bodies import SECTORS
from protocol.peer_url import normalise_base_url


def cmd_init(args: argparse.Namespace) -> int:
    from node.core.service import NodeService
    from node.home import Config, Home, parse_listen
    from node.passphrase import init_passphrase
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
    passphrase = init_passphrase(passphrase_file(args))
    existed = home.path.exists()
    home.create(Config(args.name.strip(), args.sector, host, port, url, allow_private_peers=args.allow_private_peers),
                identity, passphrase.text if passphrase else None)
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
        f"  keys:        {'protected by the passphrase from ' + passphrase.source if passphrase else 'not passphrase-protected (add one with `orgnode key passphrase`)'}\n"
        f"Next: `orgnode --home {home.path} run`",
    )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from node import hardening, logs, runtime

    logs.configure(args.log_level)
    hardening.disable_core_dumps()  # before the keys are unlocked
    return runtime.run(home_of(args), passphrase_file(args))


def cmd_status(args: argparse.Namespace) -> int:
    from node.home import Home
    from node.terminal import one_line_values

    home = Home(home_of(args))
    home.require()
    client = admin(args)
    try:
        data = client.call("GET", "/status", timeout=3.0)
    except NodeNotRunning:
        from node.core.service import NodeService  # only when the node is down: these import aiohttp
        from node.http.admin_api import status_info

        service = NodeService.open(home.path, passphrase_file=passphrase_file(args))
        try:
            data = status_info(service, running=False)
        finally:
            service.close()
        if not getattr(args, "json", False):
            data = one_line_values(data)  # partners' names in problems: one line each, like the admin API's answers
    emit(args, data, lambda: status_text(data))
    return 0


def status_text(data: dict[str, Any]) -> str:
    """The human status: identity, then one line per problem (what, since when, what to do). Every warning
    is an entry of ``problems`` (node/core/problems.py), so the text, ``--json`` and the metric agree."""
    problems = data.get("problems") or []
    lines = [
        f"{data['name']} ({data['sector']})",
        f"  node id:     {data['node_id']}",
        f"  fingerprint: {data['fingerprint']}",
        f"  url:         {data['url']}",
        f"  running:     {'yes' if data['running'] else 'no (start it with `orgnode run`)'}",
        f"  records:     {data['statements']} signed records held, {data['own_statements']} of our own",
    ]
    lines.append(_tls_line(data))
    if data.get("metrics_url"):
        lines.append(f"  metrics:     {data['metrics_url']}")
    if data.get("dashboard_url"):
        lines.append(f"  dashboard:   {data['dashboard_url']}  (sign in with an account from `orgnode user add`)")
    if problems:
        lines.append(f"  {len(problems)} problem(s):")
        lines += [f"  - {p['detail']}{'' if p['since'] in p['detail'] else ' (since ' + p['since'] + ')'}: {p['action']}"
                  for p in problems]
    elif data["running"]:
        lines.append("  no problems found")
    else:
        lines.append("  no problems found in the database, disk and config (reachability and clock skew are known "
                     "only while the node runs)")
    return "\n".join(lines)


def _tls_line(data: dict[str, Any]) -> str:
    """How TLS is used (an expiring certificate or tls_verify = false are problems, shown with the others)."""
    tls = data.get("tls") or {}
    serving = f"HTTPS served by this node ({tls.get('cert')})" if tls.get("serving") else "plain HTTP (TLS, if any, by a proxy)"
    return f"  tls:         {serving}; partners' certificates {'verified' if tls.get('verify_peers', True) else 'NOT verified'}"


# What each kind of log entry is, for people (the kind's protocol name stays in --json and docs/protocol.md).
KIND_WORDS = {
    "org_card": "organization card", "key_rotation": "signing key change", "note": "note to partners",
    "job": "job", "reshare": "job passed on", "consent": "candidate consent", "consent_withdrawal": "consent withdrawal",
    "erasure_receipt": "erasure receipt", "referral_request": "referral request", "referral_profile": "candidate profile",
    "referral": "referral", "referral_status": "referral progress", "relay": "message passed along",
    "checkpoint": "checkpoint (summary of the log)", "witness": "partner's countersignature", "partnership": "partnership",
    "impact_report": "impact report",
}


def cmd_log(args: argparse.Namespace) -> int:
    from node.core.service import NodeService
    from node.core.views import statement_view
    from node.home import Home

    home = Home(home_of(args))
    home.require()
    try:
        # A running node answers without needing the key passphrase again.
        entries = admin(args).call("GET", "/log", timeout=10)
    except NodeNotRunning:
        service = NodeService.open(home.path, passphrase_file=passphrase_file(args))
        try:
            entries = [statement_view(s) for s in service.own_statements()]
        finally:
            service.close()

    def human() -> str:
        count = "1 entry" if len(entries) == 1 else f"{len(entries)} entries"
        lines = [f"{count} in this node's log (each signed by this organization), oldest first:"]
        for e in entries:
            what = KIND_WORDS.get(e["kind"], e["kind"].replace("_", " "))
            shown = "encrypted for the partners it is for" if e["private"] else "public"
            lines.append(f"  #{e['seq']:<4} {e['time']}  {what:<28} {shown:<37} {e['id'][:16]}")
        return "\n".join(lines)

    emit(args, entries, human)
    return 0


def cmd_set_url(args: argparse.Namespace) -> int:
    """Move the node: new URL (and listen address) in the config and in a new signed org card."""
    from node.core.moving import move, move_view
    from node.core.service import NodeService
    from node.home import Home, parse_listen

    home = Home(home_of(args))
    home.require()
    listen = parse_listen(args.listen) if args.listen else None
    try:  # a running node publishes and pushes the card itself
        data = admin(args).call("POST", "/set-url", {"url": args.url, "listen": args.listen}, timeout=10)
        running = True
    except NodeNotRunning:
        service = NodeService.open(home.path, passphrase_file=passphrase_file(args))
        try:
            data = move_view(move(service, args.url, listen))
        finally:
            service.close()
        running = False
    if data["listen_changed"]:
        restart = (f"The listen address changed to {data['listen']}: restart the node (stop it, then `orgnode run`) "
                   "so it listens there.")
    else:
        restart = "The node already uses it." if running else "Start the node with `orgnode run`."
    emit(args, data, f"This node's URL is now {data['url']} (signed org card #{data['card_seq']}).\n"
                     f"Partners switch to it when they receive the card from this node.\n{restart}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from node.cli.demo import run_demo

    return run_demo(Path(args.dir) if args.dir else None, args.keep)


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(sub, common, "init", cmd_init, "create a node home: keys, config, database and the signed org card")
    p.add_argument("--name", required=True, help="your organization's name, as partners will see it")
    p.add_argument("--sector", required=True, choices=SECTORS, help="your organization's sector")
    p.add_argument("--listen", required=True, metavar="HOST:PORT", help="address the federation API listens on")
    p.add_argument("--url", help="public URL peers use to reach this node (default: http://HOST:PORT)")
    p.add_argument("--allow-private-peers", action="store_true",
                   help="let this node contact partners at loopback, private and link-local addresses (a LAN, tests); "
                        "sets allow_private_peers in config.toml")
    p.add_argument("--passphrase-file", metavar="FILE",
                   help="encrypt the keys with the passphrase in FILE (mode 0600; default: $ORGNODE_PASSPHRASE, else not encrypted)")

    p = command(sub, common, "run", cmd_run, "run the node: federation API, admin socket and background sync", json_flag=False)
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"], help="log verbosity")
    passphrase_option(p)

    passphrase_option(command(sub, common, "status", cmd_status, "show this node's identity, whether it is running, "
                              "its metrics URL and what is wrong (unreachable partners, clock skew, disk space, forks, "
                              "quotas)"))
    passphrase_option(command(sub, common, "log", cmd_log, "list the entries of this node's own signed log"))

    p = command(sub, common, "set-url", cmd_set_url, "move the node: publish a signed org card with a new URL (and listen address)")
    p.add_argument("url", metavar="URL", help="the base URL partners reach this node at from now on, e.g. https://orgnode.example.org")
    p.add_argument("--listen", metavar="HOST:PORT", help="also change the address the federation API listens on (restart to apply)")
    passphrase_option(p)

    p = command(sub, common, "demo", cmd_demo, "run a local three-organization federation on loopback and narrate it",
                json_flag=False)
    p.add_argument("--keep", action="store_true", help="leave the nodes running and print how to talk to them")
    p.add_argument("--dir", help="where to create the demo homes (default: a temporary directory, removed afterwards)")
