"""Sending statements to, and forwarding them for, organizations that are not direct peers.

``send`` seals statements end to end for a non-peer (``protocol.relay``) and hands the box to the
next hop: the peer a previous relay from that organization came through, or else the peer the job
in question came through (its re-sharer). ``on_appended`` forwards relays addressed to others (each
box once, ``ttl`` bounded) and delivers those addressed to us: the carried statements are verified
against the origin's card, kept as foreign statements, and handed to ``on_delivered`` hooks (the
talent exchange). Consent guards and outbound hooks run on every plaintext before it is sealed.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from node.core.errors import PartnerStatementRefused, UserError
from node.core.federation import Federation
from node.logs import log_event
from protocol.audience import Audience
from protocol.errors import OVER_QUOTA, ProtocolError
from protocol.jobs import Job
from protocol.relay import Relay, open_relay, seal_relay
from protocol.reshare import verify_reshare
from protocol.statement import Statement
from storage.relay_routes import RelayStore

RELAY_QUOTA_COUNT = 120
RELAY_QUOTA_BYTES = 8 * 1024 * 1024
RELAY_SEEN_MS = 30 * 86_400_000
RELAY_ROUTE_TTL_MS = 7 * 86_400_000  # a learnt way back to a non-partner is forgotten after a week unused


@dataclass
class Relays:
    federation: Federation
    on_delivered: list[Callable[[list[Statement], bytes], None]] = field(default_factory=list)
    _recent: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.federation.on_appended.append(self.on_appended)

    @property
    def db(self) -> Any:
        return self.federation.service.db

    @property
    def store(self) -> RelayStore:
        return RelayStore(self.federation.service.db)

    def next_hop(self, to: bytes, route: bytes) -> bytes | None:
        """The peer to hand a box for ``to`` to. The job's own path comes first: if ``to`` wrote the
        job ``route`` names, the peer that job came through (a signed re-share) is the way back, and
        no learnt route overrides it (issue 8 item 8). Only otherwise a learnt, unexpired route."""
        if self.federation.peers.is_trusted(to):
            return to
        via = self.store.job_path(route, to)
        if via is not None and self.federation.peers.is_trusted(via):
            return via
        learnt = self.store.route(to, self.federation.clock() - RELAY_ROUTE_TTL_MS)
        if learnt and self.federation.peers.is_trusted(learnt[0]):
            return learnt[0]
        return None

    def hops_to(self, to: bytes, route: bytes) -> list[bytes]:
        """Every trusted peer that is a known way to ``to`` about job ``route``, best first: the hop
        ``next_hop`` chooses, then each trusted partner whose signed ``reshare`` of ``to``'s job
        ``route`` is in our log (it holds the job, so it carries boxes about it), then each trusted
        partner that offered such a re-share whose body we never asked for (lazy re-sharing,
        docs/protocol.md 14.2: it claims to hold the job), then a learnt, verified, unexpired route. Used to re-send a withdrawal that was not acknowledged in time."""
        hops: list[bytes] = []
        first = self.next_hop(to, route)
        if first is not None:
            hops.append(first)
        roots: set[bytes] = set()
        for reshare in self.federation.service.log.of_kind("reshare"):
            if reshare.body is None or not self.federation.peers.is_trusted(reshare.author):
                continue
            try:
                root = verify_reshare(reshare).root
                if root.author == to and root.kind == Job.KIND and Job.from_value(root.body_value()).job_id == route:
                    roots.add(root.id)
                    if reshare.author not in hops:
                        hops.append(reshare.author)
            except ProtocolError:
                continue
        # Partners that offered the job's re-share but whose body we never asked for (protocol.md 14.2).
        for root_id in sorted(roots):
            for hop in self.federation.reshares.offerers_of(root_id):
                if hop not in hops and self.federation.peers.is_trusted(hop):
                    hops.append(hop)
        for hop in self.store.route(to, self.federation.clock() - RELAY_ROUTE_TTL_MS, verified_only=True):
            if hop not in hops and self.federation.peers.is_trusted(hop):
                hops.append(hop)
        return hops

    def send(self, statements: list[Statement], to: bytes, route: bytes, via: bytes | None = None) -> Statement:
        """Seal ``statements`` for ``to`` and pass them to the next hop on the trust path (or to ``via``,
        a trusted peer chosen by the caller, e.g. another path for a withdrawal not acknowledged)."""
        hop = self.next_hop(to, route) if via is None else via
        if hop is not None and not self.federation.peers.is_trusted(hop):
            hop = None
        if hop is None:
            raise UserError("no trust path to that organization: it is not a partner, and no partner passed on its job; pair with it (`orgnode invite`) or with a partner that holds its job")
        keys = self.federation.encryption_keys(to)
        if keys is None:
            raise UserError("that organization's card is unknown here, so nothing can be encrypted for it: run `orgnode sync` so it arrives through a partner")
        for statement in statements:
            if not all(guard(statement, to) for guard in self.federation.outbound_guards):
                raise UserError("consent does not allow releasing this to that organization: record a consent that covers it (`orgnode consent give`)")
            for hook in self.federation.outbound_hooks:
                assert statement.body is not None
                hook(statement.body, statement)
        relay = seal_relay(self.federation.service.identity, self.federation.service.card_bundle(), statements, to, keys, route)
        sent = self.federation.append(Relay.KIND, relay.to_value(), private=True, audience=Audience.only(hop))
        log_event("relay.sent", to=to, hop=hop, items=len(statements))
        return sent

    def on_appended(self, statements: list[Statement]) -> None:
        for statement in statements:
            if statement.kind != Relay.KIND or statement.author == self.federation.me or statement.body is None:
                continue
            relay: Relay | None = None
            try:
                relay = Relay.from_value(statement.body_value())
                self._handle(statement, relay)
            except (ProtocolError, UserError, PartnerStatementRefused) as exc:
                log_event("relay.dropped", logging.WARNING, id=statement.id, reason=getattr(exc, "code", "user-error"))
            if relay is None or relay.to == self.federation.me:
                self._discard_box(statement)

    def _discard_box(self, statement: Statement) -> None:
        """A box addressed to this node is not kept once handled, whatever the outcome (delivered,
        duplicate, over quota, off every trust path, not opening, bad content): it opens with this
        node's key, so a kept copy would be a decryptable copy of what it carried (issue 8 item 5).
        The erasure is part of the reaction's transaction; the WAL is checkpointed after it commits."""
        self.federation.service.log.erase_body(statement.id, self.federation.clock())
        self.federation.after_commit(self.federation.service.log.checkpoint_wal)

    def within_quota(self, peer: bytes, size: int, now: int) -> bool:
        """The relay quota, shared by path calls (node/core/path_calls.py): one budget per peer."""
        return self._within_quota(peer, size, now)

    def _within_quota(self, peer: bytes, size: int, now: int) -> bool:
        """At most RELAY_QUOTA_COUNT relays and RELAY_QUOTA_BYTES per hour from one peer (forwarded or delivered)."""
        window = [(t, n) for t, n in self._recent.get(peer, []) if t > now - 3_600_000]
        if len(window) >= RELAY_QUOTA_COUNT or sum(n for _, n in window) + size > RELAY_QUOTA_BYTES:
            self._recent[peer] = window
            return False
        window.append((now, size))
        self._recent[peer] = window
        return True

    def _learn_route(self, origin: bytes, hop: bytes, now: int, *, verified: bool) -> None:
        """Replies to ``origin`` go through ``hop``. A route from a box that opened and verified against
        ``origin``'s card (``verified``) replaces any other and is refreshed; one seen only while
        forwarding (the origin is then an unauthenticated claim) is kept only where no route is known,
        never replaces a verified one, and like every route expires after RELAY_ROUTE_TTL_MS."""
        if self.federation.peers.is_trusted(origin):
            return
        self.store.forget_routes_before(origin, now - RELAY_ROUTE_TTL_MS)
        if verified:
            self.store.learn_verified(origin, hop, now)
        else:
            self.store.learn_unverified(origin, hop, now)

    def _handle(self, statement: Statement, relay: Relay) -> None:
        now = self.federation.clock()
        box = hashlib.sha256(relay.sealed).digest()
        if self.store.seen(box, forget_before=now - RELAY_SEEN_MS):
            return
        # Only relays about a job this node knows are carried (that is the trust path), within a quota.
        if not self.store.knows_job(relay.route):
            raise PartnerStatementRefused("relay about a job this node does not know: not on any trust path through here", "off-path")
        if not self._within_quota(statement.author, len(relay.sealed), now):
            self.federation.peers.record(statement.author, valid=0, invalid=1, now=now, graylist_ms=60_000)
            raise PartnerStatementRefused("relay quota of this peer exceeded", "relay-quota")
        self.store.mark_seen(box, now)
        if relay.to != self.federation.me:
            hop = self.next_hop(relay.to, relay.route)
            if hop is None or hop == statement.author:
                log_event("relay.no-route", logging.WARNING, to=relay.to)
                return
            self.federation.append(Relay.KIND, relay.forwarded().to_value(), private=True, audience=Audience.only(hop))
            self._learn_route(relay.origin, statement.author, now, verified=False)
            log_event("relay.forwarded", to=relay.to, hop=hop)
            return
        delivered = open_relay(relay, self.federation.service.identity)  # the box is discarded either way
        self._learn_route(relay.origin, statement.author, now, verified=True)
        log = self.federation.service.log
        try:
            with self.db.atomic():
                # The box was opened: its ciphertext is not kept (its bytes go back to the peer's quota)
                # and what it carried is charged to the peer that delivered it instead (issue 8 item 12).
                log.erase_body(statement.id, now)
                log.keep_foreign(list(delivered.statements), via=statement.author, via_statement=statement.id, distance=0,
                                 card=delivered.origin, now=now, charge=True,
                                 vouched=False)  # the origin's own card
        except ProtocolError as exc:
            log.erase_body(statement.id, now)  # opened but not kept (over quota): no decryptable copy stays
            if exc.code == OVER_QUOTA:
                log.record_over_quota(statement.author, now)
            raise
        log_event("relay.delivered", origin=relay.origin, items=len(delivered.statements))
        for hook in self.on_delivered:
            hook(list(delivered.statements), statement.author)

