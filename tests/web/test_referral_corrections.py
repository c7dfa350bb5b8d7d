"""The dashboard's "Correct outcome" form (issue 12 item 4) and partners' staff names (issue 14 item 2).

Real nodes over HTTP: a staff member corrects a mistaken hire through the form in headless Chromium
and the page then shows both the hire ("corrected below") and the correction; a viewer gets no form
and is refused (403); a post without the form's CSRF token is refused; a partner's node that signs a
staff "name" full of markup has it shown as text, quoted as its word, and nothing runs.
"""

from __future__ import annotations

from typing import Any

from protocol.referrals import ReferralStatus
from tests.node.federation_helpers import referred, wait_until
from tests.web.browser import axe_violations, sign_in
from tests.web.helpers import PASSWORD, Browserless, add_user, dashboard_url
from tests.web.test_referral_stages import card

HOSTILE = '<img src=x onerror="window.__xss=1">sam'


async def hired(net: Any, **corp_config: Any) -> tuple[Any, Any, bytes]:
    corp = await net.start("Northwind", sector="company", **corp_config)
    youth, rid = await referred(net, corp)
    corp.talent.update_referral(rid, "hired", "")
    return corp, youth, rid


async def test_staff_correct_a_hire_in_the_browser_and_the_page_shows_both(net, browser):
    corp, youth, rid = await hired(net)
    add_user(corp, "sam", "staff")
    base = dashboard_url(corp)

    async def correct(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/referrals")
        item = page.locator(f'[data-referral="{rid.hex()}"]')
        await item.locator("summary", has_text="Correct outcome").click()
        await item.locator("select[name=status]").select_option("not_hired")
        await item.locator("input[name=reason]").fill("the candidate did not start")
        violations = await axe_violations(page)
        await item.locator("button", has_text="Sign the correction").click()
        await page.wait_for_url(base + "/referrals")
        item = page.locator(f'[data-referral="{rid.hex()}"]')
        await item.locator("summary", has_text="History").click()
        return await item.inner_text(), violations

    text, violations = await browser.run(correct)
    assert violations == []
    assert "Not hired" in text and "set it to “hired” — corrected below" in text
    assert "corrected “hired” to “not hired”: “the candidate did not start” (by sam)" in text
    await wait_until(lambda: youth.talent.store.referral(rid).status == "not_hired", what="the correction at the referrer")


async def test_a_viewer_gets_no_form_and_a_post_without_the_token_is_refused(net, http):
    corp, _, rid = await hired(net)
    add_user(corp, "vera", "viewer")
    add_user(corp, "sam", "staff")
    viewer = Browserless(http, dashboard_url(corp), {})
    await viewer.sign_in("vera")
    _, html, _ = await viewer.get("/referrals")
    assert f"/referrals/{rid.hex()}/correct" not in html
    form = {"csrf": await viewer.token("/referrals"), "status": "not_hired", "reason": "x"}
    assert (await viewer.post(f"/referrals/{rid.hex()}/correct", form))[0] == 403
    staff = Browserless(http, dashboard_url(corp), {})
    await staff.sign_in("sam")
    _, html, _ = await staff.get("/referrals")
    assert f"/referrals/{rid.hex()}/correct" in card(html, rid.hex())  # positive control: staff get the form
    assert (await staff.post(f"/referrals/{rid.hex()}/correct", {"status": "not_hired", "reason": "x"}))[0] == 403
    assert corp.talent.store.referral(rid).status == "hired"  # nothing changed


async def test_a_partners_staff_name_is_shown_as_its_quoted_text(net, browser):
    """The partner's node (here: the referrer, hand-signing a withdrawal with a hostile ``acted_by``)
    names a "staff member" made of markup: our page shows it as text, as the partner's word."""
    corp = await net.start("Northwind", sector="company")
    youth, rid = await referred(net, corp)
    await wait_until(lambda: youth.talent.store.referral(rid).status == "received", what="the referral received")
    job_id = corp.talent.store.referral(rid).job_id
    body = ReferralStatus(rid, "declined", youth.talent.last_event(rid), "", HOSTILE)
    youth.talent._send(ReferralStatus.KIND, body.to_value(), corp.service.node_id, job_id)
    await wait_until(lambda: corp.talent.store.referral(rid).status == "declined", what="the decline at corp")
    add_user(corp, "sam", "staff")
    base = dashboard_url(corp)

    async def look(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/referrals")
        item = page.locator(f'[data-referral="{rid.hex()}"]')
        await item.locator("summary", has_text="History").click()
        injected = await page.evaluate("() => window.__xss === undefined ? null : 1")
        imgs = await page.evaluate("() => document.querySelectorAll('main img').length")
        return await item.inner_text(), injected, imgs

    text, injected, imgs = await browser.run(look)
    # imgs == 0 and the quoted text are the check (the markup stayed text); injected: the CSP as a second wall.
    assert f"(by “{HOSTILE}”, as their node says)" in text and imgs == 0 and injected is None
