"""The pages added for the rest of issue 14 — editing a job, importing a JobPosting, where a job
travelled, correcting a candidate, the CSV import's preview and report, partners' health and nearby
nodes — in headless Chromium against real nodes on a narrow screen: each main flow is done by a person's
clicks and keys, every page passes axe-core's WCAG A/AA checks and none scrolls sideways."""

from __future__ import annotations

import json

from tests.node.federation_helpers import pair, wait_until
from tests.node.test_discovery import lan
from tests.web.browser import axe_violations, sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url

CSV = "Name,Email,Kompetenzen,Notes\nZoë Müller,zoe@example.org,\"nursing, driving\",first\nBad Row,nope,x,\n"
POSTING = json.dumps({"@context": "https://schema.org", "@type": "JobPosting", "title": "Night porter",
                      "description": "<p>Keys <script>alert(1)</script></p>", "datePosted": "2026-01-05", "industry": "Care"})


async def test_the_new_pages_work_by_keyboard_and_clicks_pass_axe_and_fit_a_narrow_screen(net, browser, tmp_path):
    ours = await net.start("Northwind Care")
    theirs = await net.start("Youth <b>Futures</b>")
    await pair(ours, theirs)
    ours.lan.discovery.browse = lan(ours, theirs)  # type: ignore[method-assign]
    job = ours.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: theirs.talent.store.job(job.job_id) is not None, what="the job at the partner")
    ada, _ = ours.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["maths"])
    add_user(ours, "maria", "admin")
    base = dashboard_url(ours)
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(CSV, encoding="utf-8")
    jid, cid = job.job_id.hex(), ada.candidate_id.hex()

    async def flows(page):
        found: dict[str, list[str]] = {}

        async def check(name: str) -> None:
            found[name] = await axe_violations(page)
            if await page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"):
                found[name].append("scrolls sideways")

        await sign_in(page, base, "maria", PASSWORD)
        await page.goto(base + "/jobs")
        await page.get_by_role("link", name="Edit “Driver”").click()
        await check("job edit")
        await page.get_by_label("Job title").fill("Delivery driver")
        await page.get_by_label("Job title").press("Enter")  # the keyboard sends the form
        await page.wait_for_url(base + "/jobs?done=edited")

        await page.get_by_role("link", name="Import a job posting").first.click()
        await page.get_by_label("Or paste it here").fill(POSTING)
        await page.get_by_role("button", name="Import and post the job").click()
        await page.get_by_role("alert").wait_for()
        found["refusal names the skills"] = [] if "names no skills" in await page.get_by_role("alert").inner_text() else ["no"]
        await check("job import refused")
        await page.get_by_label("Skills to match on").fill("security, keys")
        await page.get_by_role("button", name="Import and post the job").click()
        await page.get_by_text("was imported").first.wait_for()
        await check("job imported")

        await page.goto(base + f"/jobs/{jid}/travel")
        await page.get_by_role("button", name="Ask our partners who passed it on").click()
        await page.wait_for_url(base + f"/jobs/{jid}/travel?ask=1")
        await check("job travel")

        await page.goto(base + f"/candidates/{cid}/edit")
        await page.get_by_label("Place").fill("London")
        await page.get_by_role("button", name="Save the corrections").click()
        await page.wait_for_url(base + "/candidates?done=edited")
        await page.goto(base + "/candidates/import")
        await check("csv choose")
        await page.get_by_label("The CSV file").set_input_files(str(csv_file))
        await page.get_by_role("button", name="Show the preview").click()
        await page.locator(".preview").wait_for()
        await check("csv preview")
        button = page.get_by_role("button", name="Import 1 candidate")
        await button.focus()
        await page.keyboard.press("Enter")
        await page.get_by_text("Imported 1 of 2 candidate rows").wait_for()
        await check("csv report")

        await page.goto(base + "/partners")
        await check("partners with health")
        await page.get_by_role("link", name="Organizations on this network").click()
        await page.locator(".nearby").first.wait_for()
        await check("nearby")
        return found

    narrow = await browser.new_context(viewport={"width": 360, "height": 740})
    found = await browser.run(flows, context=narrow)
    await browser.run_raw(narrow.close)
    assert all(v == [] for v in found.values()), found
    assert ours.talent.store.job(job.job_id).job.title == "Delivery driver"
    assert {c.name for c in ours.talent.store.candidates()} == {"Ada Lovelace", "Zoë Müller"}
    assert ours.talent.store.candidate(ada.candidate_id).location == "London"
