"""Calls along the trust path (protocol/path_call.py, docs/protocol.md 17.7): passing a sealed call on
to the next hop, answering one addressed to us, and placing one.

A relaying node checks only what a relay box lets it check (it holds the job the call names, the next
hop is its own trusted partner, the sender is within the relay quota) and passes the sealed call and
the sealed reply on unchanged: it stores nothing of either (no statement, no route, no box), so its
files hold no trace of what was asked or answered. The operations a holder answers are registered by
the use cases (``ops``: ``match`` by node/core/path_match.py, ``proofs`` by node/core/path_proofs.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.core.errors import PeerUnavailable
from node.core.federation import Federation
from node.core.relay import Relays
from node.formats.json_text import loads_or_none
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import VerifiedCard
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.path_call import (
    MAX_HOLDERS,
    MAX_PATH_TTL,
    Holder,
    Holders,
    HoldersQuery,
    PathCall,
    PathReply,
    open_call,
    open_reply,
    seal_call,
    seal_reply,
)
from storage.key_histories import vouched_history

if TYPE_CHECKING:
    from node.http.client import FederationClient

CALL_PATH = "/federation/v1/path/call"
HOLDERS_PATH = "/federation/v1/path/holders"
HOP_TIMEOUT = 8.0  # seconds a hop waits for the next one (the asker's own deadline is shorter or equal)
HOLDERS_REUSE_MS = 60_000  # a holders answer found by asking partners is reused this long (see PathCalls.holders)
HOLDERS_CACHE_SIZE = 256

Op = Callable[[bytes, bytes], Awaitable[bytes]]  # (origin, content) -> reply content


def _detail(body: bytes) -> str:
    """The refusal's detail from a hop's error body, printable and short: each hop prefixes its own, so the
    asker sees which step refused (e.g. the holder's ``job-not-held``), never more than 300 characters."""
    value = loads_or_none(body)
    detail = value.get("detail") if isinstance(value, dict) else None
    return ": " + "".join(ch for ch in str(detail) if ch.isprintable())[:300] if detail else ""


def simple_path(path: tuple[bytes, ...]) -> bool:
    """True if no node appears twice on ``path`` (a path round a cycle of partners is never a way to a holder)."""
    return len(set(path)) == len(path)


@dataclass
class PathCalls:
    relays: Relays
    client: FederationClient | None = None
    ops: dict[str, Op] = field(default_factory=dict)
    _asking: set[bytes] = field(default_factory=set)  # job statements whose holders we are asking partners about
    _found: dict[bytes, tuple[int, int, tuple[Holder, ...]]] = field(default_factory=dict)  # job: (when, ttl, found)

    @property
    def federation(self) -> Federation:
        return self.relays.federation

    def origin_key(self, origin: bytes) -> bytes:
        """The asker's current signing key: from its log if a partner, else from the card a partner vouched for."""
        history = self.federation.service.log.key_history(origin) or vouched_history(self.federation.service.db, origin)
        if history is None:
            raise RemoteProtocolError(E.UNKNOWN_KEY, "the calling organization's keys are not known here")
        return history.current_key

    # --- relaying and answering ---------------------------------------------------------------

    async def handle(self, sender: bytes, call: PathCall) -> PathReply:
        """A call from the trusted peer ``sender``: answer it if it is for us, else pass it on."""
        if not self.relays.store.knows_job(call.route):
            raise RemoteProtocolError(E.JOB_NOT_HELD, "path call about a job this node does not hold: not on its trust path")
        if not self.relays.within_quota(sender, len(call.sealed), self.federation.clock()):
            raise RemoteProtocolError(E.RATE_LIMITED, "path call quota of this peer exceeded; retry in an hour")
        if call.to == self.federation.me:
            return await self._answer(call)
        return await self._forward(sender, call)

    async def _answer(self, call: PathCall) -> PathReply:
        opened = open_call(call, self.federation.service.identity, self.origin_key(call.origin))
        keys = self.federation.encryption_keys(call.origin)
        if keys is None:
            raise RemoteProtocolError(E.UNKNOWN_KEY, "the calling organization's card is not known here")
        op = self.ops.get(opened.op)
        if op is None:
            raise RemoteProtocolError(E.MALFORMED, f"this node does not answer path calls with op {opened.op!r}")
        content = await op(call.origin, opened.content)
        log_event("path.answered", op=opened.op, origin=call.origin)
        return seal_reply(self.federation.service.identity, call, keys, content)

    async def _forward(self, sender: bytes, call: PathCall) -> PathReply:
        hop = call.path[0] if call.path else self.relays.next_hop(call.to, call.route)
        if hop is None or hop == sender or not self.federation.peers.is_trusted(hop):
            raise RemoteProtocolError(E.PATH_UNREACHABLE, "no trusted partner here leads on towards that organization")
        reply = await self._post(hop, CALL_PATH, call.forwarded().encode())
        log_event("path.forwarded", hop=hop, to=call.to)
        return PathReply.decode(reply)

    async def _post(self, hop: bytes, path: str, body: bytes) -> bytes:
        peer = self.federation.peers.get(hop)
        if peer is None or self.client is None:
            raise RemoteProtocolError(E.PATH_UNREACHABLE, "the next hop is not a partner of this node")
        try:
            answer = await asyncio.wait_for(self.client.post(peer.url, path, hop, body), HOP_TIMEOUT)
        except (PeerUnavailable, TimeoutError) as exc:
            raise RemoteProtocolError(E.PATH_UNREACHABLE, "the next hop did not answer in time") from exc
        if answer.status != 200:
            raise RemoteProtocolError(E.PATH_UNREACHABLE, f"the next hop answered {answer.error_code or answer.status}"
                                      + _detail(answer.body))
        return bytes(answer.body)

    # --- who holds a job through our re-shares -------------------------------------------------

    async def holders(self, sender: bytes, query: HoldersQuery) -> Holders:
        """Our partners our re-share of the job reached (not ``sender``, not the author), and, within
        ``ttl``, theirs: each with its self-signed card and the path from us to it.

        Partners are asked at most once per job every HOLDERS_REUSE_MS, unless with a larger ttl (the
        answer is reused, cut to the ttl, without paths through the new sender), and not at all while we are asking them already (a query
        come back around a cycle of partners gets our partners only): one query costs each node one round
        of asking, never one per path through a clique. Holders queries count against the sender's relay
        quota. A path through us or through a node twice is dropped."""
        now = self.federation.clock()
        if not self.relays.within_quota(sender, 0, now):
            raise RemoteProtocolError(E.RATE_LIMITED, "path call quota of this peer exceeded; retry in an hour")
        job = self.federation.service.log.find(query.job_statement)
        if job is None or not self.federation.reshares.has(query.job_statement) or query.ttl < 1:
            return Holders(())
        skip = {sender, job.author, self.federation.me}
        key = query.job_statement
        reused = self._found.get(key)
        if reused is not None and now - reused[0] < HOLDERS_REUSE_MS and query.ttl <= reused[1]:
            return Holders(tuple(h for h in reused[2] if skip.isdisjoint(h.path[1:]) and len(h.path) <= query.ttl + 1)
                           [:MAX_HOLDERS])
        ask_beyond = query.ttl > 1 and key not in self._asking
        found: dict[bytes, Holder] = {}
        self._asking.add(key)
        try:
            for peer in self.federation.peers.trusted():
                if peer.node_id in skip:
                    continue
                try:
                    found.setdefault(peer.node_id, Holder(self.federation.card_bundle_of(peer.node_id), (self.federation.me, peer.node_id)))
                except ProtocolError:
                    continue  # nothing of its log held yet
                if ask_beyond:
                    for holder in await self._holders_beyond(peer.node_id, query):
                        if skip.isdisjoint(holder.path[1:]):
                            found.setdefault(holder.path[-1], holder)
        finally:
            if ask_beyond:
                self._asking.discard(key)
        if ask_beyond:
            self._remember(key, now, query.ttl, tuple(found.values()))
        return Holders(tuple(found.values())[:MAX_HOLDERS])

    def _remember(self, key: bytes, now: int, ttl: int, found: tuple[Holder, ...]) -> None:
        self._found.pop(key, None)
        self._found[key] = (now, ttl, found)
        while len(self._found) > HOLDERS_CACHE_SIZE:
            del self._found[next(iter(self._found))]  # the oldest

    async def _holders_beyond(self, peer: bytes, query: HoldersQuery) -> list[Holder]:
        try:
            raw = await self._post(peer, HOLDERS_PATH, HoldersQuery(query.job_statement, query.ttl - 1).encode())
            return [Holder(h.card_bundle, (self.federation.me, *h.path)) for h in Holders.decode(raw).holders
                    if len(h.path) < MAX_PATH_TTL and h.path[0] == peer and simple_path(h.path)]
        except ProtocolError as exc:
            log_event("path.holders-failed", logging.INFO, peer=peer, code=exc.code)
            return []

    # --- placing a call ----------------------------------------------------------------------

    async def call(self, to: VerifiedCard, route: bytes, path: tuple[bytes, ...], op: str, content: bytes) -> bytes:
        """Call ``to`` through ``path`` (our partner first; empty: by the job's own path) and return the
        reply's content once it opened and verified against ``to``'s card."""
        first = path[0] if path else self.relays.next_hop(to.node_id, route)
        if first is None:
            raise RemoteProtocolError(E.PATH_UNREACHABLE, "no trust path to that organization")
        call = seal_call(self.federation.service.identity, to.node_id, to.card.encryption, route, tuple(path[1:]), op, content,
                         ttl=max(len(path) - 1, 0) if path else MAX_PATH_TTL - 1)
        reply = PathReply.decode(await self._post(first, CALL_PATH, call.encode()))
        return open_reply(reply, call, self.federation.service.identity, to.history.current_key)
