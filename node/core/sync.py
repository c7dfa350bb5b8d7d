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
import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.core.clock import earliest_wakeup, jitter
from node.core.errors import PeerAddressRefused, PeerCertificateRefused, PeerUnavailable
from node.core.federation import Federation
from node.core.restore import finish_restore, own_recovery_request, restore_pending, take_own_recovered
from node.logs import log_event
from protocol.errors import UNKNOWN_VERSION, ProtocolError
from protocol.page_seal import ASK_SEALED_PAGES
from protocol.sync import BackoffPolicy, Batch, DeliveryEvent, PeerDelivery, PullRequest
from protocol.versions import BASE_VERSION, MessageSet
from storage import peers as P

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient, PeerAnswer

PUSH_PATH = "/federation/v1/push"
PULL_PATH = "/federation/v1/pull"
MAX_PULL_PAGES = 1000
MIN_TIMER_SLEEP = 0.05  # s: a timer due again at once (a failing one) cannot spin the loop


@dataclass
class PullReport:
    peer: bytes
    ok: bool
    appended: int = 0
    error: str | None = None
    retry_after: float | None = None  # s (>= 1): the peer refused for now (rate-limited) and said when to retry


def _encode_pull(request: PullRequest, messages: MessageSet) -> bytes:
    return messages.encode_pull(request)


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
    _maintenance: asyncio.Task[None] | None = None
    _timers_wake: asyncio.Event = field(default_factory=asyncio.Event)
    _running: bool = False
    # Why the last push or pull to a peer was refused before connecting (its URL or address; item 10),
    # shown to the admin in `trust list` until a request to that peer goes through again.
    refused: dict[bytes, str] = field(default_factory=dict)
    # Partners that answered our own-log recovery since this home was restored (issue 10 item 2).
    resynced: set[bytes] = field(default_factory=set)
    # The protocol versions each peer last advertised (docs/protocol.md 1.1): the highest common
    # one is spoken to it. In memory: one answer from the peer relearns it after a restart.
    peer_versions: dict[bytes, frozenset[int]] = field(default_factory=dict)
    # Per peer: the set it advertised when it refused a version with unknown-version, and that version.
    _version_refusals: dict[bytes, tuple[frozenset[int], int]] = field(default_factory=dict)

    async def start(self) -> None:
        self._running = True
        self.federation.on_outbox = self.wake
        self.federation.on_trusted = self.peer_trusted
        for peer in self.federation.peers.trusted():
            self._ensure_sender(peer.node_id)
            self._ensure_puller(peer.node_id)
        self._maintenance = asyncio.create_task(self._maintenance_loop(), name="orgnode-sync-maintenance")

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
            try:
                batch, ids = self.federation.outbox_batch(peer_id)
            except Exception as exc:  # e.g. a peer card with an unusable key: back off, keep the loop
                log_event("push.build-error", logging.ERROR, peer=peer_id, error=type(exc).__name__)
                delivery.event(DeliveryEvent.SEND, now)
                delivery.event(DeliveryEvent.FAILURE, self.federation.clock(), jitter(self.federation.random))
                continue
            if not ids:
                await wake.wait()
                continue
            delivery.event(DeliveryEvent.SEND, now)
            ok = await self._push(peer.url, peer_id, batch, ids)
            delivery.event(DeliveryEvent.SUCCESS if ok else DeliveryEvent.FAILURE, self.federation.clock(), jitter(self.federation.random))
            if not ok:
                log_event("push.retry", logging.INFO, peer=peer_id, attempts=delivery.attempts,
                          in_ms=delivery.next_attempt_at - self.federation.clock())

    async def _post_sync(self, url: str, path: str, peer_id: bytes, encode: Callable[[MessageSet], bytes],
                         headers: dict[str, str] | None = None) -> tuple[PeerAnswer, MessageSet]:
        """POST a sync message in the highest version the peer and we share (docs/protocol.md 1.1).

        Every answer updates what the peer advertises. Refused with ``unknown-version`` (the peer was
        downgraded, or never spoke it), the request is sent once more at once in the version chosen
        from what the refusal advertised, less the refused one (no header: version 1)."""
        versions = self.federation.service.versions
        messages = versions.choose(self.peer_versions.get(peer_id))
        answer = await self.client.post(url, path, peer_id, encode(messages), version=messages.version, headers=headers)
        if answer.error_code != UNKNOWN_VERSION:
            self._learn_versions(peer_id, answer.versions)
            return answer, messages
        # Never the refused version again while the peer advertises the same set (a peer that
        # advertises a version it refuses must not make us retry it forever).
        self._version_refusals[peer_id] = (answer.versions, messages.version)
        self._learn_versions(peer_id, answer.versions)
        fallback = versions.choose(self.peer_versions[peer_id])
        if fallback.version == messages.version:
            return answer, messages
        log_event("peer.version-fallback", logging.WARNING, peer=peer_id, refused=messages.version, now=fallback.version)
        answer = await self.client.post(url, path, peer_id, encode(fallback), version=fallback.version, headers=headers)
        self._learn_versions(peer_id, answer.versions)
        return answer, fallback

    def _learn_versions(self, peer_id: bytes, advertised: frozenset[int]) -> None:
        """Record what a peer advertises, less a version it refused while advertising this same set;
        a changed set (the peer was upgraded or downgraded again) is taken as it is."""
        refusal = self._version_refusals.get(peer_id)
        if refusal is not None and refusal[0] == advertised:
            self.peer_versions[peer_id] = advertised - {refusal[1]} or frozenset({BASE_VERSION})
            return
        self._version_refusals.pop(peer_id, None)
        self.peer_versions[peer_id] = advertised

    async def _push(self, url: str, peer_id: bytes, batch: Batch, ids: list[bytes]) -> bool:
        try:
            answer, messages = await self._post_sync(url, PUSH_PATH, peer_id, lambda m: m.encode_batch(batch))
        except PeerUnavailable as exc:
            self._note_failure(peer_id, exc)
            log_event("push.unreachable", logging.INFO, peer=peer_id, error=str(exc)[:300])
            return False
        self._answered(peer_id)
        if answer.status != 200:
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
        self.federation.peers.acknowledge(peer_id, done)
        self.federation.health.delivered(peer_id, "push", len(done))
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
        if restore_pending(self.federation):
            return
        now = self.federation.clock()
        for timer in self.federation.timers:
            try:
                timer.run(now)
            except Exception as exc:
                log_event("timer.error", logging.ERROR, timer=timer.name, error=type(exc).__name__)

    async def pull_all(self) -> list[PullReport]:
        peers = self.federation.peers.trusted()
        return list(await asyncio.gather(*(self._pull_guarded(p.node_id, p.url) for p in peers)))

    async def _pull_guarded(self, peer_id: bytes, url: str) -> PullReport:
        """A bug while applying one peer's answer must not stop pulling from the others, or later."""
        try:
            return await self.pull_from(peer_id, url)
        except Exception as exc:
            log_event("pull.error", logging.ERROR, peer=peer_id, error=type(exc).__name__)
            return PullReport(peer_id, False, 0, f"internal error ({type(exc).__name__})")

    async def pull_from(self, peer_id: bytes, url: str) -> PullReport:
        if restore_pending(self.federation) and peer_id not in self.resynced:
            report = await self.recover_own_from(peer_id, url)
            if not report.ok:
                return report
            self.resynced.add(peer_id)
            if {p.node_id for p in self.federation.peers.trusted()} <= self.resynced:
                finish_restore(self.federation, "every partner answered")
        appended = 0
        for _ in range(MAX_PULL_PAGES):
            request = self.federation.have_vector_for(peer_id)
            try:
                answer, messages = await self._post_sync(url, PULL_PATH, peer_id, functools.partial(_encode_pull, request),
                                                         ASK_SEALED_PAGES)
            except PeerUnavailable as exc:
                self._note_failure(peer_id, exc)
                return PullReport(peer_id, False, appended, str(exc)[:300])
            self._answered(peer_id)
            if answer.status != 200:
                return PullReport(peer_id, False, appended, answer.error_code or f"HTTP {answer.status}", answer.retry_after)
            try:
                batch = messages.decode_batch(answer.body)
            except ProtocolError as exc:
                log_event("pull.bad-answer", logging.WARNING, peer=peer_id, code=exc.code)
                return PullReport(peer_id, False, appended, exc.code)
            try:
                results = self.federation.take_batch(peer_id, batch)
            except ProtocolError as exc:  # e.g. trust was revoked while the page was on its way
                log_event("pull.refused", logging.WARNING, peer=peer_id, code=exc.code)
                return PullReport(peer_id, False, appended, exc.code)
            new = sum(1 for r in results.results if r.outcome == "appended")
            appended += new
            self.contact(peer_id)
            # Progress is our copy of the peer's log growing (a push may have brought this page's
            # statements first, answering them here as duplicates): never page on without it.
            if not batch.more or not batch.envelopes or self.federation.have_vector_for(peer_id) == request:
                break
        if appended:
            log_event("pull.done", peer=peer_id, appended=appended)
        return PullReport(peer_id, True, appended)

    async def recover_own_from(self, peer_id: bytes, url: str) -> PullReport:
        """Own-log recovery (docs/protocol.md): page our own statements back from a partner that holds
        them, after our local head, until it has no more. A partner that answers with anything else
        (an older node that ignores the request) is not counted as resynced."""
        recovered = 0
        for _ in range(MAX_PULL_PAGES):
            request = own_recovery_request(self.federation)
            try:
                answer, messages = await self._post_sync(url, PULL_PATH, peer_id, functools.partial(_encode_pull, request))
            except PeerUnavailable as exc:
                self._note_failure(peer_id, exc)
                return PullReport(peer_id, False, recovered, str(exc)[:300])
            if answer.status != 200:
                return PullReport(peer_id, False, recovered, answer.error_code or f"HTTP {answer.status}")
            try:
                page = messages.decode_batch(answer.body)
                new = take_own_recovered(self.federation, peer_id, page)
            except ProtocolError as exc:
                log_event("restore.bad-answer", logging.WARNING, peer=peer_id, code=exc.code)
                return PullReport(peer_id, False, recovered, exc.code)
            recovered += new
            if not page.more or new == 0:
                break
        return PullReport(peer_id, True, recovered)

    def _answered(self, peer_id: bytes) -> None:
        """A request to the peer got an answer (whatever it said): it is reachable."""
        self.refused.pop(peer_id, None)
        self.federation.health.reached(peer_id, self.federation.clock())

    def _note_failure(self, peer_id: bytes, exc: PeerUnavailable) -> None:
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

    async def push_all(self) -> None:
        for peer in self.federation.peers.trusted():
            self.contact(peer.node_id)
