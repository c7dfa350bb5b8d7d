"""``python -m bench.match [--quick]``: matching at an organization's scale (issue 11 item 1).

A holder with 100,000 consented candidates (10,000 with ``--quick``) is asked by a partner, over
its real federation endpoint, for matches for a job with 5 skills; p50 and p99 of the answer time
are compared with their goals and with the raw scan floor (one plain SQL scan of every candidate's
skills) measured in the same run. Meanwhile ``/health`` is polled: its p99 shows whether a match
holds the event loop. Then a partner fans one match out to 20 peers on loopback (5,000 candidates
each; 500 with ``--quick``) through its admin socket, the way ``orgnode match`` does.

Setup writes the pools straight through ``TalentStore`` in one transaction (candidates, their
skill-index rows, consent rows whose signed consent statements are not made): it is not what is
measured, and it keeps a 100,000-candidate setup to seconds. All nodes run in this one process on
one event loop, so every latency includes the client's own share of the loop.
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from typing import Any

import aiohttp

from bench.common import Goal, figure, load_average, nodes, parser, percentile, report, run, timed, unlimited
from protocol.consent import PROFILE_FIELDS
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.statement import Envelope
from storage.talent_rows import Candidate, ConsentRow

MATCH = "/federation/v1/match"
# Every node here shares 127.0.0.1, one "address" to the per-address connection guard (32 by default):
# 21 nodes syncing with one another would exhaust it, where 21 organizations would not.
LOOPBACK = {"max_connections_per_address": 10_000}


def skill_labels(runtime: Any, count: int = 300) -> list[str]:
    """``count`` real vocabulary labels, always the same ones."""
    labels = sorted({c.label for c in runtime.talent.vocabulary().concepts.values()})
    step = max(1, len(labels) // count)
    return labels[::step][:count]


def populate(runtime: Any, n: int, labels: list[str], seed: int) -> None:
    """``n`` candidates with 3-8 skills each (popular skills far more common: Zipf-like), every one
    with a consent to matching by anyone, written in one transaction."""
    rng = random.Random(seed)
    talent = runtime.talent
    vocabulary = talent.vocabulary()
    talent._ensure_skill_index(vocabulary)
    weights = [1 / (i + 1) ** 0.9 for i in range(len(labels))]
    now = talent.clock()
    store = talent.store
    with talent.db.atomic():
        for i in range(n):
            skills = tuple(dict.fromkeys(rng.choices(labels, weights, k=rng.randint(3, 8))))
            c = Candidate(os.urandom(16), os.urandom(16), f"Person {i}", f"p{seed}.{i}@example.org", None, None, skills,
                          None, None, now - n + i)
            store.add_candidate(c, sorted(vocabulary.keys(skills)))
            store.add_consent(ConsentRow(os.urandom(16), c.candidate_id, os.urandom(32), ("match", "refer"), ("all",),
                                         PROFILE_FIELDS, "bench", now - n + i, None, "given"), now)


async def posted_job(asker: Any, holders: list[Any], skills: list[str]) -> tuple[bytes, bytes]:
    """The asker's job, once every holder has it (a holder only answers for jobs it holds)."""
    job = asker.talent.post_job(title="Bench job", skills=skills)
    deadline = time.monotonic() + 120
    while not all(h.talent.store.job(job.job_id) is not None for h in holders):
        if time.monotonic() > deadline:
            raise SystemExit("the job did not sync to every holder within 120 s")
        await asyncio.sleep(0.05)
    statement = asker.service.log.get(asker.talent.store.job(job.job_id).statement_id)
    return Envelope.of(statement).encode(), job.job_id


def rss_mb() -> float:
    """This process's resident set (VmRSS), MB."""
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


async def poll_health(port: int, stop: asyncio.Event, out: list[float]) -> None:
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            ms, _ = await timed(lambda: session.get(f"http://127.0.0.1:{port}/health"))
            out.append(ms)
            await asyncio.sleep(0.005)


