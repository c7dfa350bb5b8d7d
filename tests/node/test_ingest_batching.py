"""Ingest of a page of a peer's statements is one durable commit: the statements, their projections,
the peer's score and their reactions (issue 11 item 3), not a commit per statement's reactions."""

from __future__ import annotations

import os

from protocol.jobs import Job, Skill
from protocol.sealing import seal_statement_body
from protocol.statement import Envelope, sign_statement
from protocol.sync import Batch
from tests.node.federation_helpers import pair, synced


def _jobs(author, after, n, now):
    seq, prev = after
    out = []
    for i in range(n):
        job = Job(job_id=os.urandom(16), version=1, title=f"Job {i}", skills=(Skill("driving"),), date_posted=now, hops=1)
        seq += 1
        statement = sign_statement(author, kind=Job.KIND, seq=seq, prev=prev, now=now, body=job.to_value(), private=True,
                                   salt=os.urandom(32))
        out.append((statement, job))
        prev = statement.id
    return out


async def test_a_page_of_sealed_jobs_is_stored_and_reacted_to_in_one_commit(net):
    a = await net.start("Author Org", sync_interval=3600)
    b = await net.start("Reader Org", sync_interval=3600)
    await pair(a, b)
    await synced(b, a)
    head = b.service.log.head(a.service.node_id)
    made = _jobs(a.service.identity, (head.seq, head.id), 20, b.federation.clock())
    keys = b.service.identity.encryption_public
    envelopes = tuple(Envelope(s.header_bytes, s.signature, seal_statement_body(s, b.service.node_id, keys)).encode()
                      for s, _ in made)
    commits: list[str] = []
    b.service.db.conn.set_trace_callback(lambda sql: commits.append(sql) if sql.strip().upper() == "COMMIT" else None)
    try:
        results = b.federation.take_batch(a.service.node_id, Batch(envelopes))
    finally:
        b.service.db.conn.set_trace_callback(None)
    assert [r.outcome for r in results.results] == ["appended"] * 20
    # Every job was reacted to and projected (the talent store has it), none left pending ...
    assert all(b.talent.store.job(job.job_id) is not None for _, job in made)
    assert b.federation.reactions.pending() == []
    # ... and all of it was one durable commit (the old code committed once more per statement).
    assert len(commits) == 1
