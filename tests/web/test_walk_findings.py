"""Regression tests for what the dashboard acceptance walk found (round dash14; the walk itself is
tests/web/test_acceptance_walk.py): real nodes over HTTP, each refusal checked to change nothing.

- The partners page could create an invitation but not accept one: an admin now pastes it there
  (`trust accept`'s request and use case); a bad one is refused in words, nothing trusted.
- A referral request waiting for approval did not say which consent rule held it, and approving one
  the consent does not cover failed with "record ... consent_evidence" and no field to give it.
- A received referral showed the candidate's name only: not how to reach them, nor the referrer's note.
- "Organizations on this network" said "already a partner." with a small letter; former partners were
  listed with the stored state ("removed", "pending_out").
"""

from __future__ import annotations

from node.core.matching import ask_peers
from tests.node.federation_helpers import pair, wait_until
from tests.node.test_discovery import lan
from tests.web.helpers import Browserless, add_user, dashboard_url


async def signed_in(http, node, name: str, role: str) -> Browserless:
    add_user(node, name, role)
    client = Browserless(http, dashboard_url(node), {})
    assert await client.sign_in(name) == 303
    return client


async def test_an_admin_accepts_an_invitation_on_the_partners_page(net, http):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures")
    token = corp.federation.create_invite(600_000, "Youth Futures", None).encode()
    admin = await signed_in(http, youth, "pat", "admin")
    csrf = await admin.token("/partners")
    status, html, _ = await admin.post("/partners/accept", {"csrf": csrf, "token": token[:-6]})
    assert status == 400 and "this is not a whole invitation" in html and "orgnode" not in html.split("<main")[1]
    assert youth.federation.peers.trusted() == []
    status, html, _ = await admin.post("/partners/accept", {"csrf": csrf, "token": "  "})
    assert status == 400 and "paste the invitation the other organization sent you" in html
    status, _, resp = await admin.post("/partners/accept", {"csrf": csrf, "token": token})
    assert status == 303 and resp.headers["Location"] == f"/partners?accepted={corp.service.node_id.hex()}"
    assert [p.node_id for p in youth.federation.peers.trusted()] == [corp.service.node_id]
    _, html, _ = await admin.get(resp.headers["Location"])
    fingerprint = " ".join(corp.service.identity.fingerprint.replace("-", "")[i:i + 4] for i in range(0, 20, 4))
    assert "You and <strong>Northwind</strong> are now partners" in html and fingerprint in html
    _, html, _ = await admin.get(f"/partners?accepted={'0' * 64}")  # a made-up id says nothing
    assert "are now partners" not in html
    status, html, _ = await admin.post("/partners/accept", {"csrf": csrf, "token": token})  # used once already
    assert status == 400 and "it was already used" in html and len(youth.federation.peers.trusted()) == 1
    status, _, _ = await admin.post(f"/partners/{corp.service.node_id.hex()}/remove", {"csrf": csrf})
    _, html, _ = await admin.get("/partners")
    assert status == 303 and 'Northwind — <span data-peer-state="removed">a former partner</span>' in html  # not "removed"


async def held_request(net):
    """Northwind asks Youth Futures for Zoë, whose consent lets her be matched but not referred: the request waits."""
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures")
    await pair(corp, youth)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    zoe, _ = youth.talent.add_candidate(name="Zoë Müller", email="zoe@example.org", skills=["driving"], phone="+49 30 1",
                                        consent=["match"], consent_scope="all", consent_evidence="form")
    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    [offer] = answer["results"]
    corp.talent.request_referral(job.job_id, bytes.fromhex(offer["pseudonym"]))
    await wait_until(lambda: youth.talent.pending_requests(), what="the request held at the partner")
    [held] = youth.talent.pending_requests()
    return corp, youth, zoe, held


async def test_a_held_request_names_its_rule_and_approving_asks_how_the_candidate_agreed(net, http):
    corp, youth, zoe, held = await held_request(net)
    staff = await signed_in(http, youth, "sam", "staff")
    _, html, _ = await staff.get("/referrals")
    assert 'data-rule="purpose-not-given"' in html and "Why it waits: the candidate agreed to be matched with jobs" in html
    assert "How Zoë Müller agreed to be referred to Northwind (kept as evidence)" in html
    csrf = await staff.token("/referrals")
    status, html, _ = await staff.post(f"/requests/{held['id']}/approve", {"csrf": csrf, "consent_evidence": " "})
    assert status == 400 and "say how they agreed to it" in html and "consent_evidence" not in html
    assert youth.talent.store.referrals() == [] and len(youth.talent.store.consents(zoe.candidate_id)) == 1  # nothing sent
    status, _, _ = await staff.post(f"/requests/{held['id']}/approve", {"csrf": csrf, "consent_evidence": "phoned on 3 May"})
    assert status == 303 and len(youth.talent.store.referrals()) == 1
    await wait_until(lambda: corp.talent.store.referrals(), what="the referral at the job's organization")
    hiring = await signed_in(http, corp, "maria", "staff")
    _, html, _ = await hiring.get("/referrals")
    assert "zoe@example.org · +49 30 1 · skills: driving" in html  # whom they were sent, and how to reach them


async def test_declining_a_request_can_say_why_and_the_asker_reads_it(net, http):
    corp, youth, _, held = await held_request(net)
    staff = await signed_in(http, youth, "sam", "staff")
    _, html, _ = await staff.get("/referrals")
    assert "Why you decline (optional; Northwind is told)" in html
    status, _, _ = await staff.post(f"/requests/{held['id']}/decline", {"csrf": await staff.token("/referrals"),
                                                                       "reason": "she took another job"})
    assert status == 303 and youth.talent.pending_requests() == []
    await wait_until(lambda: [r for r in corp.talent.list_referrals() if r["status"] == "declined"], what="the answer at the asker")
    asker = await signed_in(http, corp, "maria", "viewer")
    _, html, _ = await asker.get("/referrals")
    assert "Declined</strong> (she took another job)" in html


async def test_a_nearby_partner_reads_as_a_sentence(net, http):
    ours = await net.start("Northwind")
    theirs = await net.start("Youth Futures")
    await pair(ours, theirs)
    ours.lan.discovery.browse = lan(ours, theirs)  # type: ignore[method-assign]
    viewer = await signed_in(http, ours, "vera", "viewer")
    _, html, _ = await viewer.get("/partners/nearby")
    assert 'data-peer-state="trusted">Already a partner.</p>' in html
