"""CLI commands of the federation: invites, the trust list, notes and sync.

They all talk to the running node over the admin socket (``node/http/admin_api.py``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any
from urllib.parse import quote

from node.cli.common import (
    admin,
    command,
    emit,
    group,
    json_option,
    parse_duration_ms,
    when,
)
from node.core.errors import UserError
from node.terminal import safe_text
from protocol.bodies import SECTORS


def cmd_invite(args: argparse.Namespace) -> int:
    # Stored (and shown in `invite list`) whitespace-normalised: "  acme   LOGISTICS " is "acme LOGISTICS".
    name = " ".join(args.name.split()) if args.name is not None else None
    if args.name is not None and not name:
        raise UserError("--name must be the partner organization's name (it is empty); leave it out to accept any name")
    data = admin(args).call("POST", "/invite", {"ttl_ms": parse_duration_ms(args.expires), "name": name,
                                                    "sector": args.sector})
    expects = ""
    if data.get("expected_name") or data.get("expected_sector"):
        expects = (f"Only {data.get('expected_name') or 'an organization'}"
                   f"{' (' + data['expected_sector'] + ')' if data.get('expected_sector') else ''} can use it: "
                   "a node whose card says otherwise is refused.\n")
    warning = _invite_warning(data.get("expected_name"), data.get("expected_sector"), data["invite_id"])
    emit(
        args,
        {**{k: data[k] for k in ("token", "invite_id", "expires_at", "expected_name", "expected_sector")}, "warning": warning},
        f"Invite token (single use, valid until {data['expires_at']}; id {data['invite_id'][:16]}):\n\n{data['token']}\n\n"
        f"{expects}{'WARNING: ' + warning + chr(10) if warning else ''}"
        f"Send it to the partner's admin over a channel you trust; they run `orgnode trust accept TOKEN`.\n"
        f"When you talk, confirm this node's fingerprint: {data['fingerprint']}\n"
        f"Once it is used, `orgnode invite list` shows who used it (name, sector, fingerprint).",
    )
    return 0


def _invite_warning(name: str | None, sector: str | None, invite_id: str) -> str | None:
    """An invite that does not say whom it is for makes whoever redeems it a partner *confirmed* with
    the name and sector its own card declares (what consent scopes are judged against): say so."""
    if sector is None and name is not None:
        return (f"this invite does not say the organization's sector: {name} becomes a partner confirmed with the "
                "sector its own card declares, and sector:… consent scopes are judged against that. Recommended: "
                f"revoke it (`orgnode invite revoke {invite_id}`) and make one with --sector too.")
    if sector is None:
        return ("this invite does not say which organization it is for: whoever uses it becomes a partner confirmed "
                "with the sector its own card declares, and sector:… consent scopes are judged against that. "
                f"Recommended: revoke it (`orgnode invite revoke {invite_id}`) and make one with --sector (and --name), e.g. "
                "`orgnode invite --name \"Open Hands\" --sector nonprofit`.")
    if name is None:
        return ("this invite does not say the organization's name: any organization whose card says sector "
                f"{sector} can use it. Recommended: also give --name.")
    return None


def _invite_line(i: dict[str, Any]) -> str:
    expected = " ".join(x for x in (i["expected_name"] and repr(i["expected_name"]), i["expected_sector"]) if x) or "anyone"
    who = ""
    if i["used_by"]:
        u = i["used_by"]
        who = f"  by {u.get('name') or '?'} ({u.get('sector') or '?'}) {u.get('fingerprint', u['node_id'][:16])}"
    refused = f"  last refused: {i['last_refusal']}" if i["last_refusal"] and not i["used"] else ""
    return f"{i['invite_id'][:16]:<18} {i['status']:<8} {i['created']:<21} {i['expires']:<21} {expected[:40]:<40}{who}{refused}"


def cmd_invite_list(args: argparse.Namespace) -> int:
    invites = admin(args).call("GET", "/invites")

    def human() -> str:
        if not invites:
            return "No invites: `orgnode invite` makes one."
        head = f"{'INVITE ID':<18} {'STATUS':<8} {'CREATED':<21} {'EXPIRES':<21} {'FOR':<40}"
        return "\n".join([head, *(_invite_line(i) for i in invites),
                          "Tokens are shown only once, when made; `orgnode invite revoke ID` cancels an open one."])

    emit(args, invites, human)
    return 0


def cmd_invite_revoke(args: argparse.Namespace) -> int:
    data = admin(args).call("POST", "/invite/revoke", {"invite_id": args.invite_id})
    emit(args, data, f"Invite {data['invite_id'][:16]} revoked: a node that presents it is refused.")
    return 0


def _peer_summary(lead: str, peer: dict[str, Any], confirm: bool = True) -> str:
    return (f"{lead} {peer['name']} ({peer['sector']}) at {peer['url']}\n"
            f"  node id:     {peer['node_id']}\n  fingerprint: {peer['fingerprint']}" + ("  (confirm it with them)" if confirm else ""))


def cmd_trust_accept(args: argparse.Namespace) -> int:
    peer = admin(args).call("POST", "/trust/accept", {"token": args.token}, timeout=60)
    emit(args, peer, _peer_summary("Now trusting", peer))
    return 0


def _card_flags(p: dict[str, Any]) -> str:
    """What a peer's own card says, where that is not what consent is judged against."""
    declared_name, declared_sector = p.get("declared_name"), p.get("declared_sector")
    if not p.get("consent_sector"):
        return f" CLAIMS-{declared_sector.upper()}" if declared_sector else ""
    flags = f" NOW-CLAIMS-{declared_sector.upper()}" if declared_sector and declared_sector != p["consent_sector"] else ""
    if declared_name and p.get("consent_name") and declared_name != p["consent_name"]:
        flags += f" NOW-CALLS-ITSELF-{declared_name[:26]!r}"
    return flags


