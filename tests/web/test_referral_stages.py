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


async def test_the_stage_buttons_include_interview_and_offer_only_for_a_partner_that_understands_them(net, http):
    """The buttons are the transitions the table allows from here; ``interview``/``offer`` appear
    only while the referrer's node names ``referral-stages`` (docs/protocol.md 15.9)."""
    from protocol.versions import V1, Versions

    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    older = await net.start("Old Partner", sector="nonprofit", versions=Versions((V1,)))
    await pair(youth, corp)
    await pair(older, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    for holder in (youth, older):
        await wait_until(lambda holder=holder: holder.talent.store.job(job.job_id) is not None, what="the job at the partner")
        candidate, _ = holder.talent.add_candidate(name=f"Ada at {holder.service.config.name}", email="ada@example.org",
                                                   skills=["driving"], consent=["refer"], consent_scope="all", consent_evidence="form")
        holder.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: len(corp.talent.store.referrals()) == 2, what="both referrals to arrive")
    for holder in (youth, older):
        await wait_until(lambda holder=holder: holder.service.node_id in corp.service.peer_features, what="corp to hear each partner")
    add_user(corp, "sam", "staff")
    staff = Browserless(http, dashboard_url(corp), {})
    await staff.sign_in("sam")
    by_holder = {r.referrer: r.referral_id.hex() for r in corp.talent.store.referrals()}
    fresh, old = by_holder[youth.service.node_id], by_holder[older.service.node_id]

    _, html, _ = await staff.get("/referrals")
    assert stages(html, fresh) == ["in_process", "interview", "offer", "hired", "not_hired", "declined"]
    assert stages(html, old) == ["in_process", "hired", "not_hired", "declined"]  # no stage the old node cannot read
    status, _, _ = await staff.post(f"/referrals/{fresh}/stage", {"csrf": await staff.token("/referrals"), "stage": "interview"})
    assert status == 303
    await wait_until(lambda: youth.talent.store.referral(bytes.fromhex(fresh)).status == "interview", what="the stage at the referrer")
    _, html, _ = await staff.get("/referrals")
    assert 'data-stage="interview">Interview<' in card(html, fresh)
    assert stages(html, fresh) == ["offer", "hired", "not_hired", "declined"]  # forward only


def card(html: str, rid: str) -> str:
    """The dashboard card of one referral."""
    return next(part for part in html.split('<li class="card referral"') if f'data-referral="{rid}"' in part)


def stages(html: str, rid: str) -> list[str]:
    """The stages the card of ``rid`` offers a button for, in page order."""
    return re.findall(r'name="stage" value="(\w+)"', card(html, rid))
