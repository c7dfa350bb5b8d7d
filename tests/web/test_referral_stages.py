"""The referrals page moves a real referral through its stages to hired with one click each, records
who did it, and offers a viewer no button and accepts none from them (issue 14 items 2 and 4)."""

from __future__ import annotations

import re

from tests.node.federation_helpers import pair, wait_until
from tests.web.helpers import Browserless, add_user, dashboard_url


async def test_staff_move_a_referral_to_hired_and_a_viewer_cannot(net, http):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    candidate, _ = youth.talent.add_candidate(name="Ada <i>Driver</i>", email="ada@example.org", skills=["driving"],
                                              consent=["refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals(), what="the referral to arrive")
    rid = corp.talent.store.referrals()[0].referral_id.hex()
    first = corp.talent.store.referrals()[0].status  # "received": the node marks an arrived referral so
    add_user(corp, "sam", "staff")
    add_user(corp, "vera", "viewer")
    viewer = Browserless(http, dashboard_url(corp), {})
    await viewer.sign_in("vera")
    _, html, _ = await viewer.get("/referrals")
    assert "Ada &lt;i&gt;Driver&lt;/i&gt;" in html and f"/referrals/{rid}/stage" not in html
    assert (await viewer.post(f"/referrals/{rid}/stage", {"csrf": await viewer.token("/referrals"), "stage": "hired"}))[0] == 403
    assert corp.talent.store.referral(bytes.fromhex(rid)).status == first
    staff = Browserless(http, dashboard_url(corp), {})
    await staff.sign_in("sam")
    for stage in [s for s in ("received", "in_process", "hired") if s != first]:
        _, html, _ = await staff.get("/referrals")
        assert f'name="stage" value="{stage}"' in html, (stage, re.findall(r'name="stage" value="(\w+)"', html))
        status, _, _ = await staff.post(f"/referrals/{rid}/stage", {"csrf": await staff.token("/referrals"), "stage": stage})
        assert status == 303
    assert corp.talent.store.referral(bytes.fromhex(rid)).status == "hired"
    _, html, _ = await staff.get("/referrals")
    assert 'data-stage="hired"' in html and "sam moved it to “Hired”" in html and 'name="stage"' not in html
    await wait_until(lambda: youth.talent.store.referral(bytes.fromhex(rid)).status == "hired", what="the partner to see the hire")
    assert "sam" not in str(youth.talent.list_referrals())  # who did it stays here