CARD_NOTE = ("CLAIMS/NOW-CLAIMS/NOW-CALLS-ITSELF: what the organization's own card says, which is not used for consent: "
             "consent is judged only against the CONSENT SECTOR (confirmed by an admin here when trusting it, or "
             "vouched for by a partner at first sight). To confirm a new card, pair with it again (invite or LAN approval).")


def _consent_text(p: dict[str, Any]) -> str:
    """The CONSENT SECTOR cell: the sector consent is judged against and how it was established."""
    return f"{p['consent_sector']} ({p['consent_basis']})" if p.get("consent_sector") else "none (unconfirmed)"


def _peer_lines(peers: list[dict[str, Any]], pending_only: bool = False, changed: list[dict[str, Any]] | None = None) -> str:
    if not peers and pending_only:
        return "No pairing requests are waiting for approval."
    if not peers and not changed:
        return "The trust list is empty: `orgnode invite` makes an invite for a partner."
    consents = [_consent_text(p) for p in peers] + [c["consent_sector"] + " (vouched)" for c in changed or []]
    w = max(len("CONSENT SECTOR"), *(len(c) for c in consents))  # the column fits its longest value
    lines = [f"{'NODE ID':<18} {'STATE':<12} {'NAME':<26} {'CONSENT SECTOR':<{w}} {'FINGERPRINT':<25} {'SCORE':>6}  URL"]
    noted = False
    for p in peers:
        flags = (" THROTTLED" if p["throttled"] else "") + (" FORKED" if p["forked"] else "")
        flags += " OVER-QUOTA" if p.get("over_quota") else ""
        flags += " HOLDS-OUR-FORK" if p.get("holds_our_fork") else ""
        flags += (" TLS-REFUSED" if "TLS" in p["refused"] else " ADDRESS-REFUSED") if p.get("refused") else ""
        card = _card_flags(p)
        noted = noted or bool(card)
        name = p.get("consent_name") or p["name"] or "?"
        lines.append(f"{p['node_id'][:16]:<18} {p['state']:<12} {name[:26]:<26} {_consent_text(p):<{w}} "
                     f"{p['fingerprint']:<25} {p['score']:>6}  {p['url']}{flags}{card}")
    lines.extend(f"  {p['node_id'][:16]}: {p['refused']}" for p in peers if p.get("refused"))
    if changed:
        lines.append("Known only through partners, with a changed card:")
        for c in changed:
            lines.append(f"{c['node_id'][:16]:<18} {'via-partner':<12} {c['consent_name'][:26]:<26} "
                         f"{c['consent_sector'] + ' (vouched)':<{w}} {c['fingerprint']:<25} {'':>6}  "
                         f"vouched by {c['vouched_by'][:16]}{_card_flags(c)}")
        noted = True
    if noted:
        lines.append(CARD_NOTE)
    return "\n".join(lines)


