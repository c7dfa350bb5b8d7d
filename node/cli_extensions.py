"""CLI commands of the federation: invites, the trust list, notes, key rotation and sync.

They all talk to the running node over the admin socket (``node/admin_api.py``).
"""

from __future__ import annotations

import argparse
import re
from typing import Any

from node.errors import UserError

DURATION = re.compile(r"^(\d+)([smhdw])$")
UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 7 * 86_400_000}


def parse_duration_ms(text: str) -> int:
    match = DURATION.match(text.strip())
    if not match:
        raise UserError(f"durations look like 30m, 12h, 7d or 2w; got {text!r}")
    return int(match.group(1)) * UNIT_MS[match.group(2)]


def _cli() -> Any:
    from node import cli

    return cli


def cmd_invite(args: argparse.Namespace) -> int:
    cli = _cli()
    data = cli.admin(args).call("POST", "/invite", {"ttl_ms": parse_duration_ms(args.expires)})
    cli.emit(
        args,
        {"token": data["token"], "expires_at": data["expires_at"]},
        f"Invite token (single use, valid until {data['expires_at']}):\n\n{data['token']}\n\n"
        f"Send it to the partner's admin over a channel you trust; they run `orgnode trust accept TOKEN`.\n"
        f"When you talk, confirm this node's fingerprint: {data['fingerprint']}",
    )
    return 0


def _peer_summary(lead: str, peer: dict[str, Any], confirm: bool = True) -> str:
    return (f"{lead} {peer['name']} ({peer['sector']}) at {peer['url']}\n"
            f"  node id:     {peer['node_id']}\n  fingerprint: {peer['fingerprint']}" + ("  (confirm it with them)" if confirm else ""))


def cmd_trust_accept(args: argparse.Namespace) -> int:
    cli = _cli()
    peer = cli.admin(args).call("POST", "/trust/accept", {"token": args.token}, timeout=60)
    cli.emit(args, peer, _peer_summary("Now trusting", peer))
    return 0


def _peer_lines(peers: list[dict[str, Any]], pending_only: bool = False) -> str:
    if not peers and pending_only:
        return "No pairing requests are waiting for approval."
    if not peers:
        return "The trust list is empty: `orgnode invite` makes an invite for a partner."
    lines = [f"{'NODE ID':<18} {'STATE':<12} {'NAME':<26} {'SECTOR':<18} {'FINGERPRINT':<25} {'SCORE':>6}  URL"]
    for p in peers:
        flags = (" THROTTLED" if p["throttled"] else "") + (" FORKED" if p["forked"] else "")
        flags += " OVER-QUOTA" if p.get("over_quota") else ""
        flags += " ADDRESS-REFUSED" if p.get("refused") else ""
        if p.get("declared_sector") and p["declared_sector"] != p["sector"]:
            flags += f" NOW-CLAIMS-{p['declared_sector'].upper()}"
        lines.append(f"{p['node_id'][:16]:<18} {p['state']:<12} {(p['name'] or '?')[:26]:<26} {(p['sector'] or '?'):<18} "
                     f"{p['fingerprint']:<25} {p['score']:>6}  {p['url']}{flags}")
    lines.extend(f"  {p['node_id'][:16]}: {p['refused']}" for p in peers if p.get("refused"))
    return "\n".join(lines)


def cmd_trust_list(args: argparse.Namespace) -> int:
    cli = _cli()
    peers = cli.admin(args).call("GET", "/trust")
    if getattr(args, "pending_only", False):
        peers = [p for p in peers if p["state"] == "pending_in"]
    cli.emit(args, peers, lambda: _peer_lines(peers, getattr(args, "pending_only", False)))
    return 0


