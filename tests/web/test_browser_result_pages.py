"""The pages that only show after a form (a match's offers, an audit report) pass axe-core's WCAG A/AA
checks and fit a narrow screen too, in headless Chromium against two real nodes; the partner's name
on an offer is shown as text."""

from __future__ import annotations

from tests.node.federation_helpers import checkpoint_held, pair, wait_until
from tests.web.browser import axe_violations, sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url


async def test_match_offers_and_an_audit_report_pass_axe_on_a_narrow_screen(net, browser, tmp_path):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth <b>Futures</b>", sector="nonprofit")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    youth.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"],
                               consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    add_user(corp, "sam", "staff")
    base = dashboard_url(corp)

    async def matches(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/matches")
        await page.get_by_role("button", name="Find candidates for “Driver”").click()
        await page.locator(".offer").first.wait_for()
        found = {"offers": await axe_violations(page), "offer text": [await page.locator(".offer").first.inner_text()]}
        wide = await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
        found["offers scroll sideways"] = ["yes"] if wide else []
        await page.locator(".offer").first.get_by_role("button").click()
        await page.wait_for_url(base + "/matches?requested=1")
        return found

    narrow = await browser.new_context(viewport={"width": 360, "height": 740})
    found = await browser.run(matches, context=narrow)
    assert "at Youth <b>Futures</b>" in found.pop("offer text")[0]  # the partner's name, as text
    await wait_until(lambda: corp.talent.store.referrals(), what="the referral")
    await checkpoint_held(youth, corp)
    await checkpoint_held(corp, youth)
    bundle = tmp_path / "referral.orgaudit"
    bundle.write_bytes(youth.provenance.export_referral(youth.talent.store.referrals()[0].referral_id, True))

    async def audit(page):
        await page.goto(base + "/audit")
        await page.get_by_label("Audit bundle file").set_input_files(str(bundle))
        await page.get_by_role("button", name="Check it").click()
        await page.locator("[data-valid]").wait_for()
        result = {"report": await axe_violations(page),
                  "valid": [] if await page.locator("[data-valid]").get_attribute("data-valid") == "yes" else ["no"]}
        wide = await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
        result["report scrolls sideways"] = ["yes"] if wide else []
        return result

    found.update(await browser.run(audit, context=narrow))
    await browser.run_raw(narrow.close)
    assert all(v == [] for v in found.values()), found
