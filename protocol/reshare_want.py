"""Lazy re-sharing (feature ``reshare-want``): a re-share is announced by id, its body sent on request.

Why: with eager re-sharing (docs/protocol.md section 14) every node that passes a root on sends its
full body to each of its partners, so a node with ``d`` partners receives about ``d`` copies of
every re-shared job (bench/propagation measures 2–4 per node where the goal is 1.5). Like gossipsub's
IHAVE/IWANT, a re-sharer sends a partner that named the feature its ``reshare`` statement withheld
(header only, which keeps the partner's copy of its log gap-free) together with an **offer**: the
root's id and author. A partner that does not hold the root asks one offerer for the body
(``WantRequest``); the others' bodies never travel. Section 14.2 of the spec is normative.

Pieces, all pure:

* ``Offer`` / ``offers_from_value``: the offers element of a ``Batch`` sent to such a partner.
* ``WantRequest``: ``[1, [seq, ...]]``, the body of ``POST /federation/v1/want``: the seqs of the
  server's own ``reshare`` statements whose bodies the asker wants; the answer is a ``Batch``.
* ``WantTracker``: per node, which roots it was offered by whom, which offerer it asked and until
  when; on a timeout or a failed answer it asks the next offerer (``now`` is passed in, in ms).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_version
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.statement import Envelope

if TYPE_CHECKING:
    from protocol.sync import Batch

MAX_HOPS = 8  # the largest hop limit (sections 7, 15.2); a reshare's receiver is at distance 2 or more

FEATURE = "reshare-want"
MAX_WANT = 64  # seqs in one want request (one Batch answers it)
WANT_TIMEOUT_MS = 3_000  # an asked offerer that has not answered by then: ask the next one
COLLECT_MS = 200  # the first offer of a root waits this long for nearer ones before it is asked
AUTHOR_GRACE_MS = 3_000  # a root by a trusted partner: wait that long for its author's own copy first
RETRY_CAP_MS = 60 * 60 * 1000  # every offerer failed: ask them again, doubling from the timeout to this
WANT_LIMITS = Limits(max_bytes=1024, max_str_len=0, max_bin_len=0, max_array_len=MAX_WANT, max_map_len=0, max_depth=3)


@dataclass(frozen=True, slots=True)
class Offer:
    """``[index, root, root_author, distance]``: envelope ``index`` of the batch is the sender's
    withheld ``reshare`` of the statement ``root`` (its id) by ``root_author``; its body would put the
    receiver at ``distance`` trust links from the author (the reshare's path length + 1)."""

    index: int
    root: bytes
    root_author: bytes
    distance: int

    def to_value(self) -> list[Any]:
        return [self.index, self.root, self.root_author, self.distance]


def offers_from_value(value: Any, envelopes: int) -> tuple[Offer, ...]:
    """Decode a batch's offers element; indexes must be strictly increasing and name an envelope."""
    offers = []
    last = -1
    for raw in expect_list(value, "batch.offers"):
        item = expect_list(raw, "offer", 4)
        index = expect_int(item[0], "offer.index", 0, envelopes - 1) if envelopes else -1
        if index < 0 or index <= last:
            raise RemoteProtocolError(MALFORMED, "offer indexes must name envelopes of the batch in increasing order")
        last = index
        offers.append(Offer(index, expect_bytes(item[1], "offer.root", 32), expect_bytes(item[2], "offer.root_author", 32),
                            expect_int(item[3], "offer.distance", 2, MAX_HOPS)))
    return tuple(offers)


@dataclass(frozen=True, slots=True)
class WantRequest:
    """``[1, [seq, ...]]``: the server's own statements (by seq) whose bodies the asker wants."""

    seqs: tuple[int, ...]

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, list(self.seqs)])

    @classmethod
    def decode(cls, data: bytes) -> WantRequest:
        items = expect_list(decode(data, WANT_LIMITS), "want request")
        expect_version(items, "want request")
        expect_list(items, "want request", 2)
        seqs = tuple(expect_int(s, "want.seq", 1) for s in expect_list(items[1], "want.seqs"))
        if not seqs or len(set(seqs)) != len(seqs):
            raise RemoteProtocolError(MALFORMED, "a want request names 1 to 64 distinct seqs")
        return cls(seqs)


@dataclass(frozen=True, slots=True)
class Want:
    """Ask ``peer`` for the body of its own statement ``seq``, its re-share of ``root``."""

    peer: bytes
    seq: int
    root: bytes


def check_answer(batch: Batch, peer: bytes, asked: list[tuple[int, bytes | None]]) -> None:
    """Refuse (``malformed``) a want's answer that is not what was asked (section 14.2): ``asked``
    holds, in the order asked, each seq of ``peer``'s log and the id the asker holds there header-only.
    The answer must be a plain batch (no ``more``, page or offers) of exactly those statements: a
    peer must not use a want to push anything else, forged or not. Their bodies are then taken, and
    charged to ``peer``, by the ordinary ingest path."""
    if batch.more or batch.page is not None or batch.offers:
        raise RemoteProtocolError(MALFORMED, "a want's answer is a plain batch: no page, no offers, no more")
    if len(batch.envelopes) != len(asked):
        raise RemoteProtocolError(MALFORMED, f"a want's answer holds the {len(asked)} statements asked for, "
                                  f"not {len(batch.envelopes)}")
    for raw, (seq, held) in zip(batch.envelopes, asked, strict=True):
        statement = Envelope.decode(raw).open_plain()
        if statement.author != peer or statement.seq != seq or held is None or statement.id != held:
            raise RemoteProtocolError(MALFORMED, f"a want's answer holds a statement other than seq {seq} of "
                                      "the offerer's log as the asker holds it")


