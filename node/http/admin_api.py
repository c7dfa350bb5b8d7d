"""The local admin API on a Unix socket in the node's home (mode 0600: only the node's user).

The CLI talks JSON to it for all that needs the running node; never on a TCP port, so file permissions authenticate (THREATS 19).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from node.config import Config
from node.core.disk import disk_full_message
from node.core.errors import StorageFull, UserError
from node.core.federation import Federation
from node.core.forks import clear_fork, decision_view, fork_history
from node.core.health import Health, problems
from node.core.pairing import accept_invite
from node.core.requests import (
    BackupSnapshot,
    ForkClear,
    InviteCreate,
    InviteRevoke,
    NotePost,
    PeerRef,
    RestoreDone,
    SetUrl,
    TrustAccept,
)
from node.core.restore import (
    check_view,
    finish_restore,
    lost_partnerships,
    refuse_while_pending,
    restore_reason,
    signing_paused,
)
from node.core.service import NodeService
from node.core.sync import SyncEngine
from node.core.views import changed_card_view, iso, own_statements_page, peer_view, statement_view
from node.formats.json_text import UnusableJson, loads_checked
from node.http import json_stream
from node.http.client import FederationClient
from node.http.errors import error_response
from node.http.request_waits import wait_for_own_log, wait_for_write_turn
from node.logs import log_event
from node.tls import certificate_expiry
from protocol.bodies import Note
from protocol.errors import DISK_FULL, LocalProtocolError, ProtocolError
from storage import peers as P
from storage.backup import SnapshotFailed, copy_database
from storage.foreign import foreign_statements

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
T = TypeVar("T")


@dataclass
class AdminContext:
    service: NodeService
    federation: Federation
    sync: SyncEngine
    client: FederationClient
    stop_event: asyncio.Event


CTX = web.AppKey("admin_context", AdminContext)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        await wait_for_own_log(request, request.app[CTX].federation)
        await wait_for_write_turn(request, request.app[CTX].federation)
        return await handler(request)
    except UserError as exc:
        return error_response("user-error" if exc.field else exc.code, str(exc), 400, field=exc.field)  # or peer-lacks-feature
    except StorageFull as exc:  # nothing was changed (the transaction rolled back); DiskWatch logged the episode
        return error_response(DISK_FULL, disk_full_message(request.app[CTX].service.home.path, exc.path), 507)
    except LocalProtocolError as exc:  # our bug, never the admin's or a peer's fault
        log_event("admin.bug", logging.ERROR, path=request.path, code=exc.code)
        return error_response("internal", "internal error (a protocol misuse by this node); see the node's log", 500)
    except ProtocolError as exc:  # a peer's answer or an input file the admin gave (RemoteProtocolError)
        return error_response(exc.code, exc.detail)
    except web.HTTPException:
        raise
    except Exception as exc:
        log_event("admin.error", logging.ERROR, path=request.path, error=type(exc).__name__)
        return error_response("internal", f"internal error ({type(exc).__name__}); see the node's log", 500)


def json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object, or the ``UserError`` saying why it is not one."""
    try:
        data = loads_checked(raw)
    except UnusableJson as exc:
        raise UserError(f"the request body is not usable JSON: {exc}; send one UTF-8 JSON object (the CLI and the "
                        "dashboard always do: check a script that calls the admin API directly)") from exc
    if not isinstance(data, dict):
        raise UserError("the request body must be a JSON object")
    return data


async def json_body(request: web.Request) -> dict[str, Any]:
    return json_object(await request.read())


async def read(request: web.Request, parse: Callable[[dict[str, Any]], T], *, off_loop: bool = False) -> T:
    """The request body as its typed model (node/core/requests/): the one place a body is checked.
    ``off_loop``: decode and check it in a worker thread (a CSV import's thousands of rows: pure work;
    decoding a 2,000-row body alone held the loop ~50 ms, py-spy of ``bench.import --quick``)."""
    if off_loop:
        raw = await request.read()
        return await asyncio.to_thread(lambda: parse(json_object(raw)))
    return parse(await json_body(request))


