"""Issue 8 item 3: one person is referred to one job once, and impact counts people and hires.

Pseudonyms change with every match (by design), so a job's organization that matches twice gets
two pseudonyms per candidate. Two real nodes (direct partners), real SQLite, real crypto: the
company matches twice and requests every pseudonym it got. The holder refers each person once and
declines every further request for the same person with the stable reason ``duplicate-referral``
naming the referral already sent; impact at both ends counts each person once. Positive control in
the same test: two different candidates give two referrals. On the old code each pseudonym became
its own referral (four disclosures for two people) and impact counted four.
"""

from __future__ import annotations

import pytest

from node.core.consent_rules import DUPLICATE_REFERRAL
from node.core.errors import UserError
from node.core.matching import ask_peers
from tests.node.federation_helpers import Net, pair, wait_until


async def partners(net: Net):
    holder = await net.start("Youth Futures", sector="nonprofit")
    company = await net.start("Northwind", sector="company")
    await pair(holder, company)
    job = company.talent.post_job(title="Warehouse team lead", skills=["Forklift", "Team leadership"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="the job at the holder")
    return holder, company, job


async def pseudonyms(company, holder, job) -> list[str]:
    answer = await ask_peers(company.talent, company.client, job.job_id, deadline=5)
    return [r["pseudonym"] for r in answer["results"] if r["holder"] == holder.service.node_id.hex()]


async def test_requesting_every_pseudonym_of_two_matches_refers_each_person_once(net):
    holder, company, job = await partners(net)
    people = [holder.talent.add_candidate(name=f"Person {n}", email=f"p{n}@example.org", skills=["forklift"],
                                          consent=["match", "refer"], consent_scope="all", consent_evidence="form")[0]
              for n in (1, 2)]
    first, second = await pseudonyms(company, holder, job), await pseudonyms(company, holder, job)
    assert len(first) == len(second) == 2 and not set(first) & set(second), "each match gives fresh pseudonyms"

    requests = [company.talent.request_referral(job.job_id, bytes.fromhex(p))["id"] for p in first + second]
    await wait_until(lambda: all(getattr(company.talent.store.request(bytes.fromhex(r)), "state", None) in ("sent", "declined")
                                 for r in requests), what="every request answered")
    states = sorted(company.talent.store.request(bytes.fromhex(r)).state for r in requests)
    assert states == ["declined", "declined", "sent", "sent"]
    await wait_until(lambda: len(company.talent.store.referrals()) >= 2, what="the referrals at the company")
    referrals = company.talent.store.referrals()
    assert len(referrals) == 2, "two people, two referrals (positive control: different candidates are both referred)"
    names = sorted(company.talent.store.profile(r.referral_id)["name"] for r in referrals)
    assert names == ["Person 1", "Person 2"]
    assert len(holder.talent.store.disclosures()) == 2, "each person's profile was disclosed once"
    for r in requests:
        row = company.talent.store.request(bytes.fromhex(r))
        if row.state == "declined":
            assert row.reason.startswith(f"{DUPLICATE_REFERRAL}: the same candidate as referral ")
            assert bytes.fromhex(row.reason.rsplit(" ", 1)[1]) in {x.referral_id for x in referrals}

    # The holder's admin cannot refer the same person to the same job again either.
    with pytest.raises(UserError, match=DUPLICATE_REFERRAL):
        holder.talent.refer(people[0].candidate_id, job.job_id)

    # Impact counts people and hires, not requests, at both ends.
    rid = referrals[0].referral_id
    company.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: holder.talent.store.referral(rid).status == "hired", what="the hire at the holder")
    at_company = company.provenance.impact(0, 2**62).figures
    at_holder = holder.provenance.impact(0, 2**62).figures
    assert at_company["referrals_received"] == 2 and at_company["referrals_hired"] == 1
    assert at_holder["referrals_sent"] == 2 and at_holder["referrals_hired"] == 1


