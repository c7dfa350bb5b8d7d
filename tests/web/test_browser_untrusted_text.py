"""In a real browser (issue 14 item 3, item 5): a partner's job whose fields hold script and markup
arrives at our dashboard and none of it executes; the main pages pass axe-core's WCAG A/AA checks.

Two real nodes are paired; the partner posts the hostile job through its own use case, it syncs to us
by the federation protocol, and a staff member of ours opens the jobs page in headless Chromium. The
positive control: the same page does run the dashboard's own script (app.js), so "nothing ran" is not
because no script could run at all.
"""

from __future__ import annotations

from tests.node.federation_helpers import pair, wait_until
from tests.web.browser import axe_violations, sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url

PAYLOAD_TITLE = '<script>window.__xss = "title"</script><img src=x onerror="window.__xss=\'img\'">Nurse'
PAYLOAD_DESCRIPTION = ('<p>Care work</p><script>window.__xss = "description"</script>'
                       '<a href="javascript:window.__xss=\'link\'">apply</a><svg onload="window.__xss=\'svg\'"></svg>')


async def test_a_partners_hostile_job_is_shown_as_text_and_nothing_runs(net, browser):
    ours = await net.start("Acme Care")
    theirs = await net.start("Evil <b>Org</b><script>window.__xss='org'</script>")
    await pair(ours, theirs)
    theirs.talent.post_job(title=PAYLOAD_TITLE, skills=["nursing"], description=PAYLOAD_DESCRIPTION)
    await wait_until(lambda: any(not j["mine"] for j in ours.talent.list_jobs()), what="the partner's job to arrive")
    add_user(ours, "sam", "staff")
    base = dashboard_url(ours)

    async def look(page):
        dialogs = []
        page.on("dialog", lambda d: dialogs.append(d.message))
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        title = await page.locator(".job h3").filter(has_text="Nurse").first.inner_text()
        author = await page.locator(".job").filter(has_text="Nurse").first.inner_text()
        injected = await page.evaluate("() => window.__xss === undefined ? null : String(window.__xss)")
        scripts = await page.evaluate("() => [...document.scripts].map(s => s.src)")
        imgs = await page.evaluate("() => document.querySelectorAll('main img, main svg[onload]').length")
        own_script_ran = await page.evaluate("() => document.documentElement.dataset.enhanced === 'yes'")
        violations = await axe_violations(page)
        return title, author, injected, scripts, imgs, own_script_ran, dialogs, violations

    title, author, injected, scripts, imgs, own_script_ran, dialogs, violations = await browser.run(look)
    assert title == PAYLOAD_TITLE  # shown exactly, as text
    assert "Evil <b>Org</b>" in author  # the partner's name too
    assert injected is None and dialogs == [] and imgs == 0
    assert scripts == [s for s in scripts if s.startswith(base + "/static/")]  # only our own script file
    assert own_script_ran  # positive control: scripts do run on this page, ours only
    assert violations == []


async def test_the_main_pages_pass_axe_and_work_on_a_narrow_screen(net, browser):
    node = await net.start("Acme Care")
    node.talent.post_job(title="Nurse", skills=["nursing"])
    ada, _ = node.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["nursing"], consent=["refer"],
                                       consent_scope="all", consent_evidence="signed form")
    add_user(node, "ann", "admin")
    base = dashboard_url(node)

    async def check(page):
        found = {}
        await page.goto(base + "/login")
        found["/login"] = await axe_violations(page)
        await sign_in(page, base, "ann", PASSWORD)
        cid = ada.candidate_id.hex()
        for path in ("/", "/jobs", "/candidates", f"/candidates/{cid}/report", f"/candidates/{cid}/erase", "/matches", "/referrals", "/partners",
                     "/audit"):
            await page.goto(base + path)
            found[path] = await axe_violations(page)
            wide = await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1")
            found[path + " scrolls sideways"] = ["yes"] if wide else []
        await page.keyboard.press("Tab")  # the first stop is the skip link
        found["first focus"] = [] if await page.evaluate("() => document.activeElement.className") == "skip" else ["not the skip link"]
        return found

    found = await browser.run(check, viewport={"width": 360, "height": 740})
    assert all(v == [] for v in found.values()), found