@dataclass
class _Root:
    offers: list[tuple[int, bytes, int]] = field(default_factory=list)  # (distance, peer, seq) not asked yet
    tried: list[tuple[int, bytes, int]] = field(default_factory=list)
    asked: tuple[int, bytes, int] | None = None
    wait_until: int = 0  # no ask before this (author grace, or the retry backoff)
    deadline: int = 0  # the asked offerer's answer is due by then
    rounds: int = 0  # how many times every offerer failed


@dataclass
class WantTracker:
    """One node's open wants. The caller asks ``protocol.reshare.worth_wanting`` before ``offered``,
    and calls ``obtained`` when a body arrives by any way (an answer, its author's push, a pull).
    Offers are asked nearest first (the smallest distance), then in arrival order."""

    timeout_ms: int = WANT_TIMEOUT_MS
    grace_ms: int = AUTHOR_GRACE_MS
    collect_ms: int = COLLECT_MS
    roots: dict[bytes, _Root] = field(default_factory=dict)
    held_until: int = 0  # while catching up, no ask before this (``hold``)

    def hold(self, until: int) -> None:
        """Ask nothing before ``until``: a node starting again pulls every partner at once, and their
        offers arrive over a few round trips; the nearest is worth waiting for (``release`` ends it)."""
        self.held_until = until

    def release(self, now: int) -> list[Want]:
        """Every partner answered: what to ask now."""
        self.held_until = 0
        return self.due(now)

    def offered(self, root: bytes, peer: bytes, seq: int, distance: int, now: int, *,
                author_is_partner: bool = False) -> Want | None:
        state = self.roots.get(root)
        if state is None:
            state = self.roots[root] = _Root(wait_until=now + (self.grace_ms if author_is_partner else self.collect_ms))
        known = (*state.offers, *state.tried, *([state.asked] if state.asked else []))
        # The same offer again (a push retried, a pull re-served) keeps its place; a nearer one from
        # the same peer replaces its farther one, waiting or failed (never the one being asked).
        if not any(p == peer and d <= distance for d, p, _ in known):
            state.offers = [o for o in state.offers if o[1] != peer]
            state.tried = [o for o in state.tried if o[1] != peer]
            state.offers.append((distance, peer, seq))
            state.offers.sort(key=lambda o: o[0])  # stable: arrival order among equals
        return self._ask(root, state, now)

    def obtained(self, root: bytes, distance: int, now: int) -> Want | None:
        """A body arrived at ``distance``: offers from no nearer stay unasked; a nearer one is asked
        next (the caller re-shares from the smaller distance, section 14.2)."""
        state = self.roots.get(root)
        if state is None:
            return None
        state.offers = [o for o in (*state.offers, *state.tried) if o[0] < distance]
        state.tried = []
        state.asked = None
        state.wait_until = 0
        if not state.offers:
            del self.roots[root]
            return None
        return self._ask(root, state, now)

    def awaits(self, want: Want) -> bool:
        """Whether ``want`` is still the open ask for its root: not overtaken by the body arriving
        another way (``obtained``) nor by its timeout (the next offerer asked). A late answer is
        dropped, so the receiver keeps one body (section 14.2)."""
        state = self.roots.get(want.root)
        return state is not None and state.asked is not None and state.asked[1:] == (want.peer, want.seq)

    def failed(self, root: bytes, peer: bytes, now: int) -> Want | None:
        """The asked offerer failed (transport error, or it answered without the body): the next one."""
        state = self.roots.get(root)
        if state is None or state.asked is None or state.asked[1] != peer:
            return None
        state.tried.append(state.asked)
        state.asked = None
        return self._ask(root, state, now)

    def due(self, now: int) -> list[Want]:
        """Wants to send now: after a timed-out offerer, the next; after the author grace, the first."""
        wants = []
        for root, state in list(self.roots.items()):
            if state.asked is not None and now >= state.deadline:
                state.tried.append(state.asked)
                state.asked = None
            want = self._ask(root, state, now)
            if want is not None:
                wants.append(want)
        return wants

    def next_deadline(self) -> int | None:
        times = [s.deadline if s.asked else max(s.wait_until, self.held_until)
                 for s in self.roots.values() if s.asked or s.offers or s.tried]
        return min(times) if times else None

    def _ask(self, root: bytes, state: _Root, now: int) -> Want | None:
        if state.asked is not None or now < state.wait_until or now < self.held_until:
            return None
        if not state.offers and state.tried:  # every offerer failed: start over, later each time
            state.rounds += 1
            state.offers, state.tried = sorted(state.tried, key=lambda o: o[0]), []
            state.wait_until = now + min(RETRY_CAP_MS, self.timeout_ms * 2 ** min(state.rounds, 20))
            return None
        if not state.offers:
            return None
        state.asked = state.offers.pop(0)
        state.deadline = now + self.timeout_ms
        return Want(state.asked[1], state.asked[2], root)