def status_info(service: NodeService, running: bool, health: Health | None = None) -> dict[str, Any]:
    """What `orgnode status` shows; ``health`` (a running node's) adds reachability, skew and the metrics URL."""
    peers = P.PeerStore(service.db)
    found = problems(service, health, service.clock())
    return {
        "node_id": service.node_id.hex(),
        "fingerprint": service.identity.fingerprint,
        "name": service.config.name,
        "sector": service.config.sector,
        "url": service.config.url,
        "listen": service.config.listen,
        "running": running,
        "statements": service.log.count(),
        "own_statements": service.log.head(service.node_id).seq,
        "trusted_peers": len(peers.trusted()),
        "outbox": peers.outbox_size(),
        "forked_authors": sorted(a.hex() for a in service.log.forked_authors()),
        "restore_pending": service.home.restored_path.exists(),
        "restore_reason": restore_reason(service.home),  # "restored" (orgnode restore) | "rolled-back" | None
        "metrics_url": health.metrics_url if health is not None else None,
        "dashboard_url": health.dashboard_url if health is not None else None,
        "problems": [p.view() for p in found],
        "tls": tls_view(service.config, service.home.path, service.clock()),
        "tls_verify": service.config.tls_verify,
        "lost_partnerships": lost_partnerships(service),
    }


def tls_view(config: Config, home: Path, now_ms: int) -> dict[str, Any]:
    """How the federation API uses TLS: served by the node itself (and until when its certificate is valid: whole
    days left by the node's clock, negative once expired), and whether partners' certificates are verified."""
    expires = certificate_expiry(config, home)
    days_left = math.floor((expires.timestamp() - now_ms / 1000) / 86_400) if expires else None
    return {"serving": config.serves_tls, "cert": config.tls_cert, "verify_peers": config.tls_verify,
            "ca_file": config.tls_ca_file, "cert_expires": expires.isoformat(timespec="seconds") if expires else None,
            "cert_days_left": days_left}


