"""Security pass 13: matching and referral across the trust path, postings, CSV and the import
pipeline, attacked on real nodes (real HTTP on 127.0.0.1, real SQLite, real crypto). Each test states
the secure behaviour; a finding not fixed yet is a strict xfail. See docs/security.md.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from typing import Any

import pytest

from node.core.path_calls import CALL_PATH, HOLDERS_PATH
from protocol.errors import RemoteProtocolError
from protocol.identity import Identity
from protocol.jobs import Job
from protocol.path_call import Holders, HoldersQuery, PathCall
from protocol.sealing import seal_statement_body
from protocol.statement import Envelope, sign_statement
from tests.node.federation_helpers import Net, health, pair, push, signed_post, wait_until


def _count_holders_answers(runtime: Any, counter: list[int]) -> None:
    """Count the holders queries ``runtime`` answers (a spy around the real method; it still answers)."""
    real: Callable[..., Any] = runtime.paths.holders

    async def counted(sender: bytes, query: HoldersQuery) -> Holders:
        counter[0] += 1
        return await real(sender, query)

    runtime.paths.holders = counted


async def _clique_holding_a_job(net: Net) -> tuple[Any, list[Any], Any]:
    """C (author) pairs with B; B, X, Y, Z trust each other (a 4-clique); C's job travels 8 hops."""
    c = await net.start("Northwind", sector="company")
    clique = [await net.start(name, sector="nonprofit") for name in ("Green Works", "Xeno Aid", "Youth Futures", "Zed Trust")]
    await pair(clique[0], c)
    for i, first in enumerate(clique):
        for second in clique[i + 1:]:
            await pair(first, second)
    job = c.talent.post_job(title="Warehouse team lead", skills=["Forklift"], hops=8)
    await wait_until(lambda: all(n.talent.store.job(job.job_id) is not None for n in clique), timeout=15,
                     what="the job at every clique node")
    statement_id = c.talent.own_job(job.job_id).statement_id
    await wait_until(lambda: all(n.federation.reshares.has(statement_id) for n in clique), timeout=15,
                     what="every clique node re-shared the job")
    return c, clique, statement_id


async def test_one_holders_query_does_not_fan_out_around_a_cycle_of_partners(net):
    """Finding: ``path/holders`` recursed to every partner but the sender with ``ttl - 1``, so in a
    clique of partners one query of ttl 7 came back around the cycles and was answered hundreds of
    times (an amplifier any partner holding the job could trigger); paths revisited nodes. Now each
    node recurses at most once per job at a time and drops paths through itself or with a repeat."""
    c, clique, statement_id = await _clique_holding_a_job(net)
    counters = [[0] for _ in clique]
    for node, counter in zip(clique, counters, strict=True):
        _count_holders_answers(node, counter)
    b = clique[0]
    answer = await signed_post(b, HOLDERS_PATH, HoldersQuery(statement_id, 7).encode(), c.service.identity)
    assert answer.status == 200, answer.body
    holders = Holders.decode(answer.body).holders
    # Positive control: B lists the other three clique nodes as holders, each with a path from B.
    assert {n.service.node_id for n in clique[1:]} <= {h.path[-1] for h in holders}
    assert all(h.path[0] == b.service.node_id for h in holders)
    # The whole network answered a handful of queries, not hundreds; no path visits a node twice, and
    # B does not list itself (reached around a cycle) as a holder.
    total = sum(counter[0] for counter in counters)
    assert total <= 4 * len(clique), counters
    assert all(len(set(h.path)) == len(h.path) for h in holders), [len(h.path) for h in holders]
    assert b.service.node_id not in {h.path[-1] for h in holders}


# --- JSON-LD postings carried with jobs (protocol 15.2) ------------------------------------------

_CLEAN = '{"@type": "JobPosting", "title": "Warehouse team lead", "x": 1}'


