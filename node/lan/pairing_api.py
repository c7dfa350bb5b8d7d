"""Federation endpoints for pairing by request/approval on a LAN (docs/protocol.md, "LAN discovery and pairing by request").

``POST /federation/v1/pair-request`` (body ``LanPairRequest``): a node an admin chose from LAN
discovery asks to pair. The request is signed with the key from the enclosed card bundle, which
must name the signer. The sender becomes ``pending_in`` with its verified card; nothing else
happens until an admin approves. A blocked sender is refused; a trusted one is answered "trusted".

``POST /federation/v1/pair-confirm`` (body ``LanPairConfirm``): the node we asked approved; it is
accepted only if we hold that node as ``pending_out`` (or already trust it: a retried confirm),
and then both sides trust each other.

They are only served while ``lan_discovery`` is on (``node/lan/admin.py`` ``install``).

Both endpoints accept unauthenticated-by-trust senders, so they share one global token bucket and a
cap on the number of pending requests: a LAN host cannot flood the pending list or burn CPU on
signature checks (THREATS row 20).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from node.core.clock import now_ms
from node.core.federation import Federation
from node.core.limits import TokenBucket
from node.http.client import literal_address_problem
from node.http.federation_api import STATE, Handler
from node.lan.discovery import lan_url_problem
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import RemoteProtocolError
from protocol.lan_pairing import ANSWER_PENDING, ANSWER_TRUSTED, LanPairAnswer, LanPairConfirm, LanPairRequest
from protocol.request_auth import parse_header, verify_request
from storage import peers as P

PAIR_REQUEST_PATH = "/federation/v1/pair-request"
PAIR_CONFIRM_PATH = "/federation/v1/pair-confirm"
MSGPACK = "application/msgpack"
MAX_PENDING_IN = 32
MAX_PENDING_PER_SOURCE = 4  # waiting requests from one source address
PENDING_TTL_MS = 24 * 3_600_000
UNKNOWN_SOURCE = "(requested before this node started)"  # never a real remote address
PAIRING_RATE = 0.5  # pairing requests per second, sustained, for the whole node
PAIRING_BURST = 10.0


@dataclass
class LanPairingEndpoints:
    federation: Federation
    allow_loopback: bool
    allow_private: bool = False  # config ``allow_private_peers``: may a requester's card URL be a non-public IP?
    bucket: TokenBucket = field(default_factory=lambda: TokenBucket(PAIRING_RATE, PAIRING_BURST))
    by_source: dict[str, set[bytes]] = field(default_factory=dict)  # source address -> node ids it has waiting

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", PAIR_REQUEST_PATH, self.pair_request), ("POST", PAIR_CONFIRM_PATH, self.pair_confirm)]

    async def _verified(self, request: web.Request, decode: Callable[[bytes], Any]) -> VerifiedCard:
        """Rate limit, then check the request is signed by the node the enclosed card bundle names."""
        if not self.bucket.take(time.monotonic()):
            raise RemoteProtocolError(E.RATE_LIMITED, "too many pairing requests on this node; try again in a minute")
        state = request.app[STATE]
        auth = parse_header(request.headers.get("Authorization"))
        body = await request.read()
        verified = verify_bundle(decode(body).card_bundle, expected_node_id=auth.origin)
        now = now_ms()  # the request's receive time: signed timestamps are judged on the wall clock
        verify_request(auth, method=request.method, path=request.path, body=body, me=self.federation.me,
                       origin_key=verified.history.current_key, now=now)
        state.pairing_seen.check_and_add(auth, now)  # strangers: not the trusted peers' replay cache
        if auth.origin == self.federation.me:
            raise RemoteProtocolError(E.WRONG_AUTHOR, "a node cannot pair with itself")
        problem = lan_url_problem(verified.card.url, self.allow_loopback) or literal_address_problem(verified.card.url, self.allow_private)
        if problem:
            raise RemoteProtocolError(E.BAD_BODY, f"the sender's org card URL cannot be contacted from here ({problem})")
        return verified

    async def pair_request(self, request: web.Request) -> web.Response:
        verified = await self._verified(request, LanPairRequest.decode)
        federation = self.federation
        origin = verified.node_id
        existing = federation.peers.get(origin)
        if existing is not None and existing.state == P.BLOCKED:
            raise RemoteProtocolError(E.UNTRUSTED_SENDER, "this node is blocked here")
        if existing is not None and existing.state == P.TRUSTED:
            return web.Response(body=LanPairAnswer(ANSWER_TRUSTED).encode(), content_type=MSGPACK)
        now = federation.clock()
        waiting = existing is not None and existing.state == P.PENDING_IN and existing.updated_at >= now - PENDING_TTL_MS
        if not waiting:
            self._check_slots(request.remote or "", now)
        # A re-sent request keeps the time of the first one: resending cannot hold a slot past its lapse.
        first_seen = existing.updated_at if waiting and existing is not None else now
        with federation.service.db.atomic():
            federation.service.log.learn_card(verified, now)
            federation.peers.upsert(origin, verified.card.url, P.PENDING_IN, "lan", first_seen)
        self.by_source.setdefault(request.remote or "", set()).add(origin)
        log_event("peer.pair-requested", peer=origin)
        return web.Response(body=LanPairAnswer(ANSWER_PENDING).encode(), content_type=MSGPACK)

    def _check_slots(self, source: str, now: int) -> None:
        """Lapse day-old requests, refuse a new one if this address's slots are full, and make room
        when the node's are: the oldest request of the address holding the most is dropped, if that
        address would still hold more than the newcomer's (max-min fairness, docs/protocol.md §12.6).

        The per-address cap keeps one LAN host (with as many keys as it likes) from taking every
        slot; the eviction keeps a host with several addresses (aliases, IPv6 privacy addresses)
        from locking out a neighbour, and cannot be turned against that neighbour's single request.
        """
        federation = self.federation
        pending = [p for p in federation.peers.all() if p.state == P.PENDING_IN]
        for stale in (p for p in pending if p.updated_at < now - PENDING_TTL_MS):
            federation.peers.set_state(stale.node_id, P.REMOVED, now)
        live = {p.node_id: p.updated_at for p in pending if p.updated_at >= now - PENDING_TTL_MS}
        holders = self._holders(set(live))
        mine = holders.get(source, set())
        if len(mine) >= MAX_PENDING_PER_SOURCE:
            raise RemoteProtocolError(
                E.RATE_LIMITED, f"this address already has {MAX_PENDING_PER_SOURCE} pairing requests waiting for the admin")
        if len(live) < MAX_PENDING_IN:
            return
        biggest = max(holders, key=lambda src: (len(holders[src]), -min(live[n] for n in holders[src])))
        if len(holders[biggest]) <= len(mine) + 1:
            raise RemoteProtocolError(E.RATE_LIMITED, "too many pairing requests are waiting for this node's admin")
        oldest = min(holders[biggest], key=lambda n: live[n])
        federation.peers.set_state(oldest, P.REMOVED, now)
        self.by_source.get(biggest, set()).discard(oldest)
        log_event("peer.pair-request-dropped", peer=oldest)

    def _holders(self, live: set[bytes]) -> dict[str, set[bytes]]:
        """Live pending requests by source address. Requests whose source is not known (made before
        this process started: ``by_source`` is kept in memory) count as one source of their own."""
        holders = {src: ids & live for src, ids in self.by_source.items() if ids & live}
        self.by_source = {src: set(ids) for src, ids in holders.items()}
        unknown = live.difference(*holders.values())
        if unknown:
            holders[UNKNOWN_SOURCE] = unknown
        return holders

    async def pair_confirm(self, request: web.Request) -> web.Response:
        verified = await self._verified(request, LanPairConfirm.decode)
        federation = self.federation
        existing = federation.peers.get(verified.node_id)
        if existing is None or existing.state not in (P.PENDING_OUT, P.TRUSTED):
            raise RemoteProtocolError(E.UNTRUSTED_SENDER, "this node did not ask to pair with the sender")
        if existing.state == P.PENDING_OUT:
            # Our admin asked to pair having seen the card then served; a different one now is not
            # what the admin chose (its consent sector would be unconfirmed): refused, nothing trusted.
            if federation.peers.declared_card(verified.node_id) != (verified.card.name, verified.card.sector):
                raise RemoteProtocolError(E.CARD_MISMATCH, "the approving node's org card is not the one this node's admin "
                                                           "saw when asking to pair: ask again")
            federation.trust(verified, via="lan")
        request.app[STATE].on_contact(verified.node_id)
        return web.Response(body=federation.service.card_bundle(), content_type=MSGPACK)
