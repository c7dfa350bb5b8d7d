"""The matches page (issue 14): staff at the employer ask partners for candidates for an open job and
ask for a referral from an offer; the request reaches the partner that holds the person. A viewer sees
no buttons and is refused both actions, a form without its token too, and nothing is asked or stored.
Two real nodes, real HTTP."""

from __future__ import annotations

import re

from tests.node.federation_helpers import pair, wait_until
from tests.web.helpers import Browserless, add_user, dashboard_url


async def test_staff_run_a_match_and_ask_for_a_referral_and_a_viewer_cannot(net, http):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    youth.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"],
                               consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    add_user(corp, "sam", "staff")
    add_user(corp, "vera", "viewer")
    viewer, staff = Browserless(http, dashboard_url(corp), {}), Browserless(http, dashboard_url(corp), {})
    await viewer.sign_in("vera")
    await staff.sign_in("sam")
    jid = job.job_id.hex()
    status, html, _ = await viewer.get("/matches")
    assert status == 200 and "Driver" in html and 'action="/matches"' not in html
    assert (await viewer.post("/matches", {"csrf": await viewer.token("/matches"), "job": jid}))[0] == 403
    assert (await staff.post("/matches", {"job": jid}))[0] == 403  # no token
    assert youth.talent.store.offers_of(youth.talent.store.candidates()[0].candidate_id) == []  # nobody asked

    status, html, _ = await staff.post("/matches", {"csrf": await staff.token("/matches"), "job": jid})
    assert status == 200 and "Candidates for “Driver”" in html and "at Youth Futures" in html and "Ada" not in html
    [pseudonym] = re.findall(r'name="pseudonym" value="([0-9a-f]+)"', html)
    assert (await viewer.post("/matches/request", {"csrf": await viewer.token("/matches"), "job": jid, "pseudonym": pseudonym}))[0] == 403
    assert (await staff.post("/matches/request", {"job": jid, "pseudonym": pseudonym}))[0] == 403
    assert corp.talent.store.requests() == []
    status, _, resp = await staff.post("/matches/request", {"csrf": await staff.token("/matches"), "job": jid, "pseudonym": pseudonym})
    assert status == 303 and resp.headers["Location"] == "/matches?requested=1"
    assert [r.pseudonym.hex() for r in corp.talent.store.requests()] == [pseudonym]
    await wait_until(lambda: youth.talent.store.requests(), what="the referral request at the partner")
    status, html, _ = await staff.post("/matches/request", {"csrf": await staff.token("/matches"), "job": jid, "pseudonym": pseudonym})
    assert status == 400 and "already requested" in html and len(corp.talent.store.requests()) == 1