def cmd_trust_list(args: argparse.Namespace) -> int:
    client = admin(args)
    peers = client.call("GET", "/trust")
    pending_only = getattr(args, "pending_only", False)
    if pending_only:
        peers = [p for p in peers if p["state"] == "pending_in"]
    changed = [] if pending_only or getattr(args, "json", False) else client.call("GET", "/trust/changed")
    emit(args, peers, lambda: _peer_lines(peers, pending_only, changed))
    return 0


def cmd_trust_changed(args: argparse.Namespace) -> int:
    changed = admin(args).call("GET", "/trust/changed")
    human = (lambda: _peer_lines([], changed=changed)) if changed else (
        "No organization known through partners has changed its card since it was vouched for.")
    emit(args, changed, human)
    return 0


def _state_command(path: str, verb: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        peer = admin(args).call("POST", path, {"node_id": args.node_id})
        emit(args, peer, f"{peer['name'] or peer['node_id'][:16]}: {verb} (state {peer['state']})")
        return 0

    return run


def _confirm_clear_fork(args: argparse.Namespace, peer: dict[str, Any]) -> None:
    """Clearing fork evidence is the admin's decision: ask on the terminal, or require --yes."""
    if args.yes:
        return
    if args.json or not sys.stdin.isatty():
        raise UserError("clearing fork evidence needs your explicit confirmation and there is no terminal to ask on: "
                        "run it again with --yes")
    print(safe_text(f"{peer.get('name') or peer['node_id'][:16]} ({peer['node_id'][:16]}) signed two different records "
                    "for one position of its log. Clearing keeps the branch this node holds, archives the evidence, and "
                    "accepts its records again after the highest position seen on either branch."))
    if input("Type 'clear' to confirm: ").strip().lower() != "clear":
        raise UserError("fork evidence not cleared (confirmation not given)")


def cmd_trust_clear_fork(args: argparse.Namespace) -> int:
    client = admin(args)
    peer = next((p for p in client.call("GET", "/trust") if p["node_id"].startswith(args.node_id.lower())), None)
    if peer is None:
        raise UserError(f"no peer {args.node_id} on the trust list (see `orgnode trust list`)")
    if not peer["forked"]:
        raise UserError("this peer has no fork evidence to clear (see `orgnode trust list`)")
    _confirm_clear_fork(args, peer)
    data = client.call("POST", "/trust/clear-fork", {"node_id": peer["node_id"], "reason": args.reason,
                                                     "admin": getpass.getuser(), "confirmed": True})
    emit(args, data, f"Fork evidence of {peer.get('name') or peer['node_id'][:16]} cleared (decision {data['decision']}, "
                     f"{len(data['evidence'])} record(s) archived); its records after position {data['resume_after']} "
                     "are accepted again. `orgnode trust history` shows the decision.")
    return 0


def cmd_trust_history(args: argparse.Namespace) -> int:
    path = "/trust/history" + (f"?node_id={quote(args.node_id)}" if args.node_id else "")
    decisions = admin(args).call("GET", path)

    def human() -> str:
        if not decisions:
            return "No fork evidence was ever cleared here."
        return "\n".join(
            f"decision {d['decision']}: {d['node_id'][:16]} cleared {when(d['decided_at'])} by {d['admin']}: {d['reason']!r}\n"
            f"  accepted again after position {d['resume_after']}; archived evidence: "
            + ", ".join(f"#{e['seq']} {e['id'][:16]}" for e in d["evidence"]) for d in decisions)

    emit(args, decisions, human)
    return 0


# --- LAN discovery and pairing by request ------------------------------------------------------


def cmd_discover(args: argparse.Namespace) -> int:
    import asyncio

    from zeroconf import InterfaceChoice

    from node.lan.discovery import browse_once

    if not 0.5 <= args.seconds <= 60:
        raise UserError("--seconds must be between 0.5 and 60")
    interfaces = [args.interface] if args.interface else InterfaceChoice.All
    found = asyncio.run(browse_once(interfaces, args.seconds))
    nodes = [f.view() for f in found]

    emit(args, nodes, lambda: discover_lines(nodes, args.seconds))
    return 0


def discover_lines(nodes: list[dict[str, Any]], seconds: float) -> str:
    """``discover``'s table, ending with the next command (the node id filled in when one was found)."""
    if not nodes:
        return (f"No orgnode nodes announced on the LAN within {seconds:g} s "
                "(nodes announce themselves while `orgnode run` runs, unless lan_discovery or lan_advertise is off).")
    lines = [f"{'NAME':<26} {'FINGERPRINT':<25} {'NODE ID':<18} URL"]
    for n in nodes:
        lines.append(f"{str(n['name'])[:26]:<26} {n['fingerprint']:<25} {str(n['node_id'])[:16]:<18} {n['url']}")
    target = str(nodes[0]["node_id"]) if len(nodes) == 1 else "NODE_ID"  # the one node found, ready to copy
    lines.append("Announcements are unverified hints: compare the fingerprint with the partner before "
                 f"`orgnode trust request {target}`.")
    return "\n".join(lines)


def cmd_trust_request(args: argparse.Namespace) -> int:
    peer = admin(args).call("POST", "/trust/request", {"node_id": args.node_id, "seconds": args.seconds}, timeout=args.seconds + 60)
    emit(args, peer, f"Asked {peer['name']} ({peer['sector']}) at {peer['url']} to pair: {peer['note']}\n"
                         f"  node id:     {peer['node_id']}\n  fingerprint: {peer['fingerprint']}  (confirm it with them)")
    return 0


def cmd_trust_approve(args: argparse.Namespace) -> int:
    peer = admin(args).call("POST", "/trust/approve", {"node_id": args.node_id}, timeout=60)
    emit(args, peer, _peer_summary("Now trusting", peer, confirm=False))
    return 0


def cmd_note_post(args: argparse.Namespace) -> int:
    data = admin(args).call("POST", "/note", {"text": args.text, "hops": args.hops})
    emit(args, data, f"Posted note #{data['seq']} ({data['id'][:16]}…) to your partners"
                     + (f" and up to {args.hops - 1} step(s) beyond them" if args.hops > 1 else ""))
    return 0


def cmd_note_list(args: argparse.Namespace) -> int:
    notes = admin(args).call("GET", "/notes")

    def human() -> str:
        lines = [f"{len(notes)} note(s):"]
        for n in notes:
            via = f" via {n['via'][:16]}" if n.get("via") else ""
            text = n["body"]["text"] if n.get("body") else "(not readable here)"
            lines.append(f"  {n['time']}  from {n['author'][:16]}{via}: {text}")
        return "\n".join(lines)

    emit(args, notes, human)
    return 0


SYNC_ERRORS = {
    "untrusted-sender": "the partner does not trust this node any more (it removed or blocked it)",
    "stale": "the two clocks differ by more than 5 minutes: fix the system clock (NTP)",
    "rate-limited": "the partner is throttling this node; it recovers by itself",
    "unknown-key": "the partner does not know this node's current key yet (it learns a rotation on its next pull)",
    "bad-signature": "the partner could not verify this node's request signature (after a key rotation it reads our new key from our card at our URL: check that it can reach this node)",
}


def cmd_sync(args: argparse.Namespace) -> int:
    if not args.json:
        print("Pulling from every trusted peer…", flush=True)
    reports = admin(args).call("POST", "/sync", {}, timeout=300)

    def human() -> str:
        lines = []
        for r in reports:
            why = SYNC_ERRORS.get(str(r["error"]), str(r["error"]))
            lines.append(f"  {r['peer'][:16]}  {'ok' if r['ok'] else 'FAILED: ' + why}  ({r['appended']} new)")
        return "\n".join(lines) or "  no trusted peers"

    emit(args, reports, human)
    return 0 if all(r["ok"] for r in reports) else 1


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    _register_invite(sub, common)
    _register_trust(sub, common)
    _register_notes(sub, common)
    command(sub, common, "sync", cmd_sync, "pull from every trusted peer now and report")
    p = command(sub, common, "discover", cmd_discover, "list orgnode nodes announced on the LAN (mDNS); trusts and contacts nothing")
    p.add_argument("--seconds", type=float, default=3.0, help="how long to listen (default 3)")
    p.add_argument("--interface", metavar="ADDRESS", help="IP address of the interface to listen on (default: all IPv4 interfaces)")


def _register_invite(sub: Any, common: argparse.ArgumentParser) -> None:
    """``invite`` runs by itself and also has actions (``invite list``, ``invite revoke``)."""
    p = command(sub, common, "invite", cmd_invite,
                "make a one-time invite token for a partner organization (see also: invite list, invite revoke)")
    p.add_argument("--expires", default="7d", help="how long the invite stays valid (e.g. 30m, 12h, 7d; default 7d)")
    p.add_argument("--name", help="the partner organization's name as you expect its card to say it (others are refused)")
    p.add_argument("--sector", choices=SECTORS, help="the partner's sector as you expect it (what consent scopes are judged against)")
    isub = p.add_subparsers(dest="ACTION", metavar="[ACTION]")
    isub.required = False
    command(isub, common, "list", cmd_invite_list,
            "list the invites this node made: open, used (and by whom), revoked or expired; never their tokens")
    q = command(isub, common, "revoke", cmd_invite_revoke, "revoke an open invite: a node that presents it is refused")
    q.add_argument("invite_id", help="the invite id from `orgnode invite list` (or its first 8+ hex characters)")


TRUST_STATES = [
    ("remove", "/trust/remove", "removed", "stop trusting a peer (refused at once; re-pair to trust again)"),
    ("block", "/trust/block", "blocked", "block a peer: refuse everything from it, including new pairing, until unblocked"),
    ("unblock", "/trust/unblock", "unblocked", "end a block: the peer is then removed, not trusted (re-pair to trust it again)"),
]


def _register_trust(sub: Any, common: argparse.ArgumentParser) -> None:
    tsub = group(sub, common, "trust", "manage the trust list (the partners this node exchanges with)",
                 description="manage the trust list")
    q = command(tsub, common, "accept", cmd_trust_accept, "accept an invite token: contact the inviter and trust each other")
    q.add_argument("token", help="the token from `orgnode invite` on the partner's node")
    command(tsub, common, "list", cmd_trust_list, "list peers with their state, fingerprint and score")
    command(tsub, common, "changed", cmd_trust_changed,
            "list organizations known only through partners whose own card changed (not used for consent)")
    q = command(tsub, common, "pending", cmd_trust_list, "list LAN pairing requests waiting for your approval")
    q.set_defaults(pending_only=True)
    for name, path, verb, text in TRUST_STATES:
        q = command(tsub, common, name, _state_command(path, verb), text)
        q.add_argument("node_id", help="the peer's node id (or its first 8+ hex characters)")
    q = command(tsub, common, "clear-fork", cmd_trust_clear_fork,
                "clear a peer's fork evidence by your explicit, recorded decision (the evidence is archived)")
    q.add_argument("node_id", help="the forked peer's node id (or its first 8+ hex characters)")
    q.add_argument("--reason", required=True, help="why you clear it (recorded with the decision, shown by `trust history`)")
    q.add_argument("--yes", action="store_true", help="confirm without a prompt (needed when there is no terminal)")
    q = command(tsub, common, "history", cmd_trust_history, "list the decisions that cleared fork evidence (who, when, why, what)")
    q.add_argument("node_id", nargs="?", help="only this peer's decisions (its node id or first 8+ hex characters)")
    q = command(tsub, common, "request", cmd_trust_request, "ask a node found by `orgnode discover` to pair; its admin approves")
    q.add_argument("node_id", help="the node id from `orgnode discover` (or its first 8+ hex characters)")
    q.add_argument("--seconds", type=float, default=3.0, help="how long to look for it on the LAN (default 3)")
    q = command(tsub, common, "approve", cmd_trust_approve, "approve a pending LAN pairing request after comparing fingerprints")
    q.add_argument("node_id", help="the requesting node's id from `orgnode trust pending` (or its first 8+ hex characters)")


def _register_notes(sub: Any, common: argparse.ArgumentParser) -> None:
    nsub = group(sub, common, "note", "post and list short notes (exercises sync before jobs exist)",
                 description="post and list short private notes to trusted peers")
    q = command(nsub, common, "post", cmd_note_post, "post a note to trusted peers", json_flag=False)
    q.add_argument("text")
    q.add_argument("--hops", type=int, default=1, help="how far it may be re-shared (1 = direct peers only)")
    json_option(q)
    command(nsub, common, "list", cmd_note_list, "list notes received and sent", description="list notes")