@pytest.mark.parametrize("posting", [
    '{"@type": "JobPosting", "title": "T", "baseSalary": NaN}',          # not JSON (RFC 8259); exported as NaN
    '{"@type": "JobPosting", "title": "T", "x": 1e999}',                 # read as Infinity, exported as Infinity
    '{"@type": "JobPosting", "title": "T", "x": -Infinity}',
    '{"@type": "Organization", "title": "T", "@type": "JobPosting"}',    # duplicate keys: readers disagree on @type
    '{"@type": "JobPosting", "description": "<script>x()</script>", "description": "ok"}',
])
async def test_a_partners_posting_that_is_not_strict_json_is_refused_and_not_stored(net, posting):
    """A partner's job whose ``posting`` holds NaN/Infinity (Python's json reads them; other readers and
    our own export then produce invalid JSON-LD) or duplicate keys (the first reader to disagree on
    ``@type`` or ``description`` sees another posting) is refused at the receiver, nothing stored."""
    a = await net.start("Youth Futures", sector="nonprofit")
    c = await net.start("Northwind", sector="company")
    await pair(a, c)
    job = c.talent.post_job(title="Warehouse team lead", skills=["Forklift"], hops=1)
    clean_value = dataclasses.replace(job, job_id=os.urandom(16), title="Probe").to_value()
    clean_value["posting"] = _CLEAN
    # Positive control: the job with a strict posting is published and reaches A.
    clean = c.federation.append(Job.KIND, clean_value, private=True)
    await wait_until(lambda: a.service.log.get(clean.id) is not None, what="the strict posting's job at A")
    bad_value = {**clean_value, "job_id": os.urandom(16), "posting": posting}
    head = c.service.log.head(c.service.node_id)
    with pytest.raises(RemoteProtocolError, match="posting is not strict JSON"):
        c.federation.append(Job.KIND, bad_value, private=True)
    assert c.service.log.head(c.service.node_id) == head  # nothing signed
    # A hostile partner's node would sign it anyway: A refuses it on receipt, records why, stores nothing.
    await net.halt(c)  # C's node signs nothing more; its identity signs the hostile statement
    bad = sign_statement(c.service.identity, kind=Job.KIND, seq=head.seq + 1, prev=head.id, now=c.federation.clock(),
                         body=bad_value, private=True, salt=os.urandom(32))
    keys = c.federation.encryption_keys(a.service.node_id)
    assert keys is not None
    envelope = Envelope(bad.header_bytes, bad.signature, seal_statement_body(bad, a.service.node_id, keys)).encode()
    answer = await push(c, a, envelope)
    assert answer.status == 200, answer.body
    assert a.service.log.get(bad.id) is None and a.talent.store.job(bad_value["job_id"]) is None
    assert "posting is not strict JSON" in " ".join(r.detail for r in a.service.log.rejected() if r.id == bad.id)
    assert await health(a)


# --- tried and held --------------------------------------------------------------------------------


async def test_a_stranger_cannot_use_a_node_as_a_relay_or_holders_amplifier(net):
    """A node not on B's trust list (it even knows the job id) gets a typed refusal from both path
    endpoints and B asks nobody; the job's author, a partner, is answered (positive control)."""
    c, clique, statement_id = await _clique_holding_a_job(net)
    b = clique[0]
    counter = [0]
    _count_holders_answers(b, counter)
    stranger = Identity.from_random(os.urandom)
    refused = await signed_post(b, HOLDERS_PATH, HoldersQuery(statement_id, 7).encode(), stranger)
    assert refused.status == 403 and b"untrusted-sender" in refused.body, refused
    call = PathCall(stranger.node_id, clique[1].service.node_id, os.urandom(16), (clique[1].service.node_id,), 1, 2,
                    os.urandom(64))
    refused_call = await signed_post(b, CALL_PATH, call.encode(), stranger)
    assert refused_call.status == 403 and b"untrusted-sender" in refused_call.body, refused_call
    assert counter == [0]
    answered = await signed_post(b, HOLDERS_PATH, HoldersQuery(statement_id, 1).encode(), c.service.identity)
    assert answered.status == 200 and counter == [1]
    assert {h.path[-1] for h in Holders.decode(answered.body).holders} == {n.service.node_id for n in clique[1:]}