async def status(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    # ``refused_peers``: partners the last push or pull could not even talk to, and why (address, TLS certificate).
    refused = [{"node_id": node_id.hex(), "reason": reason} for node_id, reason in sorted(ctx.sync.refused.items())]
    return web.json_response({**status_info(ctx.service, running=True, health=ctx.federation.health),
                              "refused_peers": refused} | check_view(ctx.federation))


async def own_log(request: web.Request) -> web.StreamResponse:
    """Every own statement, oldest first, read and sent a page at a time (node/http/json_stream.py)."""
    service = request.app[CTX].service
    return await json_stream.json_list(request, service.home.db_path, functools.partial(own_statements_page, service.node_id))


async def stop(request: web.Request) -> web.Response:
    request.app[CTX].stop_event.set()
    return web.json_response({"stopping": True})


# --- trust ---------------------------------------------------------------------------------------


async def invite(request: web.Request) -> web.Response:
    req = await read(request, InviteCreate.from_json)
    token = request.app[CTX].federation.create_invite(req.ttl_ms, req.name, req.sector)
    return web.json_response({"token": token.encode(), "invite_id": token.invite_id.hex(), "expires_at": iso(token.expires_at),
                              "fingerprint": token.fingerprint, "expected_name": req.name, "expected_sector": req.sector})


def invite_view(service: NodeService, row: P.InviteRow, now: int) -> dict[str, Any]:
    """An invite as `invite list` shows it: never its secret, so never the token again."""
    used_by = None
    if row.used_by is not None:
        peer = P.PeerStore(service.db).get(row.used_by)
        used_by = peer_view(service, peer) if peer is not None else {"node_id": row.used_by.hex()}
    status = ("used" if row.used_at is not None else "revoked" if row.revoked_at is not None
              else "expired" if now > row.expires_at else "open")
    return {
        "invite_id": row.invite_id.hex(),
        "created": iso(row.created_at),
        "expires": iso(row.expires_at),
        "expected_name": row.expected_name,
        "expected_sector": row.expected_sector,
        "status": status,
        "used": row.used_at is not None,
        "used_at": iso(row.used_at) if row.used_at is not None else None,
        "used_by": used_by,
        "revoked_at": iso(row.revoked_at) if row.revoked_at is not None else None,
        "last_refusal": row.refused,
    }


async def invite_list(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    now = ctx.federation.clock()
    return web.json_response([invite_view(ctx.service, row, now) for row in ctx.federation.peers.invites()])


async def invite_revoke(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    row = ctx.federation.revoke_invite((await read(request, InviteRevoke.from_json)).invite_id)
    return web.json_response(invite_view(ctx.service, row, ctx.federation.clock()))


async def trust_accept(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    verified = await accept_invite(ctx.federation, ctx.client, (await read(request, TrustAccept.from_json)).token)
    peer = ctx.federation.peers.get(verified.node_id)
    assert peer is not None
    return web.json_response(peer_view(ctx.service, peer, ctx.federation.clock()))


async def trust_list(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    # ``refused``: why the node will not contact the peer's URL (not a base URL, or a private address
    # while allow_private_peers is off), from the last push or pull; None when contact is allowed.
    # ``holds_our_fork``: since when the peer answers our own statements with ``fork`` (it holds another version
    # of our log and refuses them; node/core/health.py), None otherwise.
    now = ctx.federation.clock()
    told = ctx.federation.health.told_fork
    return web.json_response([{**peer_view(ctx.service, p, now, ctx.federation.health), "refused": ctx.sync.refused.get(p.node_id),
                               "holds_our_fork": iso(told[p.node_id]) if p.node_id in told else None}
                              for p in ctx.federation.peers.all()])


def _state_change(state: str) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        ctx = request.app[CTX]
        node_id = ctx.federation.resolve_peer((await read(request, PeerRef.from_json)).node_id)
        return web.json_response(peer_view(ctx.service, ctx.federation.set_state(node_id, state), ctx.federation.clock()))

    return handler


async def trust_changed(request: web.Request) -> web.Response:
    """Organizations known only through partners whose own card changed: shown, never used for consent."""
    ctx = request.app[CTX]
    return web.json_response([changed_card_view(c) for c in ctx.federation.peers.changed_cards()])


async def trust_unblock(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    node_id = ctx.federation.resolve_peer((await read(request, PeerRef.from_json)).node_id)
    return web.json_response(peer_view(ctx.service, ctx.federation.unblock(node_id), ctx.federation.clock()))


async def trust_clear_fork(request: web.Request) -> web.Response:
    """The admin's explicit, recorded decision to clear a peer's fork evidence (node/core/forks.py)."""
    req = await read(request, ForkClear.from_json)
    federation = request.app[CTX].federation
    decision = clear_fork(federation, federation.resolve_peer(req.node_id), admin=req.admin, reason=req.reason)
    return web.json_response(decision_view(decision))


async def trust_history(request: web.Request) -> web.Response:
    """Every fork-clearing decision, or one peer's (``?node_id=``)."""
    federation = request.app[CTX].federation
    prefix = request.query.get("node_id")
    return web.json_response(fork_history(federation, federation.resolve_peer(prefix) if prefix else None))


# --- statements ----------------------------------------------------------------------------------


async def note_post(request: web.Request) -> web.Response:
    req = await read(request, NotePost.from_json)
    note = Note(req.text, req.hops)
    statement = request.app[CTX].federation.append(Note.KIND, note.to_value(), private=True)
    return web.json_response({"id": statement.id.hex(), "seq": statement.seq})


async def notes(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    out = []
    for statement in ctx.service.log.of_kind(Note.KIND):
        view = statement_view(statement)
        view["via"] = None
        view["readable"] = statement.body is not None
        out.append(view)
    for statement, via, distance in foreign_statements(ctx.service.db, Note.KIND):
        view = statement_view(statement)
        view["via"] = via.hex()
        view["distance"] = distance
        view["readable"] = True
        out.append(view)
    return web.json_response(out)


async def key_rotate(request: web.Request) -> web.Response:
    statement = request.app[CTX].federation.rotate_key()
    return web.json_response({"seq": statement.seq, "id": statement.id.hex(), "new_key": request.app[CTX].service.identity.signing_public.hex()})


async def set_url(request: web.Request) -> web.Response:
    """Move the running node: the new card is queued and pushed at once; a new listen address is
    only used after a restart (the answer says so)."""
    from node.core.moving import move, move_view
    from node.home import parse_listen

    ctx = request.app[CTX]
    req = await read(request, SetUrl.from_json)
    refuse_while_pending(ctx.federation)  # the card is an own statement: never while the gates are closed
    moved = move(ctx.service, req.url, parse_listen(req.listen) if req.listen else None)
    ctx.federation.on_outbox([p.node_id for p in ctx.federation.peers.trusted()])
    return web.json_response(move_view(moved))


async def sync_now(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    reports = await ctx.sync.pull_all()
    await ctx.sync.push_all()
    return web.json_response([{"peer": r.peer.hex(), "ok": r.ok, "appended": r.appended, "error": r.error} for r in reports])


async def backup(request: web.Request) -> web.Response:
    """Snapshot the live database into the new file ``path`` (SQLite online backup API; issue 10 item 2).

    The CLI packs it with the key files and config; the socket is the node user's only (mode 0600).
    ``path`` lies in a folder the CLI made in ``<home>/backup-staging/``: the node may run with a private
    /tmp (the generated unit's PrivateTmp=yes), so a folder of the CLI's /tmp is not the node's.
    """
    target = (await read(request, BackupSnapshot.from_json)).path
    service = request.app[CTX].service
    staging = service.home.backup_staging
    if target.parent.parent != staging:  # a folder the CLI made in the home: never anywhere a caller names
        raise UserError(f"the snapshot must be written inside {staging}/ (this node's own home)", field="path")
    if target.exists() or target.is_symlink():
        raise UserError("path already exists: give a new file name for the database snapshot", field="path")
    try:
        copy_database(service.db, target)
    except SnapshotFailed as exc:
        raise UserError(f"the node could not write its database snapshot {target} ({exc}): check that {staging} "
                        "exists and belongs to the node's user, then run `orgnode backup` again", field="path") from exc
    log_event("backup.snapshot", logging.INFO, own_seq=service.log.head(service.node_id).seq)
    return web.json_response({"own_seq": service.log.head(service.node_id).seq})


async def restore_done(request: web.Request) -> web.Response:
    """The admin's explicit, logged override of the post-restore resync (a partner gone for good)."""
    await read(request, RestoreDone.from_json)
    federation = request.app[CTX].federation
    was_pending = signing_paused(federation)
    finish_restore(federation, "override")
    return web.json_response({"was_pending": was_pending, "own_seq": federation.service.log.head(federation.me).seq})


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/status", status),
    ("GET", "/log", own_log),
    ("POST", "/stop", stop),
    ("POST", "/invite", invite),
    ("GET", "/invites", invite_list),
    ("POST", "/invite/revoke", invite_revoke),
    ("POST", "/trust/accept", trust_accept),
    ("GET", "/trust", trust_list),
    ("GET", "/trust/changed", trust_changed),
    ("POST", "/trust/remove", _state_change(P.REMOVED)),
    ("POST", "/trust/block", _state_change(P.BLOCKED)),
    ("POST", "/trust/unblock", trust_unblock),
    ("POST", "/trust/clear-fork", trust_clear_fork),
    ("GET", "/trust/history", trust_history),
    # POST /trust/approve (LAN pairing: only a pending_in peer, confirmed with it) is in node/lan/admin.py.
    ("POST", "/note", note_post),
    ("GET", "/notes", notes),
    ("POST", "/key/rotate", key_rotate),
    ("POST", "/sync", sync_now),
    ("POST", "/backup", backup),
    ("POST", "/restore/done", restore_done),
    ("POST", "/set-url", set_url),
]


def create_app(ctx: AdminContext, extra_routes: list[tuple[str, str, Handler]] | None = None) -> web.Application:
    app = web.Application(middlewares=[errors], client_max_size=4 * 1024 * 1024)
    app[CTX] = ctx
    for method, path, handler in [*ROUTES, *(extra_routes or [])]:
        app.router.add_route(method, path, handler)
    return app
