"""The sync loops of a running node: one push sender per trusted peer, and a periodic puller.

The design (durable outbox, one batch in flight per peer, capped exponential backoff with
jitter reset on any authenticated contact, "have"-vector pulls every interval so a node catches up
with no new traffic) is described in ``protocol/sync.py``, whose state machine this drives. This
module only moves bytes and timers: what to send and what an answer means is decided there and in
``node/core/federation.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.core import pull_pages
from node.core.clock import earliest_wakeup, jitter
from node.core.errors import PeerAddressRefused, PeerCertificateRefused, PeerUnavailable, StorageFull
from node.core.federation import Federation
from node.core.negotiation import VersionNegotiation
from node.core.pull_pages import PullReport
from node.core.restore import (
    begin_start_check,
    settle,
    signing_paused,
)
from node.core.want_sender import start_want
from node.logs import log_event
from protocol.errors import DISK_FULL, ProtocolError
from protocol.reshare_want import WANT_TIMEOUT_MS
from protocol.sync import BackoffPolicy, Batch, BatchSize, DeliveryEvent, PeerDelivery
from storage import peers as P

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient

PUSH_PATH = "/federation/v1/push"
MIN_TIMER_SLEEP = 0.05  # s: a timer due again at once (a failing one) cannot spin the loop


@dataclass(frozen=True)
class DrainReport:
    """What a graceful stop found in flight and what it let finish (``SyncEngine.drain``)."""

    pushes_in_flight: int = 0
    pushes_finished: int = 0
    pushes_cut: int = 0  # still unanswered at the deadline: its statements stay in the outbox, resent after a restart


@dataclass
class SyncEngine:
    federation: Federation
    client: FederationClient
    interval: float = 30.0
    policy: BackoffPolicy = field(default_factory=BackoffPolicy)
    deliveries: dict[bytes, PeerDelivery] = field(default_factory=dict)
    _wake: dict[bytes, asyncio.Event] = field(default_factory=dict)
    _senders: dict[bytes, asyncio.Task[None]] = field(default_factory=dict)
    _pullers: dict[bytes, asyncio.Task[None]] = field(default_factory=dict)
    _pull_wake: dict[bytes, asyncio.Event] = field(default_factory=dict)
    after_pull: list[Callable[[FederationClient, bytes, str], Awaitable[object]]] = field(default_factory=list)
    _maintenance: asyncio.Task[None] | None = None
    _timers_wake: asyncio.Event = field(default_factory=asyncio.Event)
    _running: bool = False
    # Why the last push or pull to a peer was refused before connecting (its URL or address; item 10),
    # shown to the admin in `trust list` until a request to that peer goes through again.
    refused: dict[bytes, str] = field(default_factory=dict)
    # Partners that answered our own-log recovery since this home was restored (issue 10 item 2).
    # Per peer, how many statements the next push batch / pull page carries: halved after a failed or
    # cut transfer, doubled after a success (protocol.sync.BatchSize; issue 10 item 7).
    push_sizes: dict[bytes, BatchSize] = field(default_factory=dict)
    pull_sizes: dict[bytes, BatchSize] = field(default_factory=dict)
    no_max_items: set[bytes] = field(default_factory=set)  # peers that refused a pull naming max_items (older nodes)
    negotiation: VersionNegotiation = field(init=False)
    _pushing: set[bytes] = field(default_factory=set)  # peers with a push batch on the wire now

    # Seconds the start check waits for unreachable partners once one answered (config own_log_confirm_timeout).
    confirm_timeout: float = 60.0

    def __post_init__(self) -> None:
        service = self.federation.service
        self.negotiation = VersionNegotiation(service.versions, peer_features=service.peer_features)

    @property
    def peer_versions(self) -> dict[bytes, frozenset[int]]:
        """The protocol versions each peer last advertised (docs/protocol.md 1.1)."""
        return self.negotiation.peer_versions

    @property
    def resynced(self) -> set[bytes]:
        """Partners that answered our own-log recovery pull since this process started."""
        return self.federation.start_check.answered

    async def start(self) -> None:
        begin_start_check(self.federation, int(self.confirm_timeout * 1000))  # before the first append
        self._running = True
        self.federation.on_outbox = self.wake
        self.federation.on_trusted = self.peer_trusted
        self.federation.wants.changed = self.timers_changed
        self.federation.wants.send = lambda want: start_want(self.federation, self.client, want, WANT_TIMEOUT_MS / 1000)
        for peer in self.federation.peers.trusted():
            self._ensure_sender(peer.node_id)
            self._ensure_puller(peer.node_id)
        self._maintenance = asyncio.create_task(self._maintenance_loop(), name="orgnode-sync-maintenance")

    async def drain(self, grace: float) -> DrainReport:
        """Start no new push or pull; let the ones in flight finish for at most ``grace`` seconds.

        Every loop leaves at its next wait (woken here), so only requests already on the wire are
        waited for. A push answered in time is acknowledged as usual (not resent after a restart); one
        still unanswered at the deadline is cut by ``stop`` and its statements stay in the durable
        outbox, so nothing is lost either way.
        """
        self._running = False
        in_flight = set(self._pushing)
        for event in (*self._wake.values(), *self._pull_wake.values(), self._timers_wake):
            event.set()
        tasks = [t for t in (*self._senders.values(), *self._pullers.values(), self._maintenance) if t is not None and not t.done()]
        if tasks and grace > 0:
            await asyncio.wait(tasks, timeout=grace)
        cut = len(in_flight & self._pushing)
        return DrainReport(len(in_flight), len(in_flight) - cut, cut)

    async def stop(self) -> None:
        self._running = False
        tasks = [*self._senders.values(), *self._pullers.values(), *([self._maintenance] if self._maintenance else [])]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._senders.clear()
        self._pullers.clear()
        await self.client.close()

    # --- events from the rest of the node ----------------------------------------------------

    def delivery(self, peer: bytes) -> PeerDelivery:
        if peer not in self.deliveries:
            self.deliveries[peer] = PeerDelivery(self.policy)
        return self.deliveries[peer]

    def wake(self, peers: list[bytes]) -> None:
        for peer in peers:
            self._ensure_sender(peer)
            self._wake[peer].set()

    def contact(self, peer: bytes) -> None:
        """An authenticated request from ``peer`` arrived: it is up, so retry at once."""
        self.delivery(peer).event(DeliveryEvent.CONTACT, self.federation.clock())
        if peer in self._wake:
            self._wake[peer].set()

    def peer_trusted(self, peer: bytes) -> None:
        self._ensure_sender(peer)
        self._wake[peer].set()
        self._ensure_puller(peer)
        self._pull_wake[peer].set()

    def _ensure_puller(self, peer: bytes) -> None:
        if peer not in self._pull_wake:
            self._pull_wake[peer] = asyncio.Event()
        task = self._pullers.get(peer)
        if self._running and (task is None or task.done()):
            self._pullers[peer] = asyncio.create_task(self._pull_loop(peer), name=f"orgnode-puller-{peer.hex()[:8]}")

    def _ensure_sender(self, peer: bytes) -> None:
        if peer not in self._wake:
            self._wake[peer] = asyncio.Event()
        task = self._senders.get(peer)
        if self._running and (task is None or task.done()):
            self._senders[peer] = asyncio.create_task(self._send_loop(peer), name=f"orgnode-sender-{peer.hex()[:8]}")

    # --- push ----------------------------------------------------------------------------------

    async def _send_loop(self, peer_id: bytes) -> None:
        wake = self._wake[peer_id]
        delivery = self.delivery(peer_id)
        while self._running:
            peer = self.federation.peers.get(peer_id)
            if peer is None or peer.state != P.TRUSTED:
                return
            now = self.federation.clock()
            if not delivery.ready(now):
                wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=max(0.0, (delivery.next_attempt_at - now) / 1000))
                continue
            wake.clear()
            if (claimed := self.federation.pull_claimed_until(peer_id, now)) is not None:  # it is pulling this backlog now
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), timeout=(claimed - now) / 1000)
                continue
            size = self.push_sizes.setdefault(peer_id, BatchSize())
            try:
                batch, ids = self.federation.outbox_batch(peer_id, size.size)
            except Exception as exc:  # e.g. a peer card with an unusable key: back off, keep the loop
                log_event("push.build-error", logging.ERROR, peer=peer_id, error=type(exc).__name__)
                delivery.event(DeliveryEvent.SEND, now)
                delivery.event(DeliveryEvent.FAILURE, self.federation.clock(), jitter(self.federation.random))
                continue
            if not ids:
                await wake.wait()
                continue
            delivery.event(DeliveryEvent.SEND, now)
            self._pushing.add(peer_id)
            try:
                ok = await self._push(peer.url, peer_id, batch, ids)
            finally:
                self._pushing.discard(peer_id)
            delivery.event(DeliveryEvent.SUCCESS if ok else DeliveryEvent.FAILURE, self.federation.clock(), jitter(self.federation.random))
            if not ok:
                log_event("push.retry", logging.INFO, peer=peer_id, attempts=delivery.attempts,
                          in_ms=delivery.next_attempt_at - self.federation.clock())

    async def _push(self, url: str, peer_id: bytes, batch: Batch, ids: list[bytes]) -> bool:
        size = self.push_sizes.setdefault(peer_id, BatchSize())
        try:
            answer, messages = await self.negotiation.post(self.client, url, PUSH_PATH, peer_id, lambda m: m.encode_batch(batch))
        except PeerUnavailable as exc:
            self.note_failure(peer_id, exc)
            if not isinstance(exc, PeerAddressRefused):  # a cut or failed transfer: send less next time
                size.failed()
            log_event("push.unreachable", logging.INFO, peer=peer_id, error=str(exc)[:300], next_batch=size.size)
            return False
        self.answered(peer_id)
        if answer.status == 507 and answer.error_code == DISK_FULL:  # the peer's disk: retry later, as backoff says
            log_event("push.deferred", logging.INFO, peer=peer_id, code=DISK_FULL)
            self.federation.health.partner_disk_full(peer_id, self.federation.clock())
            return False
        if answer.status != 200:
            if answer.status == 413:
                size.failed()
            log_event("push.refused", logging.WARNING, peer=peer_id, status=answer.status, code=answer.error_code)
            return False
        try:
            results = messages.decode_results(answer.body)
        except ProtocolError as exc:
            log_event("push.bad-answer", logging.WARNING, peer=peer_id, code=exc.code)
            return False
        # Every per-item answer is final for that item (taken, held, fork evidence, or rejected for
        # good); items the peer did not answer stay in the outbox. Answers come in push order, so an
        # item the peer could not even decode (answered with a zero id) is matched by position.
        if len(results.results) == len(ids):
            done = list(ids)
        else:
            answered = {r.id for r in results.results}
            done = [sid for sid in ids if sid in answered]
        await self.federation.writes.wait()  # not inside SQLite's busy handler, holding the loop (off_loop_writes.py)
        try:
            self.federation.peers.acknowledge(peer_id, done)
        except StorageFull:  # our own disk: the items stay queued and are pushed again (taken as duplicates)
            return False
        size.succeeded()
        self.federation.health.delivered(peer_id, "push", len(done))
        self.federation.health.pushed(peer_id, list(results.results), self.federation.clock(), self.federation.peers)
        log_event("push.done", peer=peer_id, items=len(done))
        return True

    # --- pull ----------------------------------------------------------------------------------

    async def _pull_loop(self, peer_id: bytes) -> None:
        """One independent loop per peer: a slow or stalling peer never delays pulls from the others."""
        wake = self._pull_wake[peer_id]
        while self._running:
            peer = self.federation.peers.get(peer_id)
            if peer is None or peer.state != P.TRUSTED:
                return
            wake.clear()
            report = await self._pull_guarded(peer_id, peer.url)
            jittered = self.interval * (0.9 + jitter(self.federation.random) * 0.2)
            jittered = min(jittered, report.retry_after or jittered)  # rate-limited: retry when the peer said
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), timeout=jittered)

    async def _maintenance_loop(self) -> None:
        """Every interval: retry unfinished reactions, and make sure every trusted peer has its loops.
        In between, run the timers whenever one is due: the loop sleeps until the earliest
        ``next_wakeup`` (bounded by the interval), or until ``timers_changed`` says work was scheduled."""
        loop = asyncio.get_running_loop()
        next_tick = loop.time()
        while self._running:
            await self.federation.writes.wait()  # a transaction off the loop: wait here, not in SQLite's busy handler
            if loop.time() >= next_tick:
                self._tick()
                next_tick = loop.time() + self.interval
            self._timers_wake.clear()
            self.run_timers()
            delay = min(next_tick - loop.time(), self.timer_delay())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._timers_wake.wait(), timeout=max(MIN_TIMER_SLEEP, delay))

    def _tick(self) -> None:
        """The once-per-interval work: reactions left unfinished (at most MAX_REACTION_ATTEMPTS tries,
        one per interval), and a sender and a puller for every trusted peer."""
        try:
            self.federation.retry_reactions()
        except Exception as exc:
            log_event("reaction.retry-error", logging.ERROR, error=type(exc).__name__)
        for peer in self.federation.peers.trusted():
            self._ensure_sender(peer.node_id)
            self._ensure_puller(peer.node_id)

    def timer_delay(self) -> float:
        """Seconds until the earliest timer is due by the node's clock, at most the interval."""
        now = self.federation.clock()
        due = earliest_wakeup(self.federation.timers, now)
        return self.interval if due is None else min(self.interval, max(0.0, (due - now) / 1000))

    def timers_changed(self) -> None:
        """Work was scheduled, or a (test's) clock was moved on: run what is due and recompute the sleep."""
        self._timers_wake.set()

    def run_timers(self) -> None:
        """Run the work that is due by the node's clock (``Federation.timers``); one failing timer
        neither stops the others nor the loop. None while a restore is pending: timers may sign."""
        if signing_paused(self.federation):
            settle(self.federation)  # the start check's timeout runs on the node's clock
            return
        now = self.federation.clock()
        for timer in self.federation.timers:
            try:
                timer.run(now)
            except StorageFull:  # retried at its next run; DiskWatch logged the episode once
                continue
            except Exception as exc:
                log_event("timer.error", logging.ERROR, timer=timer.name, error=type(exc).__name__)

    async def pull_all(self) -> list[PullReport]:
        peers = self.federation.peers.trusted()
        return list(await asyncio.gather(*(self._pull_guarded(p.node_id, p.url) for p in peers)))

    async def _pull_guarded(self, peer_id: bytes, url: str) -> PullReport:
        """A bug while applying one peer's answer must not stop pulling from the others, or later."""
        try:
            report = await self.pull_from(peer_id, url)
            for hook in self.after_pull:  # e.g. collect the peer's cosignature of our checkpoint (protocol.md 18.7)
                await hook(self.client, peer_id, url)
            return report
        except StorageFull:  # our disk is full (DiskWatch warned once); the page is asked for again later
            return PullReport(peer_id, False, 0, DISK_FULL)
        except Exception as exc:
            log_event("pull.error", logging.ERROR, peer=peer_id, error=type(exc).__name__)
            return PullReport(peer_id, False, 0, f"internal error ({type(exc).__name__})")

    async def pull_from(self, peer_id: bytes, url: str) -> PullReport:
        return await pull_pages.pull_from(self, peer_id, url)

    async def recover_own_from(self, peer_id: bytes, url: str) -> PullReport:
        return await pull_pages.recover_own_from(self, peer_id, url)

    def answered(self, peer_id: bytes) -> None:
        """A request to the peer got an answer (whatever it said): it is reachable."""
        self.refused.pop(peer_id, None)
        self.federation.health.reached(peer_id, self.federation.clock())
        self.federation.health.refused(peer_id, None, "", self.federation.clock())

    def note_failure(self, peer_id: bytes, exc: PeerUnavailable) -> None:
        """Remember a refused URL, address or TLS certificate (logged once per new reason) so the admin sees it in
        `trust list` and `orgnode status`; tell health the peer was not reached (it logs the outage once past the
        threshold)."""
        self.federation.health.unreachable(peer_id, self.federation.clock())
        if isinstance(exc, PeerAddressRefused | PeerCertificateRefused):
            reason = str(exc)[:300]
            if self.refused.get(peer_id) != reason:
                event = "peer.address-refused" if isinstance(exc, PeerAddressRefused) else "peer.certificate-refused"
                log_event(event, logging.WARNING, peer=peer_id, reason=reason)
            self.refused[peer_id] = reason
            kind = "address" if isinstance(exc, PeerAddressRefused) else "certificate"
            self.federation.health.refused(peer_id, kind, reason, self.federation.clock())

    async def push_all(self) -> None:
        for peer in self.federation.peers.trusted():
            self.contact(peer.node_id)
