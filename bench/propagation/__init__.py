"""Federation simulator (issue 15 item 1): how fast a new job reaches a federation, at what cost.

Why: no test with a handful of real nodes shows what a thousand organizations do. This drives the
real ``protocol/`` rules (re-share path and hop bound, audience, push schedule and backoff, lazy
have/want) with a discrete-event loop on a simulated clock, over a seeded trust graph with hubs and
many small orgs, WAN latencies, loss and churn (bench/propagation/world.py), for three strategies
on the same world: ``lazy`` (section 14.2, ``reshare-want``), ``eager`` (version 1, section 14) and
``flood`` (naive flooding, the comparison).

``simulate(n, seed, jobs)`` returns the figures per strategy; ``python -m bench.propagation
[--quick]`` prints them and the RESULT lines (docs/performance.md "Propagation (issue 15 item 1)").
Same seed, same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bench.common import percentile
from bench.propagation.federation import DAY_MS, SimFederation, make_plan, nid_of, run

STRATEGIES = ("lazy", "eager", "flood")


@dataclass(frozen=True)
class Figures:
    strategy: str
    n: int
    jobs: int
    reach: float  # share of the reachable (node, job) pairs reached within the window
    rounds: int  # most trust links any reachable node's first copy travelled (worst job)
    p50_s: float  # simulated seconds from posting to a reachable node holding the job
    p99_s: float
    all_s: float  # until every reachable node held it (worst job)
    copies: float  # full payloads received per node that holds the job, within the window
    copies_run: float  # the same over the whole run (catch-ups and re-shares after churn included)
    catchup_s: float  # p99, seconds from a day-away node's return until it holds every job
    catchup_copies: float  # full payloads per job a day-away node received while catching up
    requests: int
    events: int

    @property
    def rounds_goal(self) -> int:
        return math.ceil(math.log2(self.n)) + 2


def figures(fed: SimFederation, away: list[int]) -> Figures:
    delays: list[float] = []
    worst_all = 0.0
    rounds = 0
    pairs = reached = 0
    window_copies = window_got = run_copies = run_got = 0
    for record in fed.jobs.values():
        pairs += len(record.reachable)
        times = [record.got[n] - record.posted_at for n in record.reachable if n in record.got]
        reached += sum(1 for t in times if t <= 60_000)
        delays += times
        worst_all = max(worst_all, max(times, default=0.0) if len(times) == len(record.reachable) else math.inf)
        rounds = max(rounds, max((fed.nodes[n].holds[record.root][1] for n in record.reachable if n in record.got), default=0))
        window_copies += record.window_copies
        window_got += record.window_got
        run_copies += sum(node.copies.get(record.root, 0) for node in fed.nodes.values())
        run_got += len(record.got)
    catchup: list[float] = []
    catchup_copies = 0
    for i in away:
        node = fed.nodes[nid_of(i)]
        # due: every job one of its partners held when it came back (a partner away too cannot serve it)
        due = [r for r in fed.jobs.values() if r.author != node.nid and any(
            fed.nodes[p].back_with.get(node.nid, {}).get(r.root) for p in node.peers)]
        if not due:
            continue
        when = [r.got.get(node.nid, math.inf) for r in due]
        catchup.append(max(when) - DAY_MS)
        catchup_copies += sum(node.copies.get(r.root, 0) for r in due)
    jobs = len(fed.jobs)
    return Figures(
        fed.strategy, fed.n, jobs, reached / pairs if pairs else 1.0, rounds,
        percentile(delays, 50) / 1000, percentile(delays, 99) / 1000, worst_all / 1000,
        window_copies / window_got if window_got else 0.0, run_copies / run_got if run_got else 0.0,
        percentile(catchup, 99) / 1000 if catchup else 0.0,
        catchup_copies / (len(catchup) * jobs) if catchup and jobs else 0.0,
        fed.requests, fed.loop.events)


def simulate(n: int, seed: int = 1, jobs: int = 8, strategies: tuple[str, ...] = STRATEGIES,
             legacy_share: float = 0.0) -> dict[str, Figures]:
    """Run every strategy on the same world (graph, links, churn, jobs) and return its figures."""
    plan = make_plan(n, seed, jobs)
    out = {}
    for strategy in strategies:
        fed = run(SimFederation(strategy, n, seed, legacy_share=legacy_share), plan)
        out[strategy] = figures(fed, plan.away)
    return out
