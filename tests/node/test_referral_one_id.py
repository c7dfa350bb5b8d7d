"""Issue 12 item 5: one referral id from request to profile. A referral answering a request takes the
request's id (docs/protocol.md 15.8), so the id the requester saw when asking names the referral at
every step, for the requester and for the holder: `referral request`, `referral pending`, `referral
approve`, `referral list`, `referral update`, `job close --filled-by`. Two real nodes, real SQLite and
crypto. A holder that gives the referral an id of its own (an older release, or an id already taken)
still works: the request's id resolves to it, and a `declined` on the referral is not taken for a
declined request."""

from __future__ import annotations

from node.core.errors import UserError
from node.core.matching import ask_peers
from tests.node.federation_helpers import Net, pair, wait_until


async def partners(net: Net):
    holder = await net.start("Youth Futures", sector="nonprofit")
    company = await net.start("Northwind", sector="company")
    await pair(holder, company)
    job = company.talent.post_job(title="Warehouse team lead", skills=["Forklift"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="the job at the holder")
    return holder, company, job


async def request_one(company, holder, job) -> bytes:
    answer = await ask_peers(company.talent, company.client, job.job_id, deadline=5)
    offers = [r["pseudonym"] for r in answer["results"] if r["holder"] == holder.service.node_id.hex()]
    assert len(offers) == 1, answer
    return bytes.fromhex(company.talent.request_referral(job.job_id, bytes.fromhex(offers[0]))["id"])


async def test_the_request_id_names_the_referral_at_every_step(net: Net):
    holder, company, job = await partners(net)
    holder.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["forklift"],
                                consent=["match"], consent_scope="all", consent_evidence="form")  # refer: not yet
    rid = await request_one(company, holder, job)
    assert [r["id"] for r in company.talent.list_referrals()] == [rid.hex()]  # requested, under the request's id
    await wait_until(lambda: holder.talent.pending_requests(), what="the request waiting at the holder")
    assert [p["id"] for p in holder.talent.pending_requests()] == [rid.hex()]
    approved = holder.talent.approve_request(rid, "phoned, said yes")
    assert approved["id"] == rid.hex()  # the holder's referral: the same id
    await wait_until(lambda: company.talent.store.referral(rid) is not None, what="the referral at the company")
    assert [r["id"] for r in company.talent.list_referrals()] == [rid.hex()]  # one entry, not request + referral
    assert company.talent.list_referrals()[0]["candidate"]["name"] == "Amina Diallo"
    company.talent.update_referral(rid, "hired", "")
    company.talent.close_job(job.job_id, filled_by=rid)
    await wait_until(lambda: holder.talent.store.referral(rid).status == "hired", what="the hire at the holder")
    assert [r["id"] for r in holder.talent.list_referrals()] == [rid.hex()]


async def test_a_declined_referral_is_not_taken_for_a_declined_request(net: Net):
    holder, company, job = await partners(net)
    holder.talent.add_candidate(name="Ben Okafor", email="ben@example.org", skills=["forklift"],
                                consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    rid = await request_one(company, holder, job)
    await wait_until(lambda: getattr(company.talent.store.referral(rid), "status", None) == "received", what="the referral")
    holder.talent.update_referral(rid, "declined", "found a job elsewhere")
    await wait_until(lambda: company.talent.store.referral(rid).status == "declined", what="the decline at the company")
    assert company.talent.store.request(rid).state == "sent"  # the request stays answered, not "declined"
    assert [(r["id"], r["status"]) for r in company.talent.list_referrals()] == [(rid.hex(), "declined")]


async def test_a_referral_under_another_id_still_answers_to_the_request_id(net: Net):
    """What an older holder always sends, and what a holder sends when the request's id is taken."""
    holder, company, job = await partners(net)
    holder.talent.add_candidate(name="Chloe Martin", email="chloe@example.org", skills=["forklift"],
                                consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    answer = await ask_peers(company.talent, company.client, job.job_id, deadline=5)
    rid = bytes.fromhex(company.talent.request_referral(job.job_id, bytes.fromhex(answer["results"][0]["pseudonym"]))["id"])
    # Before the request reaches the holder (no await in between), a referral there already has its id.
    me = holder.service.node_id
    holder.talent.store.upsert_referral(rid, job_id=b"\x01" * 16, job_author=me, referrer=me, status="sent",
                                        created_at=0, updated_at=0)
    await wait_until(lambda: [r for r in company.talent.store.referrals() if r.request_id == rid], what="the referral")
    referral = next(r for r in company.talent.store.referrals() if r.request_id == rid)
    assert referral.referral_id != rid  # a fresh id: the taken one is not reused
    company.talent.update_referral(rid, "hired", "")  # the id shown when asking still names it
    assert company.talent.close_job(job.job_id, filled_by=rid).filled_by == referral.referral_id
    await wait_until(lambda: holder.talent.store.referral(referral.referral_id).status == "hired", what="the hire told")


async def test_approving_a_request_for_a_job_closed_since_records_no_consent(net: Net):
    """Acceptance pass 12: `referral approve ID --consent-evidence …` for a job the company had filled since
    recorded (and signed) a new consent for the candidate, then refused with "pick an open one from
    `orgnode job list`" — advice for `refer`, not for answering a request. Now nothing is recorded and
    the refusal says to decline the request, with its id."""
    holder, company, job = await partners(net)
    amina, _ = holder.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["forklift"],
                                           consent=["match"], consent_scope="all", consent_evidence="form")
    rid = await request_one(company, holder, job)
    await wait_until(lambda: holder.talent.pending_requests(), what="the request waiting at the holder")
    company.talent.close_job(job.job_id, filled_by=None)
    await wait_until(lambda: holder.talent.store.job(job.job_id).job.status == "closed", what="the close at the holder")
    candidate_id = amina.candidate_id
    consents = len(holder.talent.store.consents(candidate_id))
    own = len(holder.talent.store.events(rid)) if holder.talent.store.referral(rid) else 0
    try:
        holder.talent.approve_request(rid, "phoned, said yes")
        raise AssertionError("approved a request for a closed job")
    except UserError as refused:
        assert f"decline the request: `orgnode referral decline {rid.hex()}`" in str(refused)
        assert "'Warehouse team lead' is no longer open (closed)" in str(refused)
    assert len(holder.talent.store.consents(candidate_id)) == consents == 1  # nothing recorded
    assert own == 0 and holder.talent.store.referral(rid) is None
    assert [p["id"] for p in holder.talent.pending_requests()] == [rid.hex()]  # still waiting, to be declined
    holder.talent.decline_request(rid, "the job is closed")  # control: the advised answer works
    assert holder.talent.pending_requests() == []
