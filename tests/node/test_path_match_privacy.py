"""The privacy limits of a match query hold at every holder across the trust path (issue 13 item 1):
a holder two hops away answers only for a job the asker published and it holds, within the asker's
daily caps; a hop that does not hold the job carries nothing. Real nodes A–B–C, real path calls."""

from __future__ import annotations

import dataclasses
import os

import pytest

from node.core.limits import MatchQuota
from node.core.matching import ask_peers
from protocol.card_bundle import verify_bundle
from protocol.errors import RemoteProtocolError
from protocol.jobs import Job, Skill
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.statement import Envelope, sign_statement
from tests.node.test_path_match import line


def a_card(a, c):
    """A's card as C learns it from B's holders answer (here: straight from A's bundle)."""
    return verify_bundle(a.service.card_bundle(), expected_node_id=a.service.node_id)


async def test_a_holder_beyond_a_partner_refuses_a_job_never_published(net):
    a, b, c, job, _ = await line(net)
    path = (b.service.node_id, a.service.node_id)
    published = c.service.log.get(c.talent.own_job(job.job_id).statement_id)
    # Positive control: the job C published (and B re-shared to A) is answered with A's offer.
    good = MatchQuery(os.urandom(16), Envelope.of(published).encode())
    answer = MatchAnswer.decode(await c.paths.call(a_card(a, c), job.job_id, path, "match", good.encode()))
    assert len(answer.offers) == 1 and answer.holder == a.service.node_id
    # A probe job signed by C but never published: A holds no such statement and refuses it.
    head = c.service.log.head(c.service.node_id)
    probe = dataclasses.replace(job, title="Probe", skills=(Skill("Forklift"), Skill("Welding")))
    statement = sign_statement(c.service.identity, kind=Job.KIND, seq=head.seq + 1, prev=head.id, now=c.federation.clock(),
                               body=probe.to_value(), private=True, salt=os.urandom(32))
    bad = MatchQuery(os.urandom(16), Envelope.of(statement).encode())
    with pytest.raises(RemoteProtocolError, match="job-not-held"):
        await c.paths.call(a_card(a, c), job.job_id, path, "match", bad.encode())


async def test_the_askers_daily_cap_applies_at_a_holder_beyond_a_partner(net):
    a, b, c, job, _ = await line(net)
    a.talent.match_quota = MatchQuota(queries=1)
    first = await ask_peers(c.talent, c.client, job.job_id, 8.0, paths=c.paths)
    assert [r["holder"] for r in first["results"]] == [a.service.node_id.hex()]  # control: the first query is answered
    second = await ask_peers(c.talent, c.client, job.job_id, 8.0, paths=c.paths)
    report = [p for p in second["peers"] if p["node_id"] == a.service.node_id.hex()]
    assert report and not report[0]["answered"] and "match-quota" in report[0]["error"]
    assert second["partial"] and not second["results"]


async def test_a_hop_that_does_not_hold_the_job_carries_no_call(net):
    a, b, c, job, _ = await line(net)
    published = c.service.log.get(c.talent.own_job(job.job_id).statement_id)
    query = MatchQuery(os.urandom(16), Envelope.of(published).encode())
    with pytest.raises(RemoteProtocolError, match="job-not-held"):
        await c.paths.call(a_card(a, c), os.urandom(16), (b.service.node_id, a.service.node_id), "match", query.encode())
    # Control: the same call about the job B holds goes through.
    assert MatchAnswer.decode(await c.paths.call(a_card(a, c), job.job_id, (b.service.node_id, a.service.node_id),
                                                 "match", query.encode())).offers


async def test_garbage_to_the_path_endpoints_gets_typed_refusals_and_the_node_keeps_serving(net):
    """Malformed holders queries and path calls are refused with their stable codes (never a 500) and
    change nothing; a real call still goes through afterwards (positive control)."""
    import random

    from node.core.limits import PeerLimits
    from node.core.path_calls import CALL_PATH, HOLDERS_PATH
    from protocol.errors import ALL_CODES
    from protocol.path_call import HoldersQuery, PathCall
    from tests.node.federation_helpers import signed_post
    from tests.node.test_federation_threats import garbage

    a, b, c, job, _ = await line(net)
    b.fed_state.limits = PeerLimits(rate=10_000, burst=10_000)  # about decoders, not rate limits
    published = c.service.log.get(c.talent.own_job(job.job_id).statement_id)
    wrong = [HoldersQuery(published.id, 1).encode()[:-1], PathCall(c.service.node_id, a.service.node_id, job.job_id,
             (os.urandom(32),) * 3, 2, 2, b"x").encode(), PathCall(c.service.node_id, b.service.node_id, job.job_id, (),
             0, 2, os.urandom(80)).encode()]
    for body in [*garbage(random.Random(1313))[:40], *wrong]:
        for path in (CALL_PATH, HOLDERS_PATH):
            answer = await signed_post(b, path, body, c.service.identity)
            assert 400 <= answer.status < 500 or answer.status == 502 or (path == HOLDERS_PATH and answer.status == 200), \
                (path, body[:20], answer.status)
            if answer.status != 200:
                assert answer.error in ALL_CODES, (path, body[:20], answer.body[:200])
    query = MatchQuery(os.urandom(16), Envelope.of(published).encode())
    assert MatchAnswer.decode(await c.paths.call(a_card(a, c), job.job_id, (b.service.node_id, a.service.node_id),
                                                 "match", query.encode())).offers
