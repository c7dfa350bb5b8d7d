"""The audit page (issue 14): staff download a real referral's audit bundle, which the offline verifier
accepts; anyone signed in uploads a bundle and reads the report in the CLI's plain words; a bundle
changed by one byte is reported as not checking out; a viewer cannot export, a form without its
token is refused. Two real nodes, real HTTP."""

from __future__ import annotations

import aiohttp

from node.formats.audit_words import CHECK_WORDS
from protocol.audit import verify
from tests.node.federation_helpers import checkpoint_held, pair, wait_until
from tests.web.helpers import Browserless, add_user, dashboard_url


def upload(token: str, data: bytes) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("csrf", token)
    form.add_field("bundle", data, filename="bundle.orgaudit", content_type="application/octet-stream")
    return form


async def test_export_a_referral_bundle_and_check_it_on_the_page(net, http):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    candidate, _ = youth.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"],
                                              consent=["refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals(), what="the referral to arrive")
    rid = youth.talent.store.referrals()[0].referral_id.hex()
    await checkpoint_held(corp, youth)  # the bundle carries the employer's signed checkpoint
    await checkpoint_held(youth, corp)
    add_user(youth, "sam", "staff")
    add_user(youth, "vera", "viewer")
    viewer, staff = Browserless(http, dashboard_url(youth), {}), Browserless(http, dashboard_url(youth), {})
    await viewer.sign_in("vera")
    await staff.sign_in("sam")
    status, html, _ = await viewer.get("/audit")
    assert status == 200 and 'action="/audit/export"' not in html and 'action="/audit/check"' in html
    assert (await viewer.post("/audit/export", {"csrf": await viewer.token("/audit"), "referral": rid}))[0] == 403
    _, html, _ = await staff.get("/audit")
    assert f'value="{rid}"' in html
    assert (await staff.post("/audit/export", {"referral": rid, "redact": "yes"}))[0] == 403  # no token
    async with http.post(staff.base + "/audit/export", data={"csrf": await staff.token("/audit"), "referral": rid, "redact": "yes"},
                         headers=staff.headers(), allow_redirects=False) as resp:
        assert resp.status == 200, await resp.text()
        assert "attachment" in resp.headers["Content-Disposition"]
        bundle = await resp.read()
    assert verify(bundle).valid and b"ada@example.org" not in bundle  # redacted, and the verifier agrees
    add_user(corp, "erin", "staff")  # the employer's side: its referral is exported at the referrer
    employer = Browserless(http, dashboard_url(corp), {})
    await employer.sign_in("erin")
    _, html, _ = await employer.get("/audit")
    assert f'value="{rid}"' not in html and "downloaded at the organization that referred" in html

    status, html, _ = await viewer.post("/audit/check", upload(await viewer.token("/audit"), bundle))
    assert status == 200 and 'data-valid="yes"' in html and "This bundle checks out" in html
    assert CHECK_WORDS["signatures"] in html and CHECK_WORDS["consent"] in html
    assert (await viewer.post("/audit/check", upload("0" * 32, bundle)))[0] == 403

    tampered = bytearray(bundle)
    at = bundle.index(b"Driver")
    tampered[at] ^= 0x20  # "driver": the signed job no longer matches its signature
    status, html, _ = await viewer.post("/audit/check", upload(await viewer.token("/audit"), bytes(tampered)))
    assert status == 200 and 'data-valid="no"' in html and "does NOT check out" in html and "Failed:" in html
    status, html, _ = await viewer.post("/audit/check", upload(await viewer.token("/audit"), b"not a bundle"))
    assert status == 400 and "not an audit bundle" in html
