"""Sync between two trusted nodes: the messages, and the per-peer delivery state machine.

Design (Synapse's per-destination queue plus Scuttlebutt-style "have" vectors):

* **Push.** Every statement a node appends to its own log goes into a durable per-peer outbox
  (SQLite, survives kill -9). A sender task per peer takes one batch at a time (one request in
  flight per peer), POSTs it to ``/federation/v1/push`` and deletes what the peer acknowledged.
  Each item is answered on its own (``appended``, ``duplicate``, ``held``, ``fork`` or an error
  code), so one bad item never sinks a batch.
* **Backoff.** A failed push schedules the next try after ``min(cap, base * 2**(attempts-1))``
  scaled by a jitter factor in [0.5, 1); any authenticated contact from the peer (a request it
  signed, or a successful pull) resets the schedule, so a peer coming back is served at once.
* **Pull (anti-entropy).** Every sync interval each node POSTs its "have" vector
  (author → latest sequence it holds) to each trusted peer's ``/federation/v1/pull``; the peer
  answers with what follows, in order, in pages. A node that was offline for days therefore
  catches up on its own, with no new traffic needed (Synapse #2528).
* **Idempotence.** A statement's id is the hash of its signed header; applying it twice is a
  no-op (``duplicate``), so pushes and pulls may overlap freely.
* **Privacy.** A node serves only its own log. A statement's body goes to a peer only if the peer
  is in the statement's audience, sealed to that peer's key; others get the header alone, which
  keeps their copy of the log gap-free (protocol.md "What a relay learns").

All of this module is pure: the node shell passes ``now`` (ms) and random numbers in.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bool, expect_bytes, expect_int, expect_list, expect_str, expect_version
from protocol.errors import MALFORMED, LocalProtocolError, RemoteProtocolError
from protocol.page_seal import SealedPage
from protocol.reshare_want import Offer, offers_from_value
from protocol.statement import MAX_ENVELOPE_BYTES

MAX_BATCH = 64
MAX_BATCH_BYTES = 240 * 1024
MAX_HAVE = 256

BATCH_LIMITS = Limits(max_bytes=256 * 1024, max_str_len=64, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=MAX_BATCH, max_map_len=0, max_depth=4)
PULL_LIMITS = Limits(max_bytes=32 * 1024, max_str_len=64, max_bin_len=64, max_array_len=MAX_HAVE, max_map_len=0, max_depth=4)
RESULT_LIMITS = Limits(max_bytes=64 * 1024, max_str_len=64, max_bin_len=64, max_array_len=MAX_BATCH, max_map_len=0, max_depth=4)

# Per-item push outcomes that mean "the peer has it, or will never take it": delete from the outbox.
OUTCOME_APPENDED = "appended"
OUTCOME_DUPLICATE = "duplicate"
OUTCOME_HELD = "held"
OUTCOME_FORK = "fork"



@dataclass(frozen=True, slots=True)
class Batch:
    """``[1, [envelope, ...], more]``: a push request body, or a pull answer (``more``: ask again).

    A pull answer to an asker that sent ``OrgNode-Sealed-Pages: 1`` may be ``[1, [envelope, ...],
    more, page]`` (docs/protocol.md 13.8): its envelopes are header-only where ``page`` carries
    their bodies, sealed together with one KEM. Only such an asker is sent this form.

    To a partner that named ``reshare-want`` a batch may carry offers (docs/protocol.md 14.2):
    ``[1, [envelope, ...], more, page or nil, [offer, ...]]``; only such a partner is sent it."""

    envelopes: tuple[bytes, ...]
    more: bool = False
    page: SealedPage | None = None
    offers: tuple[Offer, ...] = ()

    def __post_init__(self) -> None:
        if self.page is not None and len(self.page.items) != len(self.envelopes):
            raise LocalProtocolError(MALFORMED, "a page has one item per envelope of its batch")
        indexes = [o.index for o in self.offers]
        if indexes != sorted(set(indexes)) or any(not 0 <= i < len(self.envelopes) for i in indexes):
            raise LocalProtocolError(MALFORMED, "offers name envelopes of their batch in increasing order")

    def encode(self) -> bytes:
        page = None if self.page is None else self.page.to_value()
        tail = [page, [o.to_value() for o in self.offers]] if self.offers else [] if page is None else [page]
        return encode([PROTOCOL_VERSION, list(self.envelopes), self.more, *tail])

    @classmethod
    def decode(cls, data: bytes) -> Batch:
        items = expect_list(decode(data, BATCH_LIMITS), "batch")
        expect_version(items, "batch")
        if len(items) not in (4, 5):
            expect_list(items, "batch", 3)
        envelopes = tuple(expect_bytes(e, "batch.envelope", max_len=MAX_ENVELOPE_BYTES) for e in expect_list(items[1], "batch.envelopes"))
        page = SealedPage.from_value(items[3]) if len(items) >= 4 and (len(items) == 4 or items[3] is not None) else None
        if page is not None and len(page.items) != len(envelopes):
            raise RemoteProtocolError(MALFORMED, "the page's items do not match the batch's envelopes")
        offers = offers_from_value(items[4], len(envelopes)) if len(items) == 5 else ()
        if len(items) == 5 and not offers:
            raise RemoteProtocolError(MALFORMED, "a batch's offers element, when present, names at least one offer")
        return cls(envelopes, expect_bool(items[2], "batch.more"), page, offers)


@dataclass(frozen=True, slots=True)
class ItemResult:
    id: bytes
    outcome: str


@dataclass(frozen=True, slots=True)
class PushResults:
    """``[1, [[id, outcome], ...]]``: one answer per pushed item, in order."""

    results: tuple[ItemResult, ...]

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, [[r.id, r.outcome] for r in self.results]])

    @classmethod
    def decode(cls, data: bytes) -> PushResults:
        items = expect_list(decode(data, RESULT_LIMITS), "push results")
        expect_version(items, "push results")
        expect_list(items, "push results", 2)
        results = []
        for raw in expect_list(items[1], "push results.items"):
            pair = expect_list(raw, "push result", 2)
            results.append(ItemResult(expect_bytes(pair[0], "push result.id", 32), expect_str(pair[1], "push result.outcome", 64)))
        return cls(tuple(results))


@dataclass(frozen=True, slots=True)
class PullRequest:
    """``[1, [[author, seq], ...]]`` or ``[1, [[author, seq], ...], max_items]``: what the asker holds
    of each author's log, and (only after a failed or cut pull) the most envelopes it wants in the
    answer; ``None``: the server's own page size (``MAX_BATCH``)."""

    have: tuple[tuple[bytes, int], ...]
    max_items: int | None = None

    def encode(self) -> bytes:
        have = [[a, s] for a, s in self.have]
        if self.max_items is None or self.max_items >= MAX_BATCH:  # the 2-element form every node reads
            return encode([PROTOCOL_VERSION, have])
        return encode([PROTOCOL_VERSION, have, self.max_items])

    @classmethod
    def decode(cls, data: bytes) -> PullRequest:
        items = expect_list(decode(data, PULL_LIMITS), "pull request")
        expect_version(items, "pull request")
        if len(items) != 3:
            expect_list(items, "pull request", 2)
        max_items = expect_int(items[2], "pull request.max_items", 1, MAX_BATCH) if len(items) == 3 else None
        have = []
        for raw in expect_list(items[1], "pull request.have"):
            pair = expect_list(raw, "have entry", 2)
            have.append((expect_bytes(pair[0], "have.author", 32), expect_int(pair[1], "have.seq")))
        if len({a for a, _ in have}) != len(have):
            raise RemoteProtocolError(MALFORMED, "an author appears twice in the have vector")
        return cls(tuple(have), max_items)


