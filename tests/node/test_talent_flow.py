"""The talent exchange end to end on three real nodes: job → match → request → consented send →
status back to the referrer → hire → job filled; withdrawal erases everywhere it went."""

from __future__ import annotations

import pytest

from node.core.errors import UserError
from node.core.matching import ask_peers
from tests.node.federation_helpers import Net, db_bytes, pair, wait_until


async def three(net: Net):
    youth = await net.start("Youth Futures", sector="nonprofit")
    coop = await net.start("Green Works", sector="social_enterprise")
    corp = await net.start("Northwind", sector="company")
    await pair(youth, coop)
    await pair(coop, corp)
    await pair(youth, corp)
    return youth, coop, corp


async def test_job_match_referral_hire_closed_loop(net):
    youth, coop, corp = await three(net)
    # The company posts a job; both partners receive it.
    job = corp.talent.post_job(title="Warehouse team lead", skills=["Forklift", "Team leadership", "Excel"], hops=1)
    for node in (youth, coop):
        await wait_until(lambda node=node: node.talent.store.job(job.job_id) is not None, what="job delivered")
    # The youth non-profit holds a consented silver medalist and one without consent.
    consented, _ = youth.talent.add_candidate(
        name="Amina Diallo", email="amina@example.org", skills=["forklift", "team leadership"], medal="silver",
        consent=["match", "refer"], consent_scope="all", consent_evidence="signed form v3, 2026-11-01")
    youth.talent.add_candidate(name="Hidden Person", email="hidden@example.org", skills=["forklift", "excel", "team leadership"])

    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    assert not answer["partial"]
    offers = [r for r in answer["results"] if r["holder"] == youth.service.node_id.hex()]
    assert len(offers) == 1, "only the consented candidate is visible"
    offer = offers[0]
    assert offer["score"] == 67 and sorted(offer["matched"]) == ["Forklift", "Team leadership"]

    request = corp.talent.request_referral(job.job_id, bytes.fromhex(offer["pseudonym"]))
    # The holder sends automatically (consent covers "all" trusted partners) and the company marks it received.
    await wait_until(lambda: [r for r in corp.talent.store.referrals() if r.status == "received"], what="referral received")
    referral = corp.talent.list_referrals()[0]
    assert referral["candidate"]["name"] == "Amina Diallo"
    assert referral["request_id"] == request["id"]
    rid = bytes.fromhex(referral["id"])
    await wait_until(lambda: getattr(youth.talent.store.referral(rid), "status", None) == "received", what="status back to referrer")

    corp.talent.update_referral(rid, "in_process", "")
    corp.talent.update_referral(rid, "hired", "started Monday")
    closed = corp.talent.close_job(job.job_id, filled_by=rid)
    assert closed.status == "filled"
    await wait_until(lambda: getattr(youth.talent.store.referral(rid), "status", None) == "hired", what="hire reaches referrer")
    await wait_until(lambda: youth.talent.store.job(job.job_id).job.status == "filled", what="job filled at partner")
    history = [e.status for e in youth.talent.store.events(rid)]
    assert history == ["sent", "received", "in_process", "hired"]
    assert youth.talent.store.job(job.job_id).job.filled_by == rid


async def test_withdrawal_erases_at_recipient_and_is_acknowledged(net):
    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Community organiser", skills=["community outreach"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    marker = "Zebulon-Quartz-7731"
    candidate, _ = youth.talent.add_candidate(
        name=f"{marker} Name", email=f"{marker.lower()}@example.org", skills=["community outreach"],
        consent=["match", "refer"], consent_scope="sector:company", consent_evidence="phone call 2026-11-20")
    youth.talent.refer(candidate.candidate_id, job.job_id, note="great organiser")
    await wait_until(lambda: corp.talent.store.referrals(), what="referral at company")
    rid = corp.talent.store.referrals()[0].referral_id
    assert corp.talent.store.profile(rid)["name"].startswith(marker)
    assert marker.encode() in db_bytes(corp.service.home.path)

    youth.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: youth.talent.store.disclosure(rid).acked_at is not None, what="erasure acknowledged")
    assert corp.talent.store.profile(rid) is None
    assert corp.talent.store.referral(rid).status == "withdrawn"
    data = db_bytes(corp.service.home.path)
    assert marker.encode() not in data and marker.lower().encode() not in data
    # New disclosures are refused from now on.
    with pytest.raises(Exception, match="consent"):
        youth.talent.refer(candidate.candidate_id, job.job_id)


async def test_scope_excludes_other_sectors_and_pending_request_needs_staff(net):
    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    youth.talent.add_candidate(name="Only Nonprofits", email="np@example.org", skills=["driving"],
                               consent=["match", "refer"], consent_scope="sector:nonprofit", consent_evidence="form")
    youth.talent.add_candidate(name="Match Only", email="mo@example.org", skills=["driving"],
                               consent=["match"], consent_scope="all", consent_evidence="form")
    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    offers = [r for r in answer["results"] if r["holder"] == youth.service.node_id.hex()]
    assert len(offers) == 1, "the sector-scoped candidate is invisible to a company"
    corp.talent.request_referral(job.job_id, bytes.fromhex(offers[0]["pseudonym"]))
    await wait_until(lambda: youth.talent.pending_requests(), what="request pending at holder")
    pending = youth.talent.pending_requests()[0]
    assert pending["candidate"]["name"] == "Match Only"
    assert pending["held_by"]["rule"] == "purpose-not-given", pending
    assert "matched with jobs, not to have their profile sent" in pending["held_by"]["words"]
    youth.talent.decline_request(bytes.fromhex(pending["id"]), "candidate prefers non-profits")
    await wait_until(lambda: corp.talent.store.request(bytes.fromhex(pending["id"])).state == "declined")


