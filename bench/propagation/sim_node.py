"""One simulated organization, following the federation's rules through the real ``protocol/`` code.

Why: the simulator must measure the rules the node runs, not a model of them. Each decision calls
the protocol module that decides it in the node: whether and with which path to re-share
(``protocol.reshare.reshare_path``, ``reshare_exclusions``), who reads a body
(``protocol.audience.Audience``), each peer's push schedule and backoff
(``protocol.sync.PeerDelivery``, ``MAX_BATCH``), lazy have/want (``protocol.reshare_want``). What
is simplified is the I/O only: statements are small records instead of signed bytes (the crypto is
not what is measured; bench/ingest measures it), and the durable outbox is a list.

Three strategies run on the same graph, clock and churn:

* ``eager``: the version-1 rules (docs/protocol.md sections 13–14): a re-share's body goes to
  every partner in its audience (all but the root's author and the path).
* ``lazy``: the same statements, but a partner that named ``reshare-want`` gets a re-share withheld
  with an offer and asks one offerer for the body (section 14.2).
* ``flood``: naive flooding, the comparison: forward the body once to every partner but the one it
  came from, no hop limit.

Transfers follow section 13: one push in flight per peer, batches of up to 64 from the outbox,
failures back off; a node coming back asks each partner for its own log (which holds the partner's
push sender for 3 s), then pulls (the server acknowledges what the have vector names and, while the
asker pages, leaves the backlog to the pull).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

# The node's own timings: a paging pull, and an own-log recovery request until its pull comes, hold the push sender.
from node.core.envelopes import PULL_CLAIM_MS, PULL_EXPECTED_MS
from protocol.audience import Audience
from protocol.reshare import reshare_exclusions, reshare_path, worth_wanting
from protocol.reshare_want import WantTracker
from protocol.sync import MAX_BATCH, DeliveryEvent, PeerDelivery

if TYPE_CHECKING:
    from bench.propagation.federation import SimFederation

HEADER_BYTES = 300  # a signed header (section 4.1), what a withheld envelope carries
OFFER_BYTES = 80
CATCHUP_HOLD_MS = 3_000.0  # a node starting again asks for bodies once every partner answered, or after this


@dataclass(frozen=True, slots=True)
class Stmt:
    """A statement of ``author``'s log: a ``job`` (its own root) or a ``reshare`` of ``root``."""

    author: bytes
    seq: int
    kind: str
    root: bytes
    root_author: bytes
    hops: int
    path: tuple[bytes, ...]  # the reshare path (ends with ``author``); () for a job
    audience: Audience
    size: int  # bytes of the full payload (the job, or the reshare carrying it)
    repeat: bool = False  # a re-share again from a shorter distance (section 14.2)


@dataclass(frozen=True, slots=True)
class Env:
    """A statement as sent to one peer: with its body, or withheld (optionally with an offer)."""

    st: Stmt
    body: bool
    offer: bool = False

    @property
    def size(self) -> int:
        return self.st.size if self.body else HEADER_BYTES + (OFFER_BYTES if self.offer else 0)


