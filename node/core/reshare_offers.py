"""Lazy re-sharing in the node (feature ``reshare-want``, docs/protocol.md 14.2).

Why a module of its own: eager re-sharing sends every partner the full body of every re-share, so a
node with d partners receives about d copies of each job (bench/propagation: 2.3–2.9 per node). To a
partner that named the feature, our own ``reshare`` statements go withheld with an offer
(``offer_for``, called by the batch builder); a partner missing the root asks one offerer with
``POST /federation/v1/want`` (``ReshareWants``, driven by the node's clock through a ``Timer``), and
we answer from our own re-shares only (``serve_want``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from node.core.clock import Timer
from node.core.limits import DailyBytes
from node.logs import log_event
from protocol import errors as E
from protocol.audience import Audience
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.reshare_body import Reshare
from protocol.reshare_want import Offer, Want, WantRequest, WantTracker, check_answer
from protocol.statement import Envelope, Statement
from protocol.sync import Batch
from storage.quotas import PeerQuota

if TYPE_CHECKING:
    from node.core.federation import Federation
    from storage.log_store import LogStore

WANT_PATH = "/federation/v1/want"


def reshare_route(statement: Statement) -> tuple[bytes, bytes, int] | None:
    """(root id, root author, the receiver's distance) of our own ``reshare`` with its body, else None."""
    if statement.kind != "reshare" or statement.body is None:
        return None
    reshare = Reshare.from_value(statement.body_value())
    root = Envelope.decode(reshare.root).open_plain()
    return root.id, root.author, len(reshare.path) + 1


def offer_for(statement: Statement, index: int, peer: bytes, admits: Callable[[str | None], bool],
              audience: Any, log: LogStore) -> Offer | None:
    """The offer for our ``statement`` at batch position ``index`` if it is a re-share ``peer`` may read."""
    if statement.kind != "reshare" or not statement.header.private or statement.body is None:
        return None
    if not (isinstance(audience, str) or audience is None):
        audience = log.audience_of(statement.id)  # not read with the statement
    if not admits(audience):
        return None
    route = reshare_route(statement)
    return None if route is None else Offer(index, *route)


def serve_want(fed: Federation, origin: bytes, request: WantRequest) -> Batch:
    """Our own re-shares ``origin`` asked for, sealed to it; refused whole (``not-offered``) if one seq
    is not in our log, not a ``reshare`` with its body, or not one ``origin`` may read; ``too-large`` if
    they do not fit one batch; ``over-quota`` past the bytes of wants we answer ``origin`` per day."""
    statements = []
    for seq in request.seqs:
        sid = fed.service.log.id_at(fed.me, seq)
        statement = fed.service.log.get(sid) if sid is not None else None
        if statement is None:
            raise RemoteProtocolError(E.NOT_OFFERED, f"seq {seq} is not in this node's log")
        if statement.kind != "reshare" or statement.body is None:
            raise RemoteProtocolError(E.NOT_OFFERED, f"seq {seq} is not a re-share of this node")
        audience = fed.service.log.audience_of(statement.id)
        if audience is None or not Audience.decode(audience).admits(origin):
            raise RemoteProtocolError(E.NOT_OFFERED, f"seq {seq} is not a re-share the asker may read")
        statements.append(statement)
    batch, ids = fed.batch_for(origin, statements, len(statements), offering=False)
    if len(ids) < len(statements):  # no partial answer: the asker would take the missing ones as failed
        raise RemoteProtocolError(E.TOO_LARGE, f"the {len(statements)} re-shares asked for do not fit one batch; "
                                  "ask for fewer at a time")
    if not fed.wants.served.take(origin, sum(len(e) for e in batch.envelopes), fed.clock()):
        raise RemoteProtocolError(E.OVER_QUOTA, "this peer has asked for more re-shared bodies today than this "
                                  "node answers in a day; ask again tomorrow")
    return batch


def root_held(fed: Federation, root: bytes) -> bool:
    from storage.foreign import foreign_route

    return fed.service.log.get(root) is not None or foreign_route(fed.service.db, root) is not None


@dataclass
class ReshareWants:
    """The node's open wants: offers taken from partners' batches, asked one offerer at a time."""

    fed: Federation
    tracker: WantTracker = field(default_factory=WantTracker)
    # Set by the sync engine: sends one want (POST /federation/v1/want) off the caller's stack.
    send: Callable[[Want], None] = lambda want: None
    changed: Callable[[], None] = lambda: None  # set by the sync engine: a want was scheduled (wake its timers)
    asked: int = 0  # wants sent (status and tests)
    late: int = 0  # answers dropped because their want was no longer open (tests)
    # Bodies we send a partner in answer to its wants, per UTC day: as much as its node takes from
    # us in re-shares per day (PeerQuota.reshare_bytes_per_day), so wants cannot make us send unbounded data.
    served: DailyBytes = field(default_factory=lambda: DailyBytes(PeerQuota().reshare_bytes_per_day))

    def __post_init__(self) -> None:
        self.fed.timers.append(Timer("reshare-wants", self._due, lambda now: self.tracker.next_deadline()))
        self.fed.on_appended.append(self._appended)

    def batch_taken(self, origin: bytes, batch: Batch, outcomes: list[str]) -> None:
        """After a batch from ``origin`` committed: each offer for a re-share now stored header-only
        and a root we do not hold is tracked (section 14.2); an offer for a held root is ignored."""
        now = self.fed.clock()
        for offer in batch.offers:
            if outcomes[offer.index] not in ("appended", "duplicate"):
                continue
            try:
                statement = Envelope.decode(batch.envelopes[offer.index]).open_plain()
            except ProtocolError:
                continue
            if statement.kind != "reshare":
                continue
            stored = self.fed.service.log.get(statement.id)
            if stored is None or stored.body is not None:
                continue
            self.fed.reshares.record_offer(statement.id, origin, offer.root, offer.distance, now)  # a way back (relay)
            if root_held(self.fed, offer.root):
                continue
            self._ask(self.tracker.offered(offer.root, origin, statement.seq, offer.distance, now,
                                           author_is_partner=self.fed.peers.is_trusted(offer.root_author)))
        self.changed()

    def answered(self, want: Want, batch: Batch | None) -> None:
        """The asked offerer's answer (None: it failed): its body filled our copy, or ask the next. An
        answer to a want that is no longer open (the body came another way meanwhile, or the offerer
        timed out and the next was asked) is dropped unread: one body per root, not two."""
        if not self.tracker.awaits(want):
            self.late += 1
            log_event("reshare.want-answer-late", logging.INFO, peer=want.peer, seq=want.seq)
            return
        if batch is not None and self._take_answer(want, batch):
            return
        self._ask(self.tracker.failed(want.root, want.peer, self.fed.clock()))
        self.changed()

    def _take_answer(self, want: Want, batch: Batch) -> bool:
        """Take the answer's body, charged to the offerer's quotas like any body it sends (section 9);
        False if the offerer failed: an answer that is not what was asked (``check_answer``), one the
        ingest refuses whole, a body over the offerer's quota, or no body at all."""
        held = self.fed.service.log.id_at(want.peer, want.seq)
        try:
            check_answer(batch, want.peer, [(want.seq, held)])
            results = self.fed.take_batch(want.peer, batch)
        except ProtocolError as exc:
            log_event("reshare.want-answer-refused", logging.WARNING, peer=want.peer, seq=want.seq, code=exc.code)
            return False
        filled = self.fed.service.log.get(held) if held is not None else None
        if filled is None or filled.body is None:
            outcome = results.results[0].outcome if results.results else None
            log_event("reshare.want-failed", logging.INFO, peer=want.peer, seq=want.seq, outcome=outcome)
            return False
        self.fed.react([filled])  # keep the root and pass it on, as if it had come eagerly
        return True

    def _appended(self, statements: list[Statement]) -> None:
        """A root arrived by any way (its author's push, an eager re-share, a want's answer)."""
        if not self.tracker.roots:
            return
        now = self.fed.clock()
        for statement in statements:
            if statement.id in self.tracker.roots:
                self._ask(self.tracker.obtained(statement.id, 1, now))
            elif statement.body is not None and statement.kind == "reshare":
                try:
                    route = reshare_route(statement)
                except ProtocolError:
                    continue
                if route is not None and route[0] in self.tracker.roots:
                    self._ask(self.tracker.obtained(route[0], route[2], now))

    def _due(self, now: int) -> None:
        for want in self.tracker.due(now):
            self._ask(want)

    def _ask(self, want: Want | None) -> None:
        if want is not None:
            self.asked += 1
            self.send(want)