# --- per-peer delivery schedule -----------------------------------------------------------------


class DeliveryState(enum.Enum):
    READY = "ready"
    IN_FLIGHT = "in_flight"
    BACKING_OFF = "backing_off"


class DeliveryEvent(enum.Enum):
    SEND = "send"
    SUCCESS = "success"
    FAILURE = "failure"
    CONTACT = "contact"
    TIMER = "timer"


S, Ev = DeliveryState, DeliveryEvent
# The whole state machine, as data: (state, event) -> next state. Missing pairs are local errors.
TRANSITIONS: dict[tuple[DeliveryState, DeliveryEvent], DeliveryState] = {
    (S.READY, Ev.SEND): S.IN_FLIGHT,
    (S.READY, Ev.CONTACT): S.READY,
    (S.READY, Ev.TIMER): S.READY,
    (S.IN_FLIGHT, Ev.SUCCESS): S.READY,
    (S.IN_FLIGHT, Ev.FAILURE): S.BACKING_OFF,
    (S.IN_FLIGHT, Ev.CONTACT): S.IN_FLIGHT,
    (S.IN_FLIGHT, Ev.TIMER): S.IN_FLIGHT,
    (S.BACKING_OFF, Ev.TIMER): S.BACKING_OFF,  # becomes READY via ``poll`` once the delay is over
    (S.BACKING_OFF, Ev.CONTACT): S.READY,
}