@dataclass
class SimNode:
    nid: bytes
    index: int
    peers: list[bytes]
    fed: SimFederation
    lazy: bool = False  # names the feature reshare-want (so partners send it offers)
    online: bool = True
    epoch: int = 0  # bumped at every restart: answers to a previous life are dropped
    log: list[Stmt] = field(default_factory=list)
    heads: dict[bytes, int] = field(default_factory=dict)
    held: dict[bytes, dict[int, Env]] = field(default_factory=dict)
    header_only: dict[tuple[bytes, int], Stmt] = field(default_factory=dict)
    outbox: dict[bytes, list[Stmt]] = field(default_factory=dict)
    delivery: dict[bytes, PeerDelivery] = field(default_factory=dict)
    push_hold: dict[bytes, float] = field(default_factory=dict)
    timer_at: dict[bytes, float] = field(default_factory=dict)
    holds: dict[bytes, tuple[float, int]] = field(default_factory=dict)  # root -> (when, first distance)
    nearest: dict[bytes, int] = field(default_factory=dict)  # root -> smallest distance held
    reshared: dict[bytes, int] = field(default_factory=dict)  # root -> distance we re-shared it at
    wants: WantTracker = field(default_factory=WantTracker)
    want_timer: float | None = None
    copies: dict[bytes, int] = field(default_factory=dict)  # root -> full payloads received
    went_offline: list[float] = field(default_factory=list)
    back_with: dict[bytes, dict[bytes, bool]] = field(default_factory=dict)  # measurement only
    unanswered: set[bytes] = field(default_factory=set)  # partners whose first pull page is not in yet

    # --- own log ----------------------------------------------------------------------------------

    def append(self, st: Stmt) -> None:
        self.log.append(st)
        for peer in self.peers:
            self.outbox.setdefault(peer, []).append(st)
            self.kick(peer)

    def post_job(self, root: bytes, hops: int, size: int) -> None:
        self.holds[root] = (self.fed.loop.now, 0)
        self.nearest[root] = 0
        self.reshared[root] = 0
        self.append(Stmt(self.nid, len(self.log) + 1, "job", root, self.nid, hops, (), Audience.all_trusted(), size))

    def envelope_for(self, st: Stmt, peer: bytes) -> Env:
        """Section 13.5: the body to the audience, withheld to the rest; to a ``reshare-want``
        partner a re-share travels withheld with an offer (section 14.2)."""
        if not st.audience.admits(peer):
            return Env(st, False)
        if st.kind == "reshare" and self.fed.strategy == "lazy":
            if self.fed.nodes[peer].lazy:
                return Env(st, False, offer=True)
            if st.repeat:  # a partner without the feature had the body of our first re-share
                return Env(st, False)
        return Env(st, True)

    # --- push (section 13.2, 13.3) ----------------------------------------------------------------

    def delivery_of(self, peer: bytes) -> PeerDelivery:
        d = self.delivery.get(peer)
        if d is None:
            d = self.delivery[peer] = PeerDelivery(self.fed.backoff)
        return d

    def kick(self, peer: bytes) -> None:
        if not self.online or not self.outbox.get(peer):
            return
        now = self.fed.loop.now
        d = self.delivery_of(peer)
        wait = max(self.push_hold.get(peer, 0.0), d.next_attempt_at if d.state.value == "backing_off" else 0.0)
        if wait > now:
            self._timer(peer, wait)
            return
        if not d.ready(int(now)):
            return  # a push is in flight; its answer kicks again
        batch = self.outbox[peer][:MAX_BATCH]
        d.event(DeliveryEvent.SEND, int(now))
        envs = [self.envelope_for(st, peer) for st in batch]
        epoch = self.epoch
        self.fed.call(self, peer, sum(e.size for e in envs),
                      lambda target: target.take(self.nid, envs),
                      lambda ok: self._pushed(peer, batch, ok, epoch))

    def _timer(self, peer: bytes, when: float) -> None:
        if self.timer_at.get(peer, -1.0) == when:
            return
        self.timer_at[peer] = when
        epoch = self.epoch
        self.fed.loop.at(when, lambda: self.online and self.epoch == epoch and self.kick(peer))

    def _pushed(self, peer: bytes, batch: list[Stmt], ok: object, epoch: int) -> None:
        if epoch != self.epoch or not self.online:
            return
        d = self.delivery_of(peer)
        now = int(self.fed.loop.now)
        if ok is None:
            d.event(DeliveryEvent.FAILURE, now, self.fed.rng.random())
        else:
            d.event(DeliveryEvent.SUCCESS, now)
            sent = {st.seq for st in batch}
            self.outbox[peer] = [st for st in self.outbox[peer] if st.seq not in sent]
        self.kick(peer)

    def contact(self, peer: bytes) -> None:
        """Any request or answer from ``peer``, in every state as node/core/sync.py does (a contact
        during a push in flight applies after its failure, section 13.3); it was dropped while in
        flight here, which left a node unreached for 1,100 s at 1,000 nodes (docs/performance.md)."""
        self.delivery_of(peer).event(DeliveryEvent.CONTACT, int(self.fed.loop.now))
        self.kick(peer)

    # --- receiving (sections 9, 13.2) -------------------------------------------------------------

    def take(self, origin: bytes, envs: list[Env]) -> bool:
        """A push or a pull page from ``origin``, each envelope on its own; gaps are held."""
        self.contact(origin)
        for env in envs:
            if env.body:
                self.copies[env.st.root] = self.copies.get(env.st.root, 0) + 1
            head = self.heads.get(origin, 0)
            if env.st.seq <= head:
                if env.body and (origin, env.st.seq) in self.header_only:  # a wanted body (14.2)
                    del self.header_only[(origin, env.st.seq)]
                    self._body(origin, env.st)
                continue
            self.held.setdefault(origin, {})[env.st.seq] = env
            held = self.held[origin]
            while head + 1 in held:
                head += 1
                self.heads[origin] = head
                self._apply(origin, held.pop(head))
        return True

    def _apply(self, origin: bytes, env: Env) -> None:
        if env.body:
            self._body(origin, env.st)
        elif env.st.kind == "reshare" and env.offer and worth_wanting(
                self.nearest.get(env.st.root), len(env.st.path) + 1, env.st.hops):
            self.header_only[(origin, env.st.seq)] = env.st
            want = self.wants.offered(env.st.root, origin, env.st.seq, len(env.st.path) + 1, int(self.fed.loop.now),
                                      author_is_partner=env.st.root_author in self.peers)
            self._want_or_wait(want)

    def _body(self, origin: bytes, st: Stmt) -> None:
        if st.kind == "job":
            self.obtain(st, (), origin)
        elif self.fed.strategy == "flood" or len(st.path) + 1 <= st.hops:  # verify_reshare's hop-limit
            self.obtain(st, st.path, origin)

    def obtain(self, st: Stmt, path: tuple[bytes, ...], origin: bytes) -> None:
        distance = len(path) + 1
        if st.root not in self.holds:
            self.holds[st.root] = (self.fed.loop.now, distance)
            self.fed.obtained(self, st.root)
        self.nearest[st.root] = min(distance, self.nearest.get(st.root, distance))
        if self.wants.roots:
            self._want_or_wait(self.wants.obtained(st.root, self.nearest[st.root], int(self.fed.loop.now)))
        if st.root_author == self.nid:
            return
        if self.fed.strategy == "flood":
            new_path: tuple[bytes, ...] | None = None if st.root in self.reshared else (*path, self.nid)
            exclude = frozenset({origin})
        else:
            if self.fed.strategy == "eager" and st.root in self.reshared:
                return  # version 1: at most once per root
            new_path = reshare_path(self.nid, st.root_author, st.hops, path, self.reshared.get(st.root))
            exclude = reshare_exclusions(st.root_author, new_path) if new_path else frozenset()
        if new_path is None:
            return
        repeat = st.root in self.reshared
        self.reshared[st.root] = distance
        size = st.size + self.fed.card_bytes + 40 * len(new_path)  # the root, its author's card, the path
        self.append(Stmt(self.nid, len(self.log) + 1, "reshare", st.root, st.root_author, st.hops, new_path,
                         Audience.all_trusted(exclude=exclude), size, repeat))

    # --- wants (section 14.2) ---------------------------------------------------------------------

    def _want_or_wait(self, want: object) -> None:
        from protocol.reshare_want import Want

        if isinstance(want, Want):
            self._send_want(want)
        self._arm_want_timer()

    def _arm_want_timer(self) -> None:
        deadline = self.wants.next_deadline()
        if deadline is None or (self.want_timer is not None and self.want_timer <= deadline
                                and self.want_timer > self.fed.loop.now):
            return
        self.want_timer = float(deadline)
        epoch = self.epoch
        self.fed.loop.at(deadline, lambda: self._want_due(epoch))

    def _want_due(self, epoch: int) -> None:
        self.want_timer = None
        if epoch != self.epoch or not self.online:
            return
        for want in self.wants.due(int(self.fed.loop.now)):
            self._send_want(want)
        self._arm_want_timer()

    def _send_want(self, want: object) -> None:
        from protocol.reshare_want import Want

        assert isinstance(want, Want)
        epoch = self.epoch

        def answered(envs: object) -> None:
            if epoch != self.epoch or not self.online:
                return
            if not isinstance(envs, list):
                self._want_or_wait(self.wants.failed(want.root, want.peer, int(self.fed.loop.now)))
                return
            self.take(want.peer, envs)
            if not any(e.body for e in envs):  # answered without the body
                self._want_or_wait(self.wants.failed(want.root, want.peer, int(self.fed.loop.now)))

        self.fed.call(self, want.peer, 40, lambda server: server.serve_want(self.nid, want.seq), answered)

    def serve_want(self, asker: bytes, seq: int) -> list[Env]:
        """The asker's want: our own statement ``seq`` made for it, with its body if it is in the
        audience (never the offer form again: it asked for the body)."""
        self.contact(asker)
        if not 1 <= seq <= len(self.log):
            return []
        st = self.log[seq - 1]
        return [Env(st, st.audience.admits(asker))]

    # --- churn, recovery and pull (section 13.4) --------------------------------------------------

    def go_offline(self) -> None:
        self.went_offline.append(self.fed.loop.now)
        self.online = False
        self.epoch += 1

    def come_back(self) -> None:
        """A restart: in-memory schedules are gone; ask every partner for our log, then pull each."""
        for peer in self.peers:  # for the catch-up figure: what each partner online now could serve
            partner = self.fed.nodes[peer]
            partner.back_with[self.nid] = {root: True for root in partner.holds} if partner.online else {}
        self.online = True
        self.epoch += 1
        self.delivery.clear()
        self.push_hold.clear()
        self.timer_at.clear()
        self.want_timer = None
        self.wants.hold(int(self.fed.loop.now + CATCHUP_HOLD_MS))
        self.unanswered = set(self.peers)
        for peer in self.peers:
            self.fed.call(self, peer, 60, lambda server: server.expect_pull(self.nid), lambda _ok, p=peer: self.pull(p))
            self.kick(peer)
        self._arm_want_timer()

    def expect_pull(self, asker: bytes) -> bool:
        self.contact(asker)
        self.push_hold[asker] = self.fed.loop.now + PULL_EXPECTED_MS
        self._timer(asker, self.push_hold[asker])
        return True

    def pull(self, peer: bytes) -> None:
        epoch = self.epoch
        have = self.heads.get(peer, 0)

        def page(answer: object) -> None:
            if epoch != self.epoch or not self.online:
                return
            envs, more = answer if isinstance(answer, tuple) else ([], False)
            before = self.heads.get(peer, 0)
            if envs:
                self.take(peer, envs)
            if peer in self.unanswered:  # the first page (or failure) of every partner: ask for bodies
                self.unanswered.discard(peer)
                if not self.unanswered:
                    for want in self.wants.release(int(self.fed.loop.now)):
                        self._send_want(want)
                    self._arm_want_timer()
            if more and self.heads.get(peer, 0) > before:
                self.pull(peer)

        self.fed.call(self, peer, 80, lambda server: server.serve_pull(self.nid, have), page)

    def serve_pull(self, asker: bytes, have: int) -> tuple[list[Env], bool]:
        self.contact(asker)
        page = self.log[have:have + MAX_BATCH]
        more = have + len(page) < len(self.log)
        # What the have vector names needs no push; while the asker pages, its pull takes the backlog.
        self.outbox[asker] = [st for st in self.outbox.get(asker, []) if st.seq > have]
        self.push_hold[asker] = self.fed.loop.now + PULL_CLAIM_MS if more else 0.0
        self.kick(asker)
        return [self.envelope_for(st, asker) for st in page], more


Handler = Callable[[SimNode], object]
