"""In-process peers for the node state machine (tests/statemachine/test_node_machine.py).

Each peer is a real ``NodeRuntime`` over a real home (SQLite file in a temp dir): the real
protocol/, storage/ and node/core code, its real aiohttp federation server on 127.0.0.1. Peers
publish (in their signed org cards) the address of a ``LinkHub`` (tests/faults/link.py) on
127.0.0.x, so every ordered pair of peers has its own link the machine can partition and heal
while the nodes run. All peers share one ``FakeClock`` that follows the wall clock from an offset:
a clock step moves every node's clock (consent expiry, timers) at once; request signing stays on
the wall clock, so a step never makes requests stale.

The peers run on one asyncio loop the machine owns: a rule runs its coroutine to completion
(``Peers.run``); between rules the loop is idle, so the invariants read a quiet state.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node.core.restore import signing_paused
from node.core.service import NodeService
from node.home import Config, Home
from node.runtime import NodeRuntime
from protocol.identity import Identity
from tests.conftest import free_port
from tests.faults.link import LinkHub, Network
from tests.node.federation_helpers import FakeClock, pair, wait_until

SYNC_INTERVAL = 0.3
RETRY_BASE = 0.1
RETRY_CAP = 0.5
CONVERGE_S = 15.0  # backoff cap + two sync intervals, with room for a loaded 2-core machine
DELIVER_S = 3.0
START_CHECK_S = 1.0  # own_log_confirm_timeout: how long a restarted peer waits for an unreachable partner


@dataclass
class Peer:
    name: str
    home: Path
    hub: LinkHub
    runtime: NodeRuntime | None
    acked: set[bytes] = field(default_factory=set)  # own statement ids a use case returned from

    @property
    def rt(self) -> NodeRuntime:
        assert self.runtime is not None, f"{self.name} is stopped"
        return self.runtime

    @property
    def node_id(self) -> bytes:
        return self.rt.service.node_id

    def own_seq(self) -> int:
        return self.rt.service.log.head(self.node_id).seq

    def acknowledge_since(self, seq: int) -> None:
        """Every own statement after ``seq`` was made by a use case that returned: acknowledged."""
        for statement in self.rt.service.log.statements(self.node_id, after_seq=seq):
            self.acked.add(statement.id)


class Peers:
    """``count`` peers, pairwise trusted through their links, on one loop; ``close()`` ends them all."""

    def __init__(self, root: Path, count: int) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        self.network = Network()
        self.clock = FakeClock(follow_wall=True)
        self.peers: list[Peer] = []
        self.cut: set[tuple[int, int]] = set()  # unordered pairs (i < j) whose links are down
        try:
            for i in range(count):
                self.peers.append(self._create(i))
            for i in range(count):
                for j in range(i + 1, count):
                    self.run(self._pair(self.peers[i], self.peers[j]))
        except BaseException:
            self.close()
            raise

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        return self.loop.run_until_complete(coro)

    # --- set-up ----------------------------------------------------------------------------------

    def _create(self, i: int) -> Peer:
        name = f"P{i}"
        port = free_port()
        hub = self.network.hub(name, f"127.0.0.{i + 2}", ("127.0.0.1", port))
        home = Home(self.root / name)
        config = Config(f"{name} Org", "nonprofit", "127.0.0.1", port, hub.url, sync_interval=SYNC_INTERVAL,
                        retry_base=RETRY_BASE, retry_cap=RETRY_CAP, lan_advertise=False, lan_discovery=False,
                        allow_private_peers=True, own_log_confirm_timeout=START_CHECK_S, metrics_listen="",
                        dashboard_enabled=False)
        home.create(config, Identity.from_random(os.urandom), None)
        service = NodeService.open(home.path)
        service.clock = self.clock
        service.publish_org_card()
        peer = Peer(name, home.path, hub, None)
        peer.runtime = self.run(self._start(service))
        return peer

    async def _start(self, service: NodeService) -> NodeRuntime:
        runtime = NodeRuntime(service)
        await runtime.start()
        return runtime

    async def _pair(self, a: Peer, b: Peer) -> None:
        await pair(a.rt, b.rt)
        a.hub.link_from(b.node_id.hex(), b.name)
        b.hub.link_from(a.node_id.hex(), a.name)
        a.hub.reset()
        b.hub.reset()

    # --- faults ----------------------------------------------------------------------------------

    def partition(self, i: int, j: int) -> None:
        a, b = self.peers[i], self.peers[j]
        a.hub.link_from(b.node_id.hex()).partition()
        b.hub.link_from(a.node_id.hex()).partition()
        self.cut.add((min(i, j), max(i, j)))

    def heal(self, i: int, j: int) -> None:
        a, b = self.peers[i], self.peers[j]
        a.hub.link_from(b.node_id.hex()).heal()
        b.hub.link_from(a.node_id.hex()).heal()
        self.cut.discard((min(i, j), max(i, j)))

    def heal_all(self) -> None:
        for i, j in list(self.cut):
            self.heal(i, j)

    def reachable(self, i: int, j: int) -> bool:
        return (min(i, j), max(i, j)) not in self.cut

    def restart(self, i: int) -> None:
        """Stop the peer (its servers, sync and database), then open its home again as a new process
        would and start it; wait (bounded) until its start check is over, as an admin's request does."""
        peer = self.peers[i]
        self.run(peer.rt.stop())
        peer.rt.service.close()
        service = NodeService.open(peer.home)
        service.clock = self.clock
        peer.runtime = self.run(self._start(service))
        if any(self.reachable(i, j) for j in range(len(self.peers)) if j != i):
            self.confirm(i)

    def confirm(self, i: int) -> None:
        """Wait (bounded) until peer ``i``'s start check is over: a partner confirmed its own log."""
        peer = self.peers[i]
        self.run(self.wait(lambda: not signing_paused(peer.rt.federation), what=f"{peer.name}'s start check"))

    def delivered(self, i: int) -> None:
        """Let the loop run until every partner peer ``i`` can reach holds its acknowledged statements
        (at most ``DELIVER_S``; not a check, only so later rules see what a user would soon see)."""
        peer = self.peers[i]
        near = [p for j, p in enumerate(self.peers) if j != i and self.reachable(i, j) and not signing_paused(p.rt.federation)]

        def done() -> bool:
            return all(p.rt.service.log.get(sid) is not None for p in near for sid in peer.acked)
        try:
            self.run(self.wait(done, what="delivery", timeout=DELIVER_S))
        except AssertionError:
            pass  # slow delivery is not a failure here: ``settle`` and the end of a program check convergence

    def step_clock(self, ms: int) -> None:
        self.clock.advance(ms)

    def now(self) -> int:
        return self.clock()

    # --- waiting ---------------------------------------------------------------------------------

    async def wait(self, cond: Callable[[], Any], what: str, timeout: float = CONVERGE_S) -> Any:
        """Run the loop until ``cond()`` is truthy (polled every 20 ms of loop time), or fail naming ``what``."""
        return await wait_until(cond, timeout, 0.02, what)  # yields the loop to the nodes meanwhile

    def close(self) -> None:
        for peer in self.peers:
            if peer.runtime is not None:
                try:
                    self.run(peer.runtime.stop())
                finally:
                    peer.runtime.service.close()
                    peer.runtime = None
        self.network.close()
        self.loop.close()
