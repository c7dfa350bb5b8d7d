"""Regressions for holes a security review demonstrated against real nodes (each once succeeded)."""

from __future__ import annotations

import asyncio
import os

import pytest

from node.core.matching import ask_peers
from protocol.bodies import OrgCard
from tests.node.federation_helpers import pair, wait_until


async def test_a_partner_relabelling_its_sector_does_not_widen_consent(fed_net):
    holder = await fed_net.start("Youth Futures", sector="nonprofit")
    corp = await fed_net.start("Northwind Corp", sector="company")
    await pair(holder, corp)
    holder.talent.add_candidate(name="Amina Canary", email="amina.canary@example.org", skills=["forklift", "team leadership"],
                                consent=["match", "refer"], consent_scope="sector:nonprofit", consent_evidence="nonprofits only")
    job = corp.talent.post_job(title="Warehouse lead", skills=["Forklift", "Team leadership"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None)
    assert (await ask_peers(corp.talent, corp.client, job.job_id, deadline=5))["results"] == []
    # The company re-publishes its org card claiming to be a non-profit.
    keys = corp.service.identity.encryption_public
    relabel = corp.federation.append("org_card", OrgCard("Northwind Corp", "nonprofit", corp.service.config.url, keys).to_value(),
                                     private=False)
    await wait_until(lambda: holder.service.log.get(relabel.id) is not None, what="new card at holder")
    assert holder.talent.org_sector(corp.service.node_id) == "company"  # pinned when trusted
    assert (await ask_peers(corp.talent, corp.client, job.job_id, deadline=5))["results"] == []
    from node.core.views import peer_view

    view = peer_view(holder.service, holder.federation.peers.get(corp.service.node_id))
    assert view["sector"] == "company" and view["declared_sector"] == "nonprofit"


async def test_a_stalling_peer_does_not_delay_pulls_from_others(fed_net):
    a = await fed_net.start("Alpha", sync_interval=0.3)
    b = await fed_net.start("Beta", sync_interval=0.3)
    c = await fed_net.start("Gamma", sync_interval=0.3)
    await pair(a, b)
    await pair(a, c)
    # B stops answering promptly: every pull to it now hangs until the client timeout.
    from node.http import federation_api

    release = asyncio.Event()  # set at the end: the stalled handlers return and the servers stop at once
    stalled: list[int] = []

    async def stall(request):
        stalled.append(1)
        await release.wait()
        return await federation_api.pull(request)

    b_app_routes = [r for r in b.federation_runner.app.router.routes() if r.resource.canonical == "/federation/v1/pull"]
    b_app_routes[0]._handler = stall
    # The fault is really injected: a pull from B now hangs.
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(a.sync.pull_from(b.service.node_id, b.service.config.url), timeout=1.0)
    # A's own pull loop for B is stuck in the stall too (B's handler entered again) before C writes.
    await wait_until(lambda: len(stalled) >= 2, what="A's puller stuck on B")
    from protocol.bodies import Note

    note = c.federation.append(Note.KIND, Note("from gamma").to_value(), private=True)
    # Make sure only A's pull (not C's push) can bring it: drop C's outbox.
    c.federation.peers.acknowledge(a.service.node_id, [note.id])
    await wait_until(lambda: a.service.log.get(note.id) is not None, timeout=5, what="pull from C despite B stalling")
    release.set()


async def test_junk_relays_are_not_carried_or_remembered(fed_net):

    from protocol.audience import Audience
    from protocol.relay import Relay

    a = await fed_net.start("Victim A")
    b = await fed_net.start("Malicious B")
    c = await fed_net.start("Bystander C")
    await pair(a, b)
    await pair(a, c)
    for _ in range(3):
        junk = Relay(origin=os.urandom(32), to=c.service.node_id, route=os.urandom(16), ttl=8, suite=2, sealed=os.urandom(20_000))
        last = b.federation.append(Relay.KIND, junk.to_value(), private=True, audience=Audience.only(a.service.node_id))
    await wait_until(lambda: a.service.log.get(last.id) is not None, what="junk at A")
    # A's reactions to the junk ran with its ingest (none is left to retry): what it did not forward now, it never will.
    assert list(a.service.db.query("SELECT 1 FROM pending_reactions")) == []
    own_relays = list(a.service.db.query("SELECT 1 FROM entries WHERE author = ? AND kind = 'relay'", [a.service.node_id]))
    assert own_relays == []  # nothing forwarded on B's behalf: no trust path runs through A for an unknown job
    assert list(a.service.db.query("SELECT 1 FROM relay_routes")) == []


async def test_a_rotated_away_key_cannot_come_back_through_a_reshare(fed_net):
    import dataclasses

    from node.core.clock import now_ms
    from protocol.card_bundle import encode_bundle
    from protocol.reshare import make_reshare
    from protocol.statement import sign_statement

    x = await fed_net.start("Employer X", sector="company")
    v = await fed_net.start("Victim V")
    b = await fed_net.start("Re-sharer B")
    await pair(v, x)
    await pair(v, b)
    old_bundle = encode_bundle([x.service.log.statements(x.service.node_id)[0]])  # X's card before rotation
    k1 = x.service.identity
    job = x.talent.post_job(title="Warehouse lead", skills=["Forklift"], hops=2)
    x.federation.rotate_key()
    await wait_until(lambda: len(v.service.log.key_history(x.service.node_id).periods) == 2, what="rotation at V")
    forged = dataclasses.replace(job, version=job.version + 5, title="URGENT: pay a fee to apply")
    root = sign_statement(k1, kind="job", seq=500, prev=os.urandom(32), now=now_ms(), body=forged.to_value(),
                          private=True, salt=os.urandom(32))
    reshare = b.federation.append("reshare", make_reshare(root, old_bundle, (b.service.node_id,)).to_value(), private=True)
    # V takes the body (lazy re-sharing: offered, then asked for once X's grace is over; docs/protocol.md
    # 14.2), so the forged root was really judged, not just never fetched.
    await wait_until(lambda: getattr(v.service.log.get(reshare.id), "body", None) is not None, 10,
                     what="the reshare's body at V")
    assert v.talent.store.job(job.job_id).job.title == "Warehouse lead"
    assert not list(v.service.db.query("SELECT 1 FROM foreign_statements WHERE id = ?", [root.id]))


async def test_pseudonyms_cannot_be_linked_by_reusing_a_query_id(fed_net):
    from protocol.match_query import MatchAnswer, MatchQuery
    from protocol.statement import Envelope
    from tests.node.federation_helpers import signed_post

    holder = await fed_net.start("Youth Futures", sector="nonprofit")
    corp = await fed_net.start("Northwind", sector="company")
    await pair(holder, corp)
    holder.talent.add_candidate(name="Probe Target", email="pt@example.org", skills=["forklift", "cooking"],
                                consent=["match"], consent_scope="all", consent_evidence="form")
    jobs = [corp.talent.post_job(title=f"Probe {s}", skills=[s]) for s in ("forklift", "cooking")]
    for job in jobs:
        await wait_until(lambda job=job: holder.talent.store.job(job.job_id) is not None, what="job at the holder")
    query_id = b"\x42" * 16
    answers = []
    for job in jobs:
        statement = corp.service.log.get(corp.talent.store.job(job.job_id).statement_id)
        body = MatchQuery(query_id, Envelope.of(statement).encode()).encode()
        answers.append(await signed_post(holder, "/federation/v1/match", body, corp.service.identity))
    assert answers[0].status == 200 and len(MatchAnswer.decode(answers[0].body).offers) == 1
    assert answers[1].status == 400 and b"fresh" in answers[1].body
    # With fresh query ids each probe gets an offer, under unrelated pseudonyms.
    fresh = []
    for i, job in enumerate(jobs):
        statement = corp.service.log.get(corp.talent.store.job(job.job_id).statement_id)
        body = MatchQuery(bytes([i + 1]) * 16, Envelope.of(statement).encode()).encode()
        fresh.append(MatchAnswer.decode((await signed_post(holder, "/federation/v1/match", body, corp.service.identity)).body))
    assert fresh[0].offers[0].pseudonym != fresh[1].offers[0].pseudonym


async def test_pairing_floods_are_cut_before_any_cryptography(fed_net):

    from protocol.identity import Identity
    from protocol.invite import PairRequest
    from tests.node.federation_helpers import signed_post

    a = await fed_net.start("Alpha")
    stranger = Identity.from_random(os.urandom)
    statuses = []
    for _ in range(14):
        body = PairRequest(os.urandom(16), os.urandom(32), b"\x92\x01\x90").encode()
        answer = await signed_post(a, "/federation/v1/pair", body, stranger)
        statuses.append((answer.status, answer.error))
    assert statuses[0] == (403, "bad-invite")  # unknown invite: refused before the card is even read
    assert (429, "rate-limited") in statuses[10:]
    assert len(a.fed_state.seen._seen) == 0  # strangers never touch the peers' replay cache


async def test_reusing_another_orgs_job_id_cannot_hide_its_job(fed_net):
    import dataclasses

    from protocol.jobs import Job

    honest = await fed_net.start("Honest Employer", sector="company")
    squatter = await fed_net.start("Squatter", sector="company")
    victim = await fed_net.start("Victim", sector="nonprofit")
    await pair(victim, squatter)
    # The squatter learnt the honest job's id somehow and publishes its own job under it first.
    real = honest.talent.post_job(title="Real job", skills=["driving"])
    fake = dataclasses.replace(real, title="Fake job", version=99)
    squat = squatter.federation.append(Job.KIND, fake.to_value(), private=True)
    await wait_until(lambda: victim.service.log.get(squat.id) is not None)
    await pair(victim, honest)
    await wait_until(lambda: victim.talent.store.job(real.job_id, honest.service.node_id) is not None, what="real job")
    assert victim.talent.store.job(real.job_id, honest.service.node_id).job.title == "Real job"
    assert victim.talent.store.job(real.job_id, squatter.service.node_id).job.title == "Fake job"
