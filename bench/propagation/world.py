"""The simulated world: a seeded trust graph, its links, churn, and a discrete-event loop.

Why a module of its own: the federation's rules (bench/propagation/sim_node.py, which calls the
real ``protocol/`` code) must not know how time, links or failures are faked. Everything here is
deterministic for a seed: one ``random.Random`` per concern, events ordered by (time, sequence).

* **Graph.** Preferential attachment (Barabási–Albert, each new organization trusts ``m`` existing
  ones chosen in proportion to their degree, ``m`` drawn from 1–3): a few hubs, many small orgs.
* **Links.** One-way latency uniform in 20–200 ms per trust link (fixed per link, both ways), plus
  the bytes over a 10 Mbit/s path. Each one-way message is lost with probability 1%; as over TCP the
  loss costs a retransmission timeout (1 s, doubling while losses repeat), not the message.
* **Churn.** About 10% of the organizations are offline at any time: offline spells last hours
  (exponential, mean 4 h), online spells mean 36 h. A request to an offline node fails after a
  connect timeout; a node that comes back starts fresh (in-memory state lost, its log kept).
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

MIN_LATENCY_MS = 20.0
MAX_LATENCY_MS = 200.0
LOSS = 0.01
RTO_MS = 1_000.0
BYTES_PER_MS = 1_250.0  # 10 Mbit/s
CONNECT_TIMEOUT_MS = 5_000.0
OFFLINE_MEAN_MS = 4 * 3600_000.0
ONLINE_MEAN_MS = 36 * 3600_000.0


@dataclass
class Loop:
    """A discrete-event loop on a simulated clock in milliseconds."""

    now: float = 0.0
    _queue: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)
    events: int = 0

    def at(self, when: float, fn: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._queue, (max(when, self.now), next(self._order), fn, args))

    def after(self, delay: float, fn: Callable[..., None], *args: Any) -> None:
        self.at(self.now + delay, fn, *args)

    def run_until(self, end: float) -> None:
        while self._queue and self._queue[0][0] <= end:
            when, _, fn, args = heapq.heappop(self._queue)
            self.now = when
            self.events += 1
            fn(*args)
        self.now = max(self.now, end)


def trust_graph(n: int, rng: random.Random) -> list[set[int]]:
    """Preferential attachment: a few hubs, many organizations with one to three partners."""
    peers: list[set[int]] = [set() for _ in range(n)]
    ends: list[int] = []  # every edge's two ends: choosing from it is choosing by degree
    for i in range(1, n):
        m = min(i, rng.choice((1, 1, 2, 2, 3)))
        chosen: set[int] = set()
        while len(chosen) < m:
            chosen.add(rng.choice(ends) if ends else 0)
        for j in chosen:
            peers[i].add(j)
            peers[j].add(i)
            ends += (i, j)
    return peers


@dataclass
class Links:
    """Latency and loss of every trust link, from one seeded source."""

    rng: random.Random
    latency: dict[tuple[int, int], float] = field(default_factory=dict)

    def one_way(self, a: int, b: int, size: int) -> float:
        key = (a, b) if a < b else (b, a)
        base = self.latency.get(key)
        if base is None:
            base = self.latency[key] = self.rng.uniform(MIN_LATENCY_MS, MAX_LATENCY_MS)
        delay = base + size / BYTES_PER_MS
        rto = RTO_MS
        while self.rng.random() < LOSS:  # lost: the transport sends it again after its timeout
            delay += rto
            rto *= 2
        return delay


def churn_spells(n: int, horizon_ms: float, rng: random.Random) -> list[list[tuple[float, float]]]:
    """Per node, its offline spells (start, end) up to ``horizon_ms``; ~10% offline at any time."""
    share = OFFLINE_MEAN_MS / (OFFLINE_MEAN_MS + ONLINE_MEAN_MS)
    spells: list[list[tuple[float, float]]] = []
    for _ in range(n):
        mine: list[tuple[float, float]] = []
        offline = rng.random() < share
        t = 0.0
        while t < horizon_ms:
            if offline:
                end = t + rng.expovariate(1 / OFFLINE_MEAN_MS)
                mine.append((t, end))
                t = end
            else:
                t += rng.expovariate(1 / ONLINE_MEAN_MS)
            offline = not offline
        spells.append(mine)
    return spells