async def test_a_request_for_someone_pending_waits_and_is_answered_as_a_duplicate_once_they_are_referred(net):
    """Without consent covering the company, both requests wait for the holder's admin (no automatic
    answer that would link the two pseudonyms); approving one refers the person and declines the other."""
    holder, company, job = await partners(net)
    person, _ = holder.talent.add_candidate(name="Pending Person", email="pp@example.org", skills=["forklift"],
                                            consent=["match"], consent_scope="all", consent_evidence="form")
    pseudos = (await pseudonyms(company, holder, job)) + (await pseudonyms(company, holder, job))
    for p in pseudos:
        company.talent.request_referral(job.job_id, bytes.fromhex(p))
    await wait_until(lambda: len(holder.talent.store.requests("pending")) == 2, what="both requests pending at the holder")
    first = holder.talent.store.requests("pending")[0]
    holder.talent.approve_request(first.request_id, "phone call, agreed to Northwind")
    assert [r.state for r in holder.talent.store.requests()] == ["sent", "declined"]
    # Acceptance: approving the auto-declined one said "no pending referral request with that id".
    second = holder.talent.store.requests()[1]
    with pytest.raises(UserError, match=r"already declined \(automatically, as a duplicate: the same candidate as referral "):
        holder.talent.approve_request(second.request_id, "phone call")
    with pytest.raises(UserError, match="already declined"):
        holder.talent.decline_request(second.request_id, "")
    with pytest.raises(UserError, match="already approved: the profile was sent"):
        holder.talent.approve_request(first.request_id, "phone call")
    with pytest.raises(UserError, match="no referral request with that id"):
        holder.talent.approve_request(b"\x00" * 16, "phone call")
    assert [r.state for r in holder.talent.store.requests()] == ["sent", "declined"]
    assert len(holder.talent.store.disclosures()) == 1
    await wait_until(lambda: sorted(r.state for r in company.talent.store.requests()) == ["declined", "sent"],
                     what="both answers at the company")
    await wait_until(lambda: company.talent.store.referrals(), what="the referral at the company")
    assert len(company.talent.store.referrals()) == 1
    assert company.provenance.impact(0, 2**62).figures["referrals_received"] == 1


async def test_a_person_already_referred_to_a_job_is_not_offered_for_it_again(net):
    """Acceptance finding: a later match (holder side) and `job match-candidate` offered a person
    already referred to the job under a fresh pseudonym, only for the request to be declined as a
    duplicate. Positive control in the same test: the person not yet referred is still offered."""
    holder, company, job = await partners(net)
    referred, other = (holder.talent.add_candidate(name=f"Person {n}", email=f"q{n}@example.org", skills=["forklift"],
                                                   consent=["match", "refer"], consent_scope="all",
                                                   consent_evidence="form")[0] for n in (1, 2))
    holder.talent.refer(referred.candidate_id, job.job_id)
    await wait_until(lambda: company.talent.store.referrals(), what="the referral at the company")

    again = await pseudonyms(company, holder, job)
    assert len(again) == 1, "only the person not yet referred is offered"
    request = company.talent.request_referral(job.job_id, bytes.fromhex(again[0]))["id"]
    await wait_until(lambda: getattr(company.talent.store.request(bytes.fromhex(request)), "state", None) == "sent",
                     what="the second person's referral")
    assert sorted(company.talent.store.profile(r.referral_id)["name"] for r in company.talent.store.referrals()) == [
        "Person 1", "Person 2"]
    # Holder side, searching jobs for one candidate: the job is not offered for someone referred to it.
    assert [j["id"] for j in holder.talent.match_candidate(referred.candidate_id)] == []
    fresh = holder.talent.add_candidate(name="Person 3", email="q3@example.org", skills=["forklift"], consent=["match", "refer"],
                                        consent_scope="all", consent_evidence="form")[0]
    assert [j["id"] for j in holder.talent.match_candidate(fresh.candidate_id)] == [job.job_id.hex()]