def _state_command(path: str, verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        cli = _cli()
        peer = cli.admin(args).call("POST", path, {"node_id": args.node_id})
        cli.emit(args, peer, f"{peer['name'] or peer['node_id'][:16]}: {verb} (state {peer['state']})")
        return 0

    return run


# --- LAN discovery and pairing by request ------------------------------------------------------


def cmd_discover(args: argparse.Namespace) -> int:
    import asyncio

    from zeroconf import InterfaceChoice

    from node.discovery import browse_once

    if not 0.5 <= args.seconds <= 60:
        raise UserError("--seconds must be between 0.5 and 60")
    interfaces = [args.interface] if args.interface else InterfaceChoice.All
    found = asyncio.run(browse_once(interfaces, args.seconds))
    nodes = [f.view() for f in found]

    def human() -> str:
        if not nodes:
            return (f"No orgnode nodes announced on the LAN within {args.seconds:g} s "
                    "(nodes announce themselves while `orgnode run` runs, unless lan_discovery or lan_advertise is off).")
        lines = [f"{'NAME':<26} {'FINGERPRINT':<25} {'NODE ID':<18} URL"]
        for n in nodes:
            lines.append(f"{str(n['name'])[:26]:<26} {n['fingerprint']:<25} {str(n['node_id'])[:16]:<18} {n['url']}")
        lines.append("Announcements are unverified hints: compare the fingerprint with the partner before "
                     "`orgnode trust request NODE_ID`.")
        return "\n".join(lines)

    cli = _cli()
    cli.emit(args, nodes, human)
    return 0


def cmd_trust_request(args: argparse.Namespace) -> int:
    cli = _cli()
    peer = cli.admin(args).call("POST", "/trust/request", {"node_id": args.node_id, "seconds": args.seconds}, timeout=args.seconds + 60)
    cli.emit(args, peer, f"Asked {peer['name']} ({peer['sector']}) at {peer['url']} to pair: {peer['note']}\n"
                         f"  node id:     {peer['node_id']}\n  fingerprint: {peer['fingerprint']}  (confirm it with them)")
    return 0


def cmd_trust_approve(args: argparse.Namespace) -> int:
    cli = _cli()
    peer = cli.admin(args).call("POST", "/trust/approve", {"node_id": args.node_id}, timeout=60)
    cli.emit(args, peer, _peer_summary("Now trusting", peer, confirm=False))
    return 0


def cmd_note_post(args: argparse.Namespace) -> int:
    cli = _cli()
    data = cli.admin(args).call("POST", "/note", {"text": args.text, "hops": args.hops})
    cli.emit(args, data, f"Posted note #{data['seq']} ({data['id'][:16]}…) to trusted peers, hops={args.hops}")
    return 0


def cmd_note_list(args: argparse.Namespace) -> int:
    cli = _cli()
    notes = cli.admin(args).call("GET", "/notes")

    def human() -> str:
        lines = [f"{len(notes)} note(s):"]
        for n in notes:
            via = f" via {n['via'][:16]}" if n.get("via") else ""
            text = n["body"]["text"] if n.get("body") else "(not readable here)"
            lines.append(f"  {n['time']}  from {n['author'][:16]}{via}: {text}")
        return "\n".join(lines)

    cli.emit(args, notes, human)
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    cli = _cli()
    data = cli.admin(args).call("POST", "/key/rotate", {})
    cli.emit(args, data, f"Signing key rotated (statement #{data['seq']}); new key {data['new_key'][:16]}…\n"
                         "Peers accept statements under the new key once they have this rotation; "
                         "old statements still verify under the old key.")
    return 0


SYNC_ERRORS = {
    "untrusted-sender": "the partner does not trust this node any more (it removed or blocked it)",
    "stale": "the two clocks differ by more than 5 minutes: fix the system clock (NTP)",
    "rate-limited": "the partner is throttling this node; it recovers by itself",
    "unknown-key": "the partner does not know this node's current key yet (it learns a rotation on its next pull)",
    "bad-signature": "the partner could not verify this node's request signature (a key rotation it has not seen yet?)",
}


def cmd_sync(args: argparse.Namespace) -> int:
    cli = _cli()
    if not args.json:
        print("Pulling from every trusted peer…", flush=True)
    reports = cli.admin(args).call("POST", "/sync", {}, timeout=300)

    def human() -> str:
        lines = []
        for r in reports:
            why = SYNC_ERRORS.get(str(r["error"]), str(r["error"]))
            lines.append(f"  {r['peer'][:16]}  {'ok' if r['ok'] else 'FAILED: ' + why}  ({r['appended']} new)")
        return "\n".join(lines) or "  no trusted peers"

    cli.emit(args, reports, human)
    return 0 if all(r["ok"] for r in reports) else 1


def register(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    p = add("invite", cmd_invite, "make a one-time invite token for a partner organization")
    p.add_argument("--expires", default="7d", help="how long the invite stays valid (e.g. 30m, 12h, 7d; default 7d)")

    trust = sub.add_parser("trust", help="manage the trust list (the partners this node exchanges with)",
                           description="manage the trust list", parents=[common])
    tsub = trust.add_subparsers(dest="trust_command", metavar="ACTION")
    tsub.required = True

    def tadd(name: str, fn: Any, help_text: str) -> argparse.ArgumentParser:
        q: argparse.ArgumentParser = tsub.add_parser(name, help=help_text, description=help_text, parents=[common])
        q.add_argument("--json", action="store_true", help="print JSON for scripts")
        q.set_defaults(func=fn)
        from node.cli import COMMANDS

        COMMANDS[f"trust {name}"] = fn
        return q

    q = tadd("accept", cmd_trust_accept, "accept an invite token: contact the inviter and trust each other")
    q.add_argument("token", help="the token from `orgnode invite` on the partner's node")
    tadd("list", cmd_trust_list, "list peers with their state, fingerprint and score")
    q = tadd("pending", cmd_trust_list, "list LAN pairing requests waiting for your approval")
    q.set_defaults(pending_only=True)
    for name, path, verb, text in [
        ("remove", "/trust/remove", "removed", "stop trusting a peer (refused at once; re-pair to trust again)"),
        ("block", "/trust/block", "blocked", "block a peer: refuse everything from it, including new pairing, until unblocked"),
        ("unblock", "/trust/unblock", "unblocked", "end a block: the peer is then removed, not trusted (re-pair to trust it again)"),
    ]:
        q = tadd(name, _state_command(path, verb), text)
        q.add_argument("node_id", help="the peer's node id (or its first 8+ hex characters)")
    q = tadd("request", cmd_trust_request, "ask a node found by `orgnode discover` to pair; its admin approves")
    q.add_argument("node_id", help="the node id from `orgnode discover` (or its first 8+ hex characters)")
    q.add_argument("--seconds", type=float, default=3.0, help="how long to look for it on the LAN (default 3)")
    q = tadd("approve", cmd_trust_approve, "approve a pending LAN pairing request after comparing fingerprints")
    q.add_argument("node_id", help="the requesting node's id from `orgnode trust pending` (or its first 8+ hex characters)")

    note = sub.add_parser("note", help="post and list short notes (exercises sync before jobs exist)",
                          description="post and list short private notes to trusted peers", parents=[common])
    nsub = note.add_subparsers(dest="note_command", metavar="ACTION")
    nsub.required = True
    q = nsub.add_parser("post", help="post a note to trusted peers", description="post a note to trusted peers", parents=[common])
    q.add_argument("text")
    q.add_argument("--hops", type=int, default=1, help="how far it may be re-shared (1 = direct peers only)")
    q.add_argument("--json", action="store_true", help="print JSON for scripts")
    q.set_defaults(func=cmd_note_post)
    q = nsub.add_parser("list", help="list notes received and sent", description="list notes", parents=[common])
    q.add_argument("--json", action="store_true", help="print JSON for scripts")
    q.set_defaults(func=cmd_note_list)

    key = sub.add_parser("key", help="manage this node's keys", description="manage this node's keys", parents=[common])
    ksub = key.add_subparsers(dest="key_command", metavar="ACTION")
    ksub.required = True
    q = ksub.add_parser("rotate", help="replace the signing key (peers follow via a signed rotation)",
                        description="replace the signing key", parents=[common])
    q.add_argument("--json", action="store_true", help="print JSON for scripts")
    q.set_defaults(func=cmd_key_rotate)

    add("sync", cmd_sync, "pull from every trusted peer now and report")

    p = add("discover", cmd_discover, "list orgnode nodes announced on the LAN (mDNS); trusts and contacts nothing")
    p.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default 3)")
    p.add_argument("--interface", metavar="ADDRESS", help="IP address of the interface to listen on (default: all IPv4 interfaces)")

    from node.cli import COMMANDS

    COMMANDS.update({"note post": cmd_note_post, "note list": cmd_note_list, "key rotate": cmd_key_rotate})
