"""Match queries cannot be used to de-anonymize a holder's pool (issue 8 item 9).

A partner could sign probe "jobs" that never enter its log, each with a long or chosen skill list,
and link the answers to recover each candidate's skill set. On real nodes: a probe job is refused
with ``job-not-held`` while the partner's real, synced job is answered; and each partner has a
daily budget of distinct queries and labels, counted on the holder's clock, that resets the next day.
"""

from __future__ import annotations

import dataclasses
import json
import os

from node.core.clock import now_ms
from node.core.limits import DAY_MS, MatchQuota
from node.runtime import NodeRuntime
from protocol.jobs import Job, Skill
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.statement import Envelope, sign_statement
from tests.node.federation_helpers import Net, pair, signed_post, wait_until

MATCH = "/federation/v1/match"


async def holder_and_corp(net: Net) -> tuple[NodeRuntime, NodeRuntime]:
    holder = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind", sector="company")
    await pair(holder, corp)
    holder.talent.add_candidate(name="Probe Target", email="pt@example.org", skills=["forklift", "cooking", "welding"],
                                consent=["match"], consent_scope="all", consent_evidence="form")
    return holder, corp


async def posted_job_envelope(holder: NodeRuntime, corp: NodeRuntime, skills: list[str]) -> bytes:
    job = corp.talent.post_job(title="Warehouse lead", skills=skills)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="job at the holder")
    statement = corp.service.log.get(corp.talent.store.job(job.job_id).statement_id)
    assert statement is not None
    return Envelope.of(statement).encode()


async def ask(holder: NodeRuntime, corp: NodeRuntime, envelope: bytes, query_id: bytes | None = None):
    body = MatchQuery(query_id or os.urandom(16), envelope).encode()
    return await signed_post(holder, MATCH, body, corp.service.identity)


async def test_a_probe_job_never_published_is_refused_and_a_real_job_is_answered(net):
    holder, corp = await holder_and_corp(net)
    real = await posted_job_envelope(holder, corp, ["Forklift"])
    answered = await ask(holder, corp, real)
    assert answered.status == 200 and len(MatchAnswer.decode(answered.body).offers) == 1  # positive control

    # The probe: correctly signed by the partner's current key, the next seq of its log, a long skill
    # list, but never appended to its log (so never synced to the holder).
    base = corp.talent.store.job(Job.from_value(Envelope.decode(real).open_plain().body_value()).job_id).job
    probe_job = dataclasses.replace(base, job_id=os.urandom(16),
                                    skills=tuple(Skill(label) for label in ["forklift", "cooking", "welding", *map(str, range(40))]))
    head = corp.service.log.head(corp.service.node_id)
    probe = sign_statement(corp.service.identity, kind=Job.KIND, seq=head.seq + 1, prev=head.id, now=now_ms(),
                           body=probe_job.to_value(), private=True, salt=os.urandom(32))
    refused = await ask(holder, corp, Envelope.of(probe).encode())
    assert refused.status == 409 and json.loads(refused.body)["error"] == "job-not-held"
    assert holder.service.log.get(probe.id) is None, "the probe was not stored"
    # The node keeps serving the real job.
    assert (await ask(holder, corp, real)).status == 200


async def test_distinct_queries_per_day_are_capped_and_reset_the_next_day(net):
    holder, corp = await holder_and_corp(net)
    clock = [now_ms()]
    holder.talent.clock = lambda: clock[0]
    holder.talent.match_quota = MatchQuota(queries=3, labels=100)
    real = await posted_job_envelope(holder, corp, ["Forklift"])
    for _ in range(3):
        answer = await ask(holder, corp, real)
        assert answer.status == 200 and len(MatchAnswer.decode(answer.body).offers) == 1
    over = await ask(holder, corp, real)
    assert over.status == 429 and json.loads(over.body)["error"] == "match-quota"
    clock[0] += DAY_MS  # the next day (UTC) on the holder's clock
    again = await ask(holder, corp, real)
    assert again.status == 200 and len(MatchAnswer.decode(again.body).offers) == 1


async def test_distinct_labels_per_day_are_capped(net):
    holder, corp = await holder_and_corp(net)
    clock = [now_ms()]
    holder.talent.clock = lambda: clock[0]
    holder.talent.match_quota = MatchQuota(queries=100, labels=3)
    first = await posted_job_envelope(holder, corp, ["Forklift", "Cooking"])
    assert (await ask(holder, corp, first)).status == 200
    assert (await ask(holder, corp, first)).status == 200, "the same labels again cost nothing new"
    wide = await posted_job_envelope(holder, corp, ["Welding", "Excel"])
    over = await ask(holder, corp, wide)
    assert over.status == 429 and json.loads(over.body)["error"] == "match-quota"
    clock[0] += DAY_MS
    assert (await ask(holder, corp, wide)).status == 200