@dataclass(frozen=True, slots=True)
class BackoffPolicy:
    base_ms: int = 30_000
    cap_ms: int = 3 * 60 * 60 * 1000

    def delay(self, attempts: int, jitter: float) -> int:
        """Delay before retry number ``attempts`` (>= 1); ``jitter`` in [0, 1) from the caller's RNG."""
        raw = min(self.cap_ms, self.base_ms * 2 ** min(attempts - 1, 40))
        return int(raw * (0.5 + jitter / 2))


@dataclass
class BatchSize:
    """How many statements the next transfer with one peer carries (push batch or pull page).

    A link that cuts every connection after N bytes (a broken middlebox, a tiny proxy limit) would
    otherwise fail the same full batch forever: every failed or cut transfer halves the size, down to
    1, and every success doubles it again, up to ``MAX_BATCH`` (sender behaviour: docs/protocol.md 13.3).
    """

    size: int = MAX_BATCH

    def failed(self) -> int:
        self.size = max(1, self.size // 2)
        return self.size

    def succeeded(self) -> int:
        self.size = min(MAX_BATCH, self.size * 2)
        return self.size


@dataclass
class PeerDelivery:
    """One peer's push schedule. ``event`` applies a transition; ``ready(now)`` says if a batch may go."""

    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    state: DeliveryState = DeliveryState.READY
    attempts: int = 0
    next_attempt_at: int = 0
    contacted: bool = False  # a CONTACT arrived while the push in flight was under way

    def event(self, event: DeliveryEvent, now: int, jitter: float = 0.0) -> DeliveryState:
        key = (self.state, event)
        if key not in TRANSITIONS:
            raise LocalProtocolError(MALFORMED, f"delivery: {event.value} is not allowed while {self.state.value}")
        contacted_in_flight = self.contacted
        self.state = TRANSITIONS[key]
        self.contacted = self.state is S.IN_FLIGHT and (contacted_in_flight or event is Ev.CONTACT) and event is not Ev.SEND
        if event is Ev.FAILURE:
            self.attempts += 1
            self.next_attempt_at = now + self.policy.delay(self.attempts, jitter)
            if contacted_in_flight:
                # The peer reached us while this push was failing (it was sent while the peer was
                # down): the contact is the newer news, so it applies after the failure, as if it
                # had come a moment later: ready at once (docs/protocol.md 13.3).
                self.state = TRANSITIONS[(self.state, Ev.CONTACT)]
                self.attempts = 0
                self.next_attempt_at = now
        elif event in (Ev.SUCCESS, Ev.CONTACT):
            self.attempts = 0
            self.next_attempt_at = now
        return self.state

    def ready(self, now: int) -> bool:
        if self.state is S.BACKING_OFF and now >= self.next_attempt_at:
            self.state = S.READY
        return self.state is S.READY
