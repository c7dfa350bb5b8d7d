"""Learning a partner's key rotation when its request does not verify (issue 15 item 4).

A partner that rotated signs every request with its new key at once, and we learn the new key only
from its rotation statement. When we rotated too, the partner cannot authenticate our pulls either,
so neither side could ever fetch the other's rotation over the authenticated API: two partners that
rotated before exchanging stalled for good (found by the node state machine). So when a trusted
partner's request fails its signature check under the key we hold, we fetch the partner's card
bundle (``GET /.well-known/orgnode``, unauthenticated) from the URL on our trust list and adopt its
key history only if it carries ours on (``KeyHistory.extends``): every new key is vouched for by a
rotation statement signed by the key we already held, so the URL proves nothing and the signatures
prove everything (docs/protocol.md 12.3). The request is then checked once more, under the new
current key only; a rotated-away key never authenticates again.

Bounded: at most one fetch at a time per partner, and after a fetch that taught nothing (a forged
request naming the partner, or a rotated-away key) none for ``MIN_INTERVAL_MS``.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.core.errors import PeerUnavailable
from node.core.federation import Federation
from node.logs import log_event
from protocol.card_bundle import verify_bundle
from protocol.errors import ProtocolError
from protocol.peer_url import endpoint_url
from storage import peers as P

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient

CARD_PATH = "/.well-known/orgnode"
MIN_INTERVAL_MS = 10_000
# The fetch runs while the partner's request waits for its answer: short, so a partner we cannot reach
# back (one-way reachability) costs its request seconds, not the client's 20 s total.
FETCH_TIMEOUT_S = 5.0


@dataclass
class KeyRefresh:
    federation: Federation
    client: FederationClient
    min_interval_ms: int = MIN_INTERVAL_MS
    _quiet_until: dict[bytes, int] = field(default_factory=dict)  # per partner: no fetch before (node clock)
    _in_flight: dict[bytes, asyncio.Task[bool]] = field(default_factory=dict)

    async def learn(self, peer_id: bytes) -> bool:
        """Fetch the trusted partner's card and adopt a longer key history that carries ours on.
        True if one was adopted (the request that failed may verify now); False if none was, or a
        fetch is not due. Concurrent callers for one partner share one fetch."""
        task = self._in_flight.get(peer_id)
        if task is None:
            if self.federation.clock() < self._quiet_until.get(peer_id, 0):
                return False
            task = asyncio.ensure_future(self._fetch(peer_id))
            self._in_flight[peer_id] = task
            task.add_done_callback(lambda _: self._in_flight.pop(peer_id, None))
        return await asyncio.shield(task)

    async def _fetch(self, peer_id: bytes) -> bool:
        learnt = False
        try:
            learnt = await self._fetch_and_adopt(peer_id)
        finally:
            if not learnt:
                self._quiet_until[peer_id] = self.federation.clock() + self.min_interval_ms
        return learnt

    async def _fetch_and_adopt(self, peer_id: bytes) -> bool:
        peer = self.federation.peers.get(peer_id)
        held = self.federation.service.log.key_history(peer_id)
        if peer is None or peer.state != P.TRUSTED or held is None:
            return False
        try:
            async with asyncio.timeout(FETCH_TIMEOUT_S):
                card = await self.client.get(endpoint_url(peer.url, CARD_PATH))
            verified = verify_bundle(card, expected_node_id=peer_id)
        except (PeerUnavailable, ProtocolError, TimeoutError) as exc:
            log_event("key.refresh-failed", logging.INFO, peer=peer_id, error=str(getattr(exc, "code", type(exc).__name__)))
            return False
        if len(verified.history.periods) <= len(held.periods):
            log_event("key.refresh-nothing-new", logging.INFO, peer=peer_id, keys=len(held.periods))
            return False
        await self.federation.writes.wait()  # not inside SQLite's busy handler, holding the loop (off_loop_writes.py)
        now_held = self.federation.service.log.key_history(peer_id)
        if now_held is not None and now_held != held and len(now_held.periods) >= len(verified.history.periods):
            return True  # the rotation arrived through sync while we fetched: the request may verify now
        if not self.federation.service.log.learn_rotations(verified.history):
            # The card names other keys than the history we hold: a rotation made with an old key.
            log_event("key.refresh-conflict", logging.WARNING, peer=peer_id, held=len(held.periods),
                      offered=len(verified.history.periods))
            return False
        log_event("key.rotation-learnt", peer=peer_id, keys=len(verified.history.periods), via="card")
        return True
