"""bench.ingest — signed + sealed job statements taken in by a node on one core, against the
crypto-only rate (verify + open) of the same statements measured in the same run (issue 11 item 3).

Run: ``python -m bench.ingest [--quick]``. Two real nodes (A, the author; B, the receiver) are
paired over HTTP; A is then stopped and N job statements continuing A's log are signed with A's
identity and sealed to B, in pages of up to 64 as a push or a pull page carries them. Measured:

* the crypto-only floor: for every envelope, decode + signature check (``open_plain``) and open the
  sealed body (``open_statement_body``), nothing else;
* ingest: ``Federation.take_batch`` on B for every page, the real path (trust check, verify, open,
  log rules, storage and projections, the peer's score, the reactions: re-share check, the talent
  reaction that records the job), one durable commit per page. Every job is checked stored.

Goal: ingest rate / crypto-only rate ≥ 0.6.
"""

from __future__ import annotations

import os
import time

from bench.common import Goal, figure, load_average, nodes, parser, report, run
from protocol.jobs import Job, Skill
from protocol.sealing import open_statement_body, seal_statement_body
from protocol.statement import Envelope, Statement, sign_statement
from protocol.sync import MAX_BATCH, Batch

SKILLS = ["driving", "welding", "bookkeeping", "customer service", "python", "forklift operation"]


def job_statements(author: object, n: int, after: tuple[int, bytes | None], now: int) -> list[Statement]:
    """``n`` job statements continuing the author's log after ``(seq, id)``, as its node would sign them."""
    out: list[Statement] = []
    seq, prev = after
    for i in range(n):
        skills = tuple(Skill(SKILLS[(i + k) % len(SKILLS)], None) for k in range(3))
        job = Job(job_id=os.urandom(16), version=1, title=f"Job {i}", skills=skills, date_posted=now, hops=1,
                  description="A job posted for the ingest benchmark. " * 4)
        seq += 1
        statement = sign_statement(author, kind=Job.KIND, seq=seq, prev=prev, now=now, body=job.to_value(),  # type: ignore[arg-type]
                                   private=True, salt=os.urandom(32))
        out.append(statement)
        prev = statement.id
    return out


def pages(envelopes: list[bytes]) -> list[Batch]:
    return [Batch(tuple(envelopes[i:i + MAX_BATCH]), more=i + MAX_BATCH < len(envelopes))
            for i in range(0, len(envelopes), MAX_BATCH)]


def crypto_only(envelopes: list[bytes], identity: object) -> float:
    """Statements per second for decode + verify + open alone."""
    start = time.perf_counter()
    for raw in envelopes:
        envelope = Envelope.decode(raw)
        statement = envelope.open_plain()
        open_statement_body(statement, envelope.content, identity)  # type: ignore[arg-type]
    return len(envelopes) / (time.perf_counter() - start)


def start_profile() -> object:
    from pyinstrument import Profiler  # not a dependency: only for --profile

    profiler = Profiler()
    profiler.start()
    return profiler


async def main() -> bool:
    p = parser(__doc__)
    p.add_argument("--profile", action="store_true", help="print a pyinstrument profile of the ingest loop")
    args = p.parse_args()
    n = 1000 if args.quick else 10_000
    print(f"bench.ingest: {n} sealed job statements, pages of {MAX_BATCH}; load average {load_average()}")
    async with nodes() as net:
        a = await net.start("Ingest A", sync_interval=3600)
        b = await net.start("Ingest B", sync_interval=3600)
        from tests.node.federation_helpers import pair, synced

        await pair(a, b)
        await synced(b, a)
        author, a_id = a.service.identity, a.service.node_id
        b_keys, b_id, b_identity = b.service.identity.encryption_public, b.service.node_id, b.service.identity
        head = b.service.log.head(a_id)
        await net.stop(a)
        statements = job_statements(author, n, (head.seq, head.id), b.federation.clock())
        envelopes = [Envelope(s.header_bytes, s.signature, seal_statement_body(s, b_id, b_keys)).encode() for s in statements]
        batches = pages(envelopes)
        floor = max(crypto_only(envelopes, b_identity) for _ in range(2 if args.quick else 1))
        profiler = start_profile() if args.profile else None
        start = time.perf_counter()
        for batch in batches:
            results = b.federation.take_batch(a_id, batch)
            assert all(r.outcome == "appended" for r in results.results), {r.outcome for r in results.results}
        ingest = n / (time.perf_counter() - start)
        if profiler is not None:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        stored = sum(1 for s in statements if b.talent.store.job(Job.from_value(s.body_value()).job_id) is not None)
        assert stored == n, f"{stored} of {n} jobs stored"
        pending = len(b.federation.reactions.pending())
        assert pending == 0, f"{pending} reactions left pending"
    figure("crypto-only floor (decode + verify + open)", floor, "statements/s")
    figure("ingest through Federation.take_batch", ingest, "statements/s")
    figure("ratio ingest / floor", ingest / floor)
    print(f"  load average after: {load_average()}")
    # goal: at least 0.6 of the crypto-only floor measured above (issue 11 item 3)
    return report("ingest", [Goal("rate", ingest, 0.6 * floor, upper=False, unit="statements/s", limit=floor)])


if __name__ == "__main__":
    run(main)
