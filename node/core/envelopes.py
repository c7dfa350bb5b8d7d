"""What a peer is sent and how a received batch's sealed bodies are opened: envelopes (plain,
sealed on their own, or header-only with the body in a sealed page, docs/protocol.md 13.8), batches,
and the claim a paging pull holds on the peer's backlog (so the push sender does not seal it twice).
A mixin of ``Federation``: it uses the federation's service, peers, cards, guards and hooks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.core.reshare_offers import offer_for
from protocol import errors as E
from protocol.audience import Audience
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys
from protocol.page_seal import PAGE_ID_LEN, PAGE_SECRET_LEN, PageOpener, open_page, seal_page
from protocol.reshare_want import FEATURE, Offer
from protocol.sealing import body_plaintext, seal_statement_body, with_opened_body
from protocol.statement import Envelope, SealedContent, Statement
from protocol.sync import MAX_BATCH, MAX_BATCH_BYTES, Batch, PullRequest

if TYPE_CHECKING:
    from node.core.clock import Clock, RandomBytes
    from node.core.service import NodeService
    from storage.cards import CardStore
    from storage.peers import PeerStore

# How long a pull answered with ``more`` claims the peer's backlog from our push sender (ms): the
# puller is expected back at once for the next page; if it vanishes, pushing resumes after this.
PULL_CLAIM_MS = 5_000
# How long a peer that asked for its own log back (own-log recovery: what a node does first when it
# starts) is expected to pull ours next (ms). Its request also woke our push sender (contact); without
# this hold the sender pushed the backlog while the reader pulled it, sealing it twice.
PULL_EXPECTED_MS = 3_000


class _Unread:
    """The audience was not read with the statement: look it up."""


UNREAD = _Unread()


def _admits_for(peer: bytes) -> Callable[[str | None], bool]:
    """Whether a stored audience admits ``peer``, each distinct audience decoded once."""
    @functools.lru_cache(maxsize=32)
    def admits(audience: str | None) -> bool:
        return audience is not None and Audience.decode(audience).admits(peer)
    return admits


@dataclass(frozen=True, slots=True)
class PullClaim:
    """A peer is paging through our log: the last page we served ended at ``through`` (our seq), and
    it is expected back for the next one before ``until`` (node clock, ms)."""

    through: int
    until: int


class Envelopes:
    """Building what a peer is sent, and opening sealed pages received."""

    service: NodeService
    peers: PeerStore
    cards: CardStore
    outbound_hooks: list[Callable[[bytes, Statement], None]]
    outbound_guards: list[Callable[[Statement, bytes], bool]]
    pull_claims: dict[bytes, PullClaim]
    pull_expected: dict[bytes, int]

    if TYPE_CHECKING:
        @property
        def me(self) -> bytes: ...
        @property
        def clock(self) -> Clock: ...
        @property
        def random(self) -> RandomBytes: ...

    def encryption_keys(self, node_id: bytes) -> EncryptionPublicKeys | None:
        return self.cards.encryption_keys(node_id)

    def envelope_for(self, statement: Statement, peer: bytes) -> bytes:
        """The envelope a peer gets: plain for public statements, sealed if it may read, else header only."""
        return self._envelope_parts(statement, peer, self.encryption_keys(peer), paged=False, audience=UNREAD)[0]

    def _readable_keys(self, statement: Statement, peer: bytes, keys: EncryptionPublicKeys | None,
                       admits: Callable[[str | None], bool] | None = None,
                       audience: str | _Unread | None = UNREAD) -> EncryptionPublicKeys | None:
        """The peer's ``keys`` if it may read this private statement's body now (audience, guards), else None.
        ``audience``: the statement's stored audience when the caller read it with the statement."""
        if isinstance(audience, _Unread):
            audience = self.service.log.audience_of(statement.id)
        admitted = (admits or _admits_for(peer))(audience)
        if (admitted and keys is not None and statement.body is not None
                and all(guard(statement, peer) for guard in self.outbound_guards)):
            for hook in self.outbound_hooks:
                hook(statement.body, statement)
            return keys
        return None

    def _envelope_parts(self, statement: Statement, peer: bytes, peer_keys: EncryptionPublicKeys | None, *,
                        paged: bool, admits: Callable[[str | None], bool] | None = None,
                        audience: str | _Unread | None = UNREAD) -> tuple[bytes, bytes | None]:
        """(envelope, page plaintext): with ``paged``, a body the peer may read is left for the page
        (header-only envelope, its plaintext returned) instead of sealed on its own."""
        if not statement.header.private:
            return Envelope.of(statement).encode(), None
        content: SealedContent | None = None
        plaintext: bytes | None = None
        keys = self._readable_keys(statement, peer, peer_keys, admits, audience)
        if keys is not None:
            if paged:
                plaintext = body_plaintext(statement)
            else:
                content = seal_statement_body(statement, peer, keys)
        return Envelope(statement.header_bytes, statement.signature, content).encode(), plaintext

    def batch_for(self, peer: bytes, statements: list[Statement], max_items: int = MAX_BATCH, *,
                  paged: bool = False, audiences: list[str | None] | None = None,
                  offering: bool = True) -> tuple[Batch, list[bytes]]:
        """A batch of at most ``max_items`` of ``statements`` for ``peer`` (fewer after cut transfers);
        ``paged``: the readable bodies sealed together as one page with one KEM (docs/protocol.md 13.8;
        only for an asker that said it takes pages). ``audiences``: each statement's stored audience,
        position for position, when the caller read them together (``storage.own_pages``); else each
        is read on its own. ``offering``: to a partner that named ``reshare-want``, our re-shares it may
        read go withheld with an offer (docs/protocol.md 14.2); never in the answer to a want."""
        offers: list[Offer] = []
        # Both sides must name the feature: a node built without it (``WITHOUT_RESHARE_WANT``) re-shares
        # eagerly like the release before it, whatever its partner names.
        offering = (offering and FEATURE in self.service.versions.features
                    and FEATURE in self.service.peer_features.get(peer, frozenset()))
        envelopes: list[bytes] = []
        plaintexts: list[tuple[bytes, bytes] | None] = []
        ids: list[bytes] = []
        size = 0
        keys = self.encryption_keys(peer)  # read once per batch, not once per statement
        admits = _admits_for(peer)  # each distinct audience decoded once per batch
        for position, statement in enumerate(statements[:max_items]):
            audience = UNREAD if audiences is None else audiences[position]
            offer = offer_for(statement, len(envelopes), peer, admits, audience, self.service.log) if offering else None
            if offer is not None:
                offers.append(offer)
                envelope, plaintext = Envelope(statement.header_bytes, statement.signature, None).encode(), None
            else:
                envelope, plaintext = self._envelope_parts(statement, peer, keys, paged=paged, admits=admits, audience=audience)
            item_size = len(envelope) + (0 if plaintext is None else len(plaintext) + 16)
            if envelopes and size + item_size > MAX_BATCH_BYTES:
                break
            envelopes.append(envelope)
            plaintexts.append(None if plaintext is None else (statement.id, plaintext))
            ids.append(statement.id)
            size += item_size
        page = None
        if paged and keys is not None and any(p is not None for p in plaintexts):
            page = seal_page(plaintexts, peer, keys, page_id=self.random(PAGE_ID_LEN), secret=self.random(PAGE_SECRET_LEN))
        return Batch(tuple(envelopes), more=len(ids) < len(statements), page=page, offers=tuple(offers)), ids

    def outbox_batch(self, peer: bytes, max_items: int = MAX_BATCH) -> tuple[Batch, list[bytes]]:  # fewer after cut pushes
        statements = [s for sid in self.peers.outbox_batch(peer, max_items) if (s := self.service.log.get(sid)) is not None]
        return self.batch_for(peer, statements, max_items)

    def _open_page(self, batch: Batch) -> PageOpener | ProtocolError | None:
        """The batch's sealed page opened (its one KEM decapsulation), or the error every item sealed
        in it is answered with (a page that does not open stores none of its bodies)."""
        if batch.page is None:
            return None
        try:
            return open_page(batch.page, self.service.identity, len(batch.envelopes))
        except ProtocolError as exc:
            return exc

    def _open_page_item(self, page: PageOpener | ProtocolError | None, index: int, statement: Statement,
                        envelope: Envelope, item: bytes) -> Statement:
        if envelope.content is not None:
            raise RemoteProtocolError(E.MALFORMED, "a page item for an envelope that carries its own content")
        if isinstance(page, ProtocolError):
            raise page
        assert page is not None  # an item implies a page
        return with_opened_body(statement, page.open(index, statement.id, item))

    def _pull_served(self, origin: bytes, have: int, batch: Batch, through: int) -> None:
        """A pull from ``origin`` holding our log through ``have`` was answered with ``batch``, up to our
        seq ``through``. What it holds needs no push (issue 11 item 4: a catch-up pulled and pushed the
        same backlog, sealing and opening every body twice), noted at the first and the last page only
        (a durable commit each); while it pages on, its claim holds the push sender."""
        self.pull_expected.pop(origin, None)  # the pull that was expected came
        if origin not in self.pull_claims or not batch.more:
            self.peers.acknowledge_through(origin, have)
        if batch.more and through > have:
            self.pull_claims[origin] = PullClaim(through, self.clock() + PULL_CLAIM_MS)
        else:
            self.pull_claims.pop(origin, None)

    def pull_claimed_until(self, peer: bytes, now: int) -> int | None:
        """Until when (node clock, ms) the push sender leaves ``peer``'s backlog to its pull in progress;
        None if no pull is paging through our log."""
        claim = self.pull_claims.get(peer)
        until = max(claim.until if claim is not None else 0, self.pull_expected.get(peer, 0))
        return until if until > now else None

    def expect_pull(self, peer: bytes) -> None:
        """``peer`` asked for its own log back, so it is starting and pulls ours next: hold the push
        sender for it until that pull (or ``PULL_EXPECTED_MS``), which then claims the backlog."""
        self.pull_expected[peer] = self.clock() + PULL_EXPECTED_MS

    def continues_pull(self, peer: bytes, request: PullRequest) -> bool:
        """Whether this pull asks for the page after the one we last served ``peer`` (its have entry
        reached the end of that page). Such a pull costs us at most one page of our log it has not
        had, so the request rate limit does not stop a catch-up (the log's length bounds the work)."""
        claim = self.pull_claims.get(peer)
        return claim is not None and claim.until > self.clock() and dict(request.have).get(self.me, 0) >= claim.through