async def local(net: Any, n: int, queries: int, labels: list[str]) -> list[Goal]:
    from tests.node.federation_helpers import pair, signed_post

    holder = await net.start("Holder", sector="nonprofit", sync_interval=0.2, **LOOPBACK)
    asker = await net.start("Asker", sector="company", sync_interval=0.2, **LOOPBACK)
    await pair(holder, asker)
    unlimited(holder)
    start = time.perf_counter()
    populate(holder, n, labels, seed=1)
    figure(f"setup: {n} candidates written", time.perf_counter() - start, "s")
    envelope, _ = await posted_job(asker, [holder], [labels[0], labels[2], labels[5], labels[11], labels[40]])

    floors = []
    for _ in range(5):
        t = time.perf_counter()
        holder.talent.store.scan_floor()
        floors.append((time.perf_counter() - t) * 1000)
    floor = percentile(floors, 50)

    async def one() -> MatchAnswer:
        answer = await signed_post(holder, MATCH, MatchQuery(os.urandom(16), envelope).encode(), asker.service.identity)
        if answer.status != 200:
            raise SystemExit(f"match refused: {answer.status} {answer.body[:200]!r}")
        return MatchAnswer.decode(answer.body)

    before = rss_mb()
    ms, _ = await timed(one)  # warm: the first query builds the in-memory skill index (node/core/skill_bitmaps.py)
    figure("first match, building the in-memory skill index a page at a time", ms, "ms")
    figure("RSS growth of this process at the first match (the index)", rss_mb() - before, "MB")
    idle_stop = asyncio.Event()
    idle_health: list[float] = []
    idle_poller = asyncio.create_task(poll_health(holder.port, idle_stop, idle_health))
    await asyncio.sleep(0.5)  # a benchmark, not a test: /health on the idle holder, the floor of the figure below
    idle_stop.set()
    await idle_poller
    stop = asyncio.Event()
    health: list[float] = []
    poller = asyncio.create_task(poll_health(holder.port, stop, health))
    times = []
    offers = 0
    for _ in range(queries):
        ms, answer = await timed(one)
        times.append(ms)
        offers = len(answer.offers)
    stop.set()
    await poller
    p50, p99 = percentile(times, 50), percentile(times, 99)
    figure("raw scan floor: one SQL scan of every candidate's skills", floor, "ms")
    figure(f"local match p50 over {queries} queries ({offers} offers each)", p50, "ms")
    figure("local match p99", p99, "ms")
    figure("local match p50 / scan floor", p50 / floor)
    figure(f"/health p99 during the matches ({len(health)} polls)", percentile(health, 99), "ms")
    figure("/health max during the matches", max(health), "ms")
    idle = percentile(idle_health, 99)
    figure(f"/health p99 on the idle holder ({len(idle_health)} polls, the floor)", idle, "ms")
    return [Goal("local_p50_ms", p50, 50, True, "ms", limit=floor), Goal("local_p99_ms", p99, 200, True, "ms", limit=floor),
            Goal("health_p99_ms", percentile(health, 99), 100, True, "ms", limit=idle)]


async def federated(net: Any, per_peer: int, rounds: int, labels: list[str], profile: bool = False) -> list[Goal]:
    from tests.node.federation_helpers import pair

    # Pushes deliver the job at once; a long sync interval keeps 20 pull loops from crowding the loop.
    asker = await net.start("Fed Asker", sector="company", sync_interval=30, **LOOPBACK)
    peers = []
    for i in range(20):
        peer = await net.start(f"Peer {i}", sector="nonprofit", sync_interval=30, **LOOPBACK)
        await pair(peer, asker)
        unlimited(peer)
        populate(peer, per_peer, labels, seed=100 + i)
        peers.append(peer)
    _, job_id = await posted_job(asker, peers, [labels[0], labels[2], labels[5], labels[11], labels[40]])
    connector = aiohttp.UnixConnector(path=str(asker.socket_path))
    times = []
    async with aiohttp.ClientSession(connector=connector) as session:
        async def one() -> dict[str, Any]:
            async with session.post("http://localhost/match", json={"id": job_id.hex()}) as resp:
                data: dict[str, Any] = await resp.json()
                if resp.status != 200 or data["partial"]:
                    raise SystemExit(f"federated match failed: {resp.status} {str(data)[:300]}")
                return data

        await one()
        results = 0
        profiler = None
        if profile:
            from pyinstrument import Profiler  # not a dependency: only for --profile

            profiler = Profiler(async_mode="disabled")
            profiler.start()
        for _ in range(rounds):
            ms, data = await timed(one)
            times.append(ms)
            results = len(data["results"])
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False))
    figure(f"federated match p50 over {rounds} rounds (20 peers x {per_peer}, {results} results)", percentile(times, 50), "ms")
    figure("federated match p99", percentile(times, 99), "ms")
    return [Goal("federated_p99_ms", percentile(times, 99), 500, True)]


async def main() -> bool:
    p = parser(__doc__)
    p.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the federated rounds")
    p.add_argument("--federated-only", action="store_true", help="skip the local match (its goals are not reported)")
    args = p.parse_args()
    n, queries, per_peer, rounds = (10_000, 40, 500, 20) if args.quick else (100_000, 200, 5_000, 50)
    print(f"bench.match: {n} candidates, load average {load_average()}")
    async with nodes() as net:
        first = await net.start("Vocabulary", sector="nonprofit")
        labels = skill_labels(first)
        goals = [] if args.federated_only else await local(net, n, queries, labels)
        goals += await federated(net, per_peer, rounds, labels, args.profile)
    return report("match", goals)


if __name__ == "__main__":
    run(main)
