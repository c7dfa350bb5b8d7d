"""What a node does with its peers, independent of HTTP: trust, building and taking in batches,
serving pulls, re-sharing, and appending own statements with their audience and outbox entries
(the invites it issues are in node/core/invites.py).

The HTTP handlers (``federation_api``), the sync loops (``sync``) and the admin API all call this.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import sqlite_utils

from node.core.clock import Clock, RandomBytes, Timer, salts_from
from node.core.envelopes import Envelopes, PullClaim
from node.core.errors import UserError
from node.core.forks import resume_point
from node.core.health import Health
from node.core.ids import resolve_id
from node.core.intake import open_items, take_items
from node.core.invites import Invites
from node.core.off_loop_writes import WriteTurn
from node.core.reacting import Reacting
from node.core.reshare_offers import ReshareWants
from node.core.restore import StartCheck, note_high_water, refuse_while_pending, serve_own_recovery
from node.core.service import NodeService
from node.logs import log_event
from protocol import errors as E
from protocol.audience import Audience
from protocol.bodies import KeyRotation
from protocol.card_bundle import VerifiedCard, card_statements, encode_bundle
from protocol.errors import RemoteProtocolError
from protocol.provenance import Partnership
from protocol.statement import Statement
from protocol.sync import (
    MAX_BATCH,
    Batch,
    PullRequest,
    PushResults,
)
from storage import peers as P
from storage.cards import CardStore
from storage.log_store import LogStore
from storage.own_batch import Presigned
from storage.own_pages import log_page
from storage.peers import Peer, PeerStore
from storage.reactions import ReactionStore
from storage.reshares import ReshareStore

GRAYLIST_MS = 60_000


@dataclass
class Federation(Invites, Envelopes, Reacting):
    service: NodeService
    peers: PeerStore = field(init=False)
    reactions: ReactionStore = field(init=False)
    reshares: ReshareStore = field(init=False)
    cards: CardStore = field(init=False)
    # Called with the peer ids that have new outbox entries (the sync engine wakes their senders).
    on_outbox: Callable[[list[bytes]], None] = lambda peers: None
    _after_commit: list[Callable[[], None]] = field(default_factory=list)
    # Called with a peer id when it becomes trusted (the sync engine starts exchanging at once).
    on_trusted: Callable[[bytes], None] = lambda peer: None
    # Called after a peer's statements were appended (hooks for later subsystems).
    on_appended: list[Callable[[list[Statement]], None]] = field(default_factory=list)
    # Every plaintext body about to be sealed for a peer passes here first (canary tests hook it).
    outbound_hooks: list[Callable[[bytes, Statement], None]] = field(default_factory=list)
    # Each guard may veto releasing a statement's body to a peer (consent re-checked at release).
    outbound_guards: list[Callable[[Statement, bytes], bool]] = field(default_factory=list)
    # Work due by the clock (retries, expiry), run by the sync maintenance loop; it sleeps until the earliest.
    timers: list[Timer] = field(default_factory=list)
    health: Health = field(init=False)  # this run's counters, reachability and clock skew (node/core/health.py)
    start_check: StartCheck = field(default_factory=StartCheck)  # own appends wait for it (node/core/restore.py)
    # Peers paging through our log right now (in memory: a restart forgets them, and pushing resumes).
    pull_claims: dict[bytes, PullClaim] = field(default_factory=dict)
    pull_expected: dict[bytes, int] = field(default_factory=dict)  # peers starting up: until when (ms) their pull is awaited
    writes: WriteTurn = field(default_factory=WriteTurn)  # a transaction off the loop holds it (requests that write wait)

    def __post_init__(self) -> None:
        self.health = Health.of(self.service.config, self.clock())
        self.health.start_check = self.start_check  # status shows whom the own-log check still waits for
        self.peers = PeerStore(self.service.db)
        self.health.told_fork.update(self.peers.partner_forks())  # recorded by an earlier run
        self.reactions = ReactionStore(self.service.db)
        self.reshares = ReshareStore(self.service.db)
        self.cards = CardStore(self.service.db)
        # Held (out-of-order) statements expire on the clock, not only when the next one arrives.
        self.timers.append(Timer("held-expiry", self._expire_held, self.service.log.next_held_expiry))
        self.wants = ReshareWants(self)  # lazy re-sharing: offers taken, one offerer asked (protocol.md 14.2)

    @property
    def clock(self) -> Clock:
        """The node's clock (``NodeService.clock``): every core use case reads time here."""
        return self.service.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.service.clock = clock

    @property
    def random(self) -> RandomBytes:
        """The node's random source (``NodeService.random``): ids, salts, invite secrets, keys, jitter."""
        return self.service.random

    def _expire_held(self, now: int) -> None:
        dropped = self.service.log.expire_held(now)
        if dropped:
            log_event("held.expired", count=dropped)

    @property
    def me(self) -> bytes:
        return self.service.node_id

    # --- own statements ----------------------------------------------------------------------

    def append(self, kind: str, body: object, *, private: bool, audience: Audience | None = None) -> Statement:
        """Append an own statement and queue it for every trusted peer, in one transaction (never while
        a restore is pending: that could reuse a sequence number, node/core/restore.py)."""
        refuse_while_pending(self)
        now = self.clock()
        if private and audience is None:
            audience = Audience.all_trusted()
        trusted = [p.node_id for p in self.peers.trusted()]
        with self.service.db.atomic():
            statement = self.service.log.append_own(
                self.service.identity, kind=kind, body=body, now=now, private=private,
                salt=self.random(32) if private else None, audience=audience.encode() if audience else None)
            self.peers.enqueue(statement.id, statement.seq, trusted, now)
        note_high_water(self)  # outside the database: a copied-back old one is caught at the next start
        log_event("statement.appended", kind=kind, seq=statement.seq, id=statement.id)
        self.on_outbox(trusted)
        return statement

    def append_own_many(self, kind: str, bodies: list[object], *, private: bool,
                        audience: Audience | None = None, presigned: Presigned | None = None,
                        on: sqlite_utils.Database | None = None) -> list[Statement]:
        """``append`` for a batch of own statements of one kind (a CSV import's consent statements):
        the same rollback gates, checked once for the batch; one read of the log head and key history,
        one of the trusted peers, one ``executemany`` each for the entries and the outbox, in one
        transaction (the caller's, when it has one). The seqs are consecutive. ``presigned``: the
        bodies already signed off the event loop (``storage.own_batch.sign_own_many``), appended as they
        are if the log head is still the one they were signed on, else signed again. ``on``: the writer
        thread's own connection (node/core/off_loop_writes.py); the caller then raises the high-water
        mark after its commit and wakes the push senders (``on_outbox``) back on the loop."""
        refuse_while_pending(self)
        if not bodies:
            return []
        now = self.clock()
        if private and audience is None:
            audience = Audience.all_trusted()
        db, log, peers = (on, LogStore(on), PeerStore(on)) if on is not None else (self.service.db, self.service.log, self.peers)
        trusted = [p.node_id for p in peers.trusted()]
        salts = ([s.salt or None for s in presigned.statements] if presigned is not None
                 else salts_from(self.random, len(bodies)) if private else [None] * len(bodies))
        with db.atomic():
            statements = log.append_own_many(
                self.service.identity, kind=kind, bodies=bodies, now=now, private=private, salts=salts,
                audience=audience.encode() if audience else None, presigned=presigned)
            peers.enqueue_many([(s.id, s.seq) for s in statements], trusted, now)
        log_event("statements.appended", kind=kind, count=len(statements), first_seq=statements[0].seq,
                  last_seq=statements[-1].seq)
        if on is None:
            note_high_water(self)  # once for the batch: the head after its last statement
            self.on_outbox(trusted)
        return statements

    def rotate_key(self) -> Statement:
        """Publish a key rotation signed by the old and the new key, then sign with the new one."""
        from cryptography.hazmat.primitives.asymmetric import ed25519

        new_key = ed25519.Ed25519PrivateKey.from_private_bytes(self.random(32))
        new_public = new_key.public_key().public_bytes_raw()
        old_public = self.service.identity.signing_public
        rotation = KeyRotation(new_public, new_key.sign(KeyRotation.signed_message(self.me, old_public, new_public)))
        # Crash-safe order: the new key is on disk before the log names it, and becomes the signing
        # key file only after (NodeService.open finishes an interrupted rotation either way).
        self.service.home.stage_signing_key(new_key, self.service.passphrase.text if self.service.passphrase else None)
        statement = self.append(KeyRotation.KIND, rotation.to_value(), private=False)
        self.service.home.promote_staged_key()
        self.service.identity = self.service.identity.with_signing_key(new_key)
        log_event("key.rotated", seq=statement.seq)
        return statement

    # --- envelopes for a peer ----------------------------------------------------------------

    # --- taking in -----------------------------------------------------------------------------

    def take_batch(self, origin: bytes, batch: Batch) -> PushResults:
        """Verify and apply each item on its own (THREATS row 2); score the peer by the outcome. The items
        are opened first (pure work), then ingested all at once, or one by one if one is refused
        (node/core/intake.py)."""
        now = self.clock()
        # One transaction for the whole batch (one durable commit, not one per item); a bad item is
        # rolled back alone and recorded (THREATS row 2).
        with self.service.db.atomic():
            # Trust is decided at commit time, not when the request started: a pull still paging or a
            # push whose body was still arriving when an admin ran `trust remove`/`block` stores nothing.
            if not self.peers.is_trusted(origin):
                raise RemoteProtocolError(E.UNTRUSTED_SENDER, "this node no longer trusts the sender")
            taken = take_items(self, origin, open_items(self, origin, batch, now), now)
            self.peers.record(origin, valid=len(taken.appended), invalid=taken.invalid, now=now, graylist_ms=GRAYLIST_MS)
            # The reactions run in this same transaction (a savepoint each), so the batch, its
            # reactions and the queue of those that failed are one durable commit, made before the
            # peer is answered: acknowledged still means durable, and a crash before the commit
            # leaves nothing half done (issue 11 item 3: a commit per statement was 64% of ingest).
            actions = self._react_in_transaction(taken.appended, now, queued=False)
        self.health.took(origin, taken.appended, taken.results, now)  # after the commit: only what is stored counts
        for action in actions:
            action()
        if batch.offers:
            self.wants.batch_taken(origin, batch, [r.outcome for r in taken.results])
        return PushResults(tuple(taken.results))

    def serve_pull(self, origin: bytes, request: PullRequest, *, paged: bool = False) -> Batch:
        """Answer a pull: what follows the asker's have-entry for our own log (we serve only our own),
        or own-log recovery for a have vector naming only the asker (node/core/restore.py).
        ``paged``: the asker takes sealed pages (``OrgNode-Sealed-Pages: 1``, docs/protocol.md 13.8)."""
        if (recovery := serve_own_recovery(self, origin, request)) is not None:
            self.expect_pull(origin)  # a starting node asks for its own log first, then pulls ours
            return recovery
        page = min(MAX_BATCH, request.max_items or MAX_BATCH)  # an asker whose pulls were cut asks for less
        have = dict(request.have).get(self.me, 0)
        statements, audiences = log_page(self.service.db, self.me, have, page + 1)  # audiences read with them
        batch, ids = self.batch_for(origin, statements, page, paged=paged, audiences=audiences)
        self._pull_served(origin, have, batch, statements[len(ids) - 1].seq if ids else have)
        self.health.delivered(origin, "pull", len(ids))
        return batch

    def have_vector_for(self, peer: bytes, max_items: int | None = None) -> PullRequest:
        # after a cleared fork: after the settled positions; an asker whose pulls were cut asks for less
        return PullRequest(((peer, resume_point(self, peer)),), max_items)

    def card_bundle_of(self, author: bytes) -> bytes:
        """A direct peer's card bundle, rebuilt from its log as we hold it."""
        chosen = card_statements(self.service.log.statements(author))
        if not chosen:
            raise RemoteProtocolError(E.BAD_BODY, "no statements held for this author")
        return encode_bundle(chosen)

    # --- trust --------------------------------------------------------------------------------

    def trust(self, verified: VerifiedCard, via: str) -> Peer:
        now = self.clock()
        with self.service.db.atomic():
            peer = self._trust_in_transaction(verified, via, now)
        self._trusted(verified.node_id, via)
        return peer

    def _trust_in_transaction(self, verified: VerifiedCard, via: str, now: int) -> Peer:
        existing = self.peers.get(verified.node_id)
        peer = self.peers.upsert(verified.node_id, verified.card.url, P.TRUSTED, via, now, sector=verified.card.sector,
                                 name=verified.card.name)
        self.service.log.learn_card(verified, now)
        if existing is None or existing.state != P.TRUSTED:
            # A signed, private record of the new trust link (counted by impact reports).
            self.append(Partnership.KIND, Partnership(verified.node_id, via).to_value(), private=True, audience=Audience.only())
        return peer

    def _trusted(self, node_id: bytes, via: str) -> None:
        log_event("peer.trusted", peer=node_id, via=via)
        self.on_trusted(node_id)

    def set_state(self, node_id: bytes, state: str) -> Peer:
        peer = self.peers.get(node_id)
        if peer is None:
            raise UserError(f"no peer {node_id.hex()[:16]}… on the trust list (see `orgnode trust list`)")
        if peer.state == P.BLOCKED and state == P.REMOVED:
            raise UserError(f"peer {node_id.hex()[:16]}… is blocked, and stays blocked until you unblock it: "
                            f"`orgnode trust unblock {node_id.hex()}` (it is then removed, not trusted; re-pair to trust it again)")
        return self._set_state(node_id, state)

    def unblock(self, node_id: bytes) -> Peer:
        """An admin's explicit end of a block: the peer becomes ``removed`` (not trusted; a new pairing
        is needed to trust it again). Only a blocked peer can be unblocked."""
        peer = self.peers.get(node_id)
        if peer is None or peer.state != P.BLOCKED:
            state = "not on the trust list" if peer is None else f"not blocked (state {peer.state})"
            raise UserError(f"peer {node_id.hex()[:16]}… is {state}: only a blocked peer can be unblocked (see `orgnode trust list`)")
        return self._set_state(node_id, P.REMOVED)

    def _set_state(self, node_id: bytes, state: str) -> Peer:
        self.peers.set_state(node_id, state, self.clock())
        log_event("peer.state", peer=node_id, state=state)
        updated = self.peers.get(node_id)
        assert updated is not None
        return updated

    def resolve_peer(self, prefix: str) -> bytes:
        """A peer's node id from its hex or a unique hex prefix (at least 8 characters)."""
        node_id = resolve_id(self.service.db, prefix, "NODE_ID")
        if self.peers.get(node_id) is None:
            raise UserError(f"no peer {node_id.hex()[:16]}… on the trust list (see `orgnode trust list`)")
        return node_id
