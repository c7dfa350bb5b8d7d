"""The staff journey across two real nodes in headless Chromium (issue 14, "done when"): sign in, post a
job through the form, see it arrive at the partner's dashboard, receive the partner's referral, move it
through the stages to hired with the buttons, and see the overview's hires figure and chart change.
On the way the employer runs a match and asks for the referral from the offer (the matches page), the
partner adds the candidate with consent to be matched and referred (the candidates page), so its
node sends the referral as soon as the request arrives.
"""

from __future__ import annotations

from tests.node.federation_helpers import pair, wait_until
from tests.web.browser import sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url


async def test_post_a_job_see_it_at_the_partner_and_hire_through_a_referral(net, browser):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(youth, corp)
    add_user(corp, "sam", "staff")
    add_user(youth, "yara", "staff")
    corp_url, youth_url = dashboard_url(corp), dashboard_url(youth)
    corp_ctx = await browser.new_context()

    async def post_job(page):
        await sign_in(page, corp_url, "sam", PASSWORD)
        hires = await page.locator('[data-figure="referrals_hired"]').inner_text()
        chart = await page.locator('[data-series="referrals_hired"]').get_attribute("points")
        await page.goto(corp_url + "/jobs")
        await page.get_by_label("Job title").fill("Delivery driver")
        await page.get_by_label("Skills (separated by commas)").fill("driving")
        await page.get_by_role("button", name="Post the job").click()
        await page.wait_for_url(corp_url + "/jobs?posted=1")
        return hires, chart

    hires_before, chart_before = await browser.run(post_job, context=corp_ctx)
    assert hires_before == "0"
    job = next(j for j in corp.talent.list_jobs(mine=True) if j["title"] == "Delivery driver")
    await wait_until(lambda: youth.talent.store.job(bytes.fromhex(job["id"])) is not None, what="the job at the partner")

    async def partner_sees(page):
        await sign_in(page, youth_url, "yara", PASSWORD)
        await page.goto(youth_url + "/jobs")
        return await page.locator(".job").filter(has_text="Delivery driver").inner_text()

    youth_ctx = await browser.new_context()
    assert "From Northwind" in await browser.run(partner_sees, context=youth_ctx)

    async def add_candidate(page):
        await page.goto(youth_url + "/candidates")
        await page.get_by_label("Name", exact=True).fill("Ada Lovelace")
        await page.get_by_label("Email", exact=True).fill("ada@example.org")
        await page.get_by_label("Skills (separated by commas)").fill("driving")
        await page.get_by_label("Be matched to jobs").check()
        await page.get_by_label("Be referred to employers").check()
        await page.get_by_label("Any organization, partners' partners included").check()
        await page.get_by_label("How consent was given (kept as evidence)").fill("signed form")
        await page.get_by_role("button", name="Add the candidate").click()
        await page.wait_for_url(youth_url + "/candidates?done=added")
        return await page.locator(".candidate").filter(has_text="Ada Lovelace").inner_text()

    assert "Agreed to be matched to jobs and be referred to employers, shared with any organization, with no end date" in (
        await browser.run(add_candidate, context=youth_ctx))

    async def match_and_ask(page):
        await page.goto(corp_url + "/matches")
        await page.get_by_role("button", name="Find candidates for “Delivery driver”").click()
        offer = page.locator(".offer").first
        text = await offer.inner_text()
        await offer.get_by_role("button", name="Ask Youth Futures to refer this person").click()
        await page.wait_for_url(corp_url + "/matches?requested=1")
        return text

    assert "at Youth Futures" in await browser.run(match_and_ask, context=corp_ctx)
    await wait_until(lambda: corp.talent.store.referrals(), what="the referral to arrive")

    async def hire(page):
        await page.goto(corp_url + "/referrals")
        card = page.locator(".referral").filter(has_text="Ada Lovelace")
        for label in ("In process", "Hired"):
            await card.get_by_role("button", name=label, exact=True).click()
            await page.wait_for_url(corp_url + "/referrals")
        stage = await card.locator("[data-stage]").inner_text()
        await page.goto(corp_url + "/")
        return (stage, await page.locator('[data-figure="referrals_hired"]').inner_text(),
                await page.locator('[data-series="referrals_hired"]').get_attribute("points"))

    stage, hires_after, chart_after = await browser.run(hire, context=corp_ctx)
    assert stage == "Hired" and hires_after == "1" and chart_after != chart_before
    await browser.run_raw(corp_ctx.close)
    await browser.run_raw(youth_ctx.close)