async def test_job_org_refuses_a_profile_its_consent_does_not_cover(net):
    """A holder that (wrongly) releases a profile outside the consent's scope: the job's org keeps no data."""
    import os

    from protocol.audience import Audience
    from protocol.referrals import Referral, ReferralProfile
    from protocol.statement import Envelope

    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    marker = "Vexley-Orchard-3390"
    candidate, consent = youth.talent.add_candidate(name=marker, email="vo@example.org", skills=["driving"],
                                                    consent=["match", "refer"], consent_scope="sector:nonprofit",
                                                    consent_evidence="form")
    consent_statement = youth.service.log.get(consent.statement_id)
    rid = os.urandom(16)
    # Bypass the holder's own consent checks (at refer and at release), as a faulty or dishonest node would.
    youth.federation.outbound_guards.clear()
    profile = youth.federation.append(ReferralProfile.KIND, ReferralProfile(rid, {"name": marker}).to_value(), private=True,
                                      audience=Audience.only(corp.service.node_id))
    job_row = youth.talent.store.job(job.job_id)
    youth.federation.append(Referral.KIND, Referral(rid, job.job_id, job_row.statement_id, corp.service.node_id,
                                                    Envelope.of(consent_statement).encode(), candidate.candidate_ref,
                                                    profile.id).to_value(), private=True, audience=Audience.only(corp.service.node_id))
    await wait_until(lambda: corp.service.log.head(youth.service.node_id).seq >= youth.service.log.head(youth.service.node_id).seq)
    assert corp.talent.store.referral(rid) is None
    assert corp.talent.store.profile(rid) is None
    # The profile did arrive (sealed to the company) and was erased on receipt, its signed header kept.
    row = next(corp.service.db.query("SELECT body, erased_at FROM entries WHERE id = ?", [profile.id]))
    assert row["body"] is None and row["erased_at"] is not None
    corp.talent.store.checkpoint()
    assert marker.encode() not in db_bytes(corp.service.home.path)


async def test_job_update_propagates_and_latest_version_wins(net):
    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Driver", skills=["driving"], hops=1)
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    updated = corp.talent.update_job(job.job_id, title="Senior driver", skills=["driving", "first aid"])
    assert updated.version == 2
    await wait_until(lambda: youth.talent.store.job(job.job_id).job.version == 2, what="update at partner")
    seen = youth.talent.store.job(job.job_id).job
    assert seen.title == "Senior driver" and [s.label for s in seen.skills] == ["driving", "first aid"]
    corp.talent.close_job(job.job_id, None)
    await wait_until(lambda: youth.talent.store.job(job.job_id).job.status == "closed", what="close at partner")
    with pytest.raises(Exception, match="only an open job"):
        corp.talent.update_job(job.job_id, title="Again")
    # Closed jobs are no longer offered: matching them is refused.
    with pytest.raises(Exception, match="not open"):
        corp.talent.match_query_for(job.job_id)


async def test_a_job_is_filled_only_by_a_hired_referral(net):
    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    candidate, _ = youth.talent.add_candidate(name="Not Hired", email="nh@example.org", skills=["driving"],
                                              consent=["refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals())
    rid = corp.talent.store.referrals()[0].referral_id
    corp.talent.update_referral(rid, "not_hired", "another candidate")
    with pytest.raises(Exception, match="not hired"):
        corp.talent.close_job(job.job_id, filled_by=rid)
    assert corp.talent.close_job(job.job_id, None).status == "closed"


async def test_closing_a_closed_or_filled_job_changes_nothing(net):
    """Acceptance: a plain close on a filled job un-filled it (dropping the hire from impact); a second close added a version."""
    youth, coop, corp = await three(net)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None)
    candidate, _ = youth.talent.add_candidate(name="Hired One", email="h1@example.org", skills=["driving"],
                                              consent=["refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals())
    rid = corp.talent.store.referrals()[0].referral_id
    corp.talent.update_referral(rid, "hired", "starts Monday")
    assert corp.talent.close_job(job.job_id, filled_by=rid).status == "filled"  # positive control
    filled = corp.talent.store.job(job.job_id).job
    with pytest.raises(UserError, match="already filled"):
        corp.talent.close_job(job.job_id, None)
    assert corp.talent.close_job(job.job_id, rid) == filled  # filled again by the same referral: a no-op
    assert corp.talent.store.job(job.job_id).job == filled

    other = corp.talent.post_job(title="Cook", skills=["cooking"])
    assert corp.talent.close_job(other.job_id, None).version == 2
    assert corp.talent.close_job(other.job_id, None).version == 2  # idempotent: no second version (issue 12 item 4)
    assert corp.talent.store.job(other.job_id).job.version == 2
