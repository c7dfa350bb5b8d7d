"""A simulated federation: the nodes of one strategy on one graph, clock and churn, and one run.

Why: the three strategies must see exactly the same world (graph, link latencies, churn spells,
job authors and times) so their figures compare; each gets its own ``SimFederation`` built from the
same seed. ``run`` posts jobs across a simulated day while churn goes on, keeps a set of nodes
offline for the whole day, brings them back at its end, and returns the raw observations.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.propagation.sim_node import SimNode
from bench.propagation.world import CONNECT_TIMEOUT_MS, Links, Loop, churn_spells, trust_graph
from protocol.reshare_want import FEATURE
from protocol.sync import BackoffPolicy

DAY_MS = 24 * 3600_000.0
JOB_BYTES = 6_000  # a job body with a description (section 15.2), sealed
CARD_BYTES = 1_200  # the root author's card bundle a reshare carries
WINDOW_MS = 60_000.0  # the propagation figures are taken this long after a job is posted
HOPS = 8  # the largest hop limit a job may carry: "every reachable node" is then the connected part


def nid_of(i: int) -> bytes:
    return i.to_bytes(4, "big")


@dataclass
class JobRecord:
    root: bytes
    author: bytes
    posted_at: float
    reachable: set[bytes]  # online at posting and within HOPS of the author through online nodes
    got: dict[bytes, float] = field(default_factory=dict)  # node -> when it obtained the job
    window_copies: int = 0  # full payloads received by all nodes in the WINDOW_MS after posting
    window_got: int = 0


@dataclass
class SimFederation:
    strategy: str  # "eager" | "lazy" | "flood"
    n: int
    seed: int
    legacy_share: float = 0.0  # lazy only: this share of nodes predates reshare-want
    loop: Loop = field(default_factory=Loop)
    backoff: BackoffPolicy = field(default_factory=BackoffPolicy)
    card_bytes: int = CARD_BYTES
    nodes: dict[bytes, SimNode] = field(default_factory=dict)
    jobs: dict[bytes, JobRecord] = field(default_factory=dict)
    requests: int = 0
    bytes_sent: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.seed}/jitter")
        graph = trust_graph(self.n, random.Random(f"{self.seed}/graph"))
        self.links = Links(random.Random(f"{self.seed}/links"))
        legacy = random.Random(f"{self.seed}/legacy")
        for i, peers in enumerate(graph):
            lazy = self.strategy == "lazy" and legacy.random() >= self.legacy_share
            self.nodes[nid_of(i)] = SimNode(nid_of(i), i, [nid_of(j) for j in sorted(peers)], self, lazy=lazy)
        self.features = {FEATURE} if self.strategy == "lazy" else set()

    # --- the network ------------------------------------------------------------------------------

    def call(self, src: SimNode, dst_id: bytes, size: int, handler: Callable[[SimNode], object],
             on_answer: Callable[[object], None]) -> None:
        """A request from ``src`` to ``dst_id`` and its answer; ``on_answer(None)`` on failure."""
        dst = self.nodes[dst_id]
        self.requests += 1
        self.bytes_sent += size
        if not dst.online:
            self.loop.after(CONNECT_TIMEOUT_MS, on_answer, None)
            return
        there = self.links.one_way(src.index, dst.index, size)

        def arrive() -> None:
            if not dst.online:
                self.loop.after(CONNECT_TIMEOUT_MS - there, on_answer, None)
                return
            answer = handler(dst)
            back = self.links.one_way(dst.index, src.index, _size_of(answer))
            self.bytes_sent += _size_of(answer)
            self.loop.after(back, on_answer, answer)

        self.loop.after(there, arrive)

    def obtained(self, node: SimNode, root: bytes) -> None:
        record = self.jobs.get(root)
        if record is not None:
            record.got[node.nid] = self.loop.now

    # --- the scenario -----------------------------------------------------------------------------

    def reachable_from(self, author: bytes, online_only: bool = True) -> set[bytes]:
        """Nodes within HOPS trust links of ``author`` (through nodes online now, if ``online_only``)."""
        seen = {author}
        frontier = [author]
        for _ in range(HOPS):
            nxt = []
            for a in frontier:
                for b in self.nodes[a].peers:
                    if b not in seen and (self.nodes[b].online or not online_only):
                        seen.add(b)
                        nxt.append(b)
            frontier = nxt
        seen.discard(author)
        return seen

    def post(self, author: bytes, root: bytes) -> None:
        index = self.nodes[author].index
        while not self.nodes[nid_of(index)].online:  # an author that is down posts nothing: the next one does
            index = (index + 1) % self.n
        author = nid_of(index)
        self.jobs[root] = JobRecord(root, author, self.loop.now, self.reachable_from(author))
        self.nodes[author].post_job(root, HOPS, JOB_BYTES)
        self.loop.after(WINDOW_MS, self._snapshot, root)

    def _snapshot(self, root: bytes) -> None:
        record = self.jobs[root]
        record.window_copies = sum(node.copies.get(root, 0) for node in self.nodes.values())
        record.window_got = len(record.got)
        # A node that went down during the window is not counted as reachable for this job.
        record.reachable = {n for n in record.reachable
                            if not any(record.posted_at <= t <= self.loop.now for t in self.nodes[n].went_offline)}


def _size_of(answer: object) -> int:
    from bench.propagation.sim_node import Env

    if isinstance(answer, tuple):
        answer = answer[0]
    if isinstance(answer, list):
        return 40 + sum(e.size if isinstance(e, Env) else 40 for e in answer)
    return 40


@dataclass(frozen=True)
class Plan:
    """The world's script, the same for every strategy: churn spells, who is away all day, the jobs."""

    spells: list[list[tuple[float, float]]]
    away: list[int]  # offline for the whole day, back at its end
    jobs: list[tuple[float, int]]  # (time, author)


def make_plan(n: int, seed: int, jobs: int) -> Plan:
    rng = random.Random(f"{seed}/plan")
    spells = churn_spells(n, 2 * DAY_MS, random.Random(f"{seed}/churn"))
    away = sorted(rng.sample(range(n), max(1, n // 100)))
    for i in away:  # away from t=0 to the end of the day, then online for the catch-up
        spells[i] = [(0.0, DAY_MS)]
    times = [DAY_MS * (k + 0.5) / (jobs + 1) for k in range(jobs)]
    authors = [a for a in rng.sample(range(n), min(n, jobs + len(away))) if a not in away][:jobs]
    return Plan(spells, away, list(zip(times, authors, strict=True)))


def run(fed: SimFederation, plan: Plan, catchup_ms: float = 3600_000.0) -> SimFederation:
    for i, spells in enumerate(plan.spells):
        node = fed.nodes[nid_of(i)]
        for start, end in spells:
            if start <= 0:
                node.online = False
            else:
                fed.loop.at(start, node.go_offline)
            if end < DAY_MS + catchup_ms:
                fed.loop.at(end, node.come_back)
    for k, (when, author) in enumerate(plan.jobs):
        fed.loop.at(when, fed.post, nid_of(author), b"job" + k.to_bytes(4, "big"))
    fed.loop.run_until(DAY_MS + catchup_ms)
    return fed
