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


async def test_a_page_reads_the_authors_head_keys_and_quota_once_and_stays_correct_out_of_order(net):
    a = await net.start("Author Org", sync_interval=3600)
    b = await net.start("Reader Org", sync_interval=3600)
    await pair(a, b)
    await synced(b, a)
    a_id = a.service.node_id
    head = b.service.log.head(a_id)
    made = _jobs(a.service.identity, (head.seq, head.id), 20, b.federation.clock())
    keys = b.service.identity.encryption_public
    envelopes = [Envelope(s.header_bytes, s.signature, seal_statement_body(s, b.service.node_id, keys)).encode() for s, _ in made]
    # Out of order inside the page: the 11th comes before the 10th (held, then released by it), so
    # the memo must follow the held table and the head moved by the release.
    envelopes[9], envelopes[10] = envelopes[10], envelopes[9]
    reads: list[str] = []
    watched = ("FROM entries WHERE author = ? ORDER BY seq DESC", "FROM key_periods", "FROM peer_usage WHERE peer")
    b.service.db.conn.set_trace_callback(lambda sql: reads.append(sql) if any(w in sql for w in watched) else None)
    try:
        results = b.federation.take_batch(a_id, Batch(tuple(envelopes)))
    finally:
        b.service.db.conn.set_trace_callback(None)
    outcomes = [r.outcome for r in results.results]
    assert outcomes.count("appended") == 19 and outcomes[9] != "appended"  # the early one was held, not refused
    assert b.service.log.head(a_id).seq == head.seq + 20  # every job in order, the held one included
    assert all(b.talent.store.job(job.job_id) is not None for _, job in made)
    # Per statement the old code read the head, the key history and the quota account (60 reads for
    # 20); now a page reads each once, plus again after the held statement changed what they say.
    assert 3 <= len(reads) <= 12, reads
    used = next(b.service.db.query("SELECT stored_bytes FROM peer_usage WHERE peer = ?", [a_id]))["stored_bytes"]
    assert used >= sum(len(s.header_bytes) for s, _ in made)  # every statement charged, none lost in the memo


async def test_a_statement_rejected_inside_a_page_makes_its_successors_in_that_page_refused(net):
    # The page's memo says "none of this author's statements was rejected" until one is: its
    # successor later in the same page must still be refused as building on it (THREATS row 15).
    from protocol.bodies import Note

    a = await net.start("Author Org", sync_interval=3600)
    b = await net.start("Reader Org", sync_interval=3600)
    await pair(a, b)
    await synced(b, a)
    a_id, now = a.service.node_id, b.federation.clock()
    head = b.service.log.head(a_id)
    good = _jobs(a.service.identity, (head.seq, head.id), 3, now)
    bad = sign_statement(a.service.identity, kind=Job.KIND, seq=head.seq + 4, prev=good[-1][0].id, now=now,
                         body=Note("not a job").to_value(), private=True, salt=os.urandom(32))
    after = _jobs(a.service.identity, (bad.seq, bad.id), 2, now)
    keys = b.service.identity.encryption_public
    statements = [s for s, _ in good] + [bad] + [s for s, _ in after]
    envelopes = tuple(Envelope(s.header_bytes, s.signature, seal_statement_body(s, b.service.node_id, keys)).encode()
                      for s in statements)
    outcomes = [r.outcome for r in b.federation.take_batch(a_id, Batch(envelopes)).results]
    assert outcomes == ["appended"] * 3 + ["bad-body", "rejected-base", "rejected-base"]
    assert b.service.log.head(a_id).seq == head.seq + 3
