"""The screenshots of the main pages in docs/screenshots/ (linked from the README) are made here, from
real nodes in the real browser: run with ORGNODE_SCREENSHOTS=1 to write them; otherwise the test takes
them into tmp_path, so the pages it shows are checked to render for an admin every run."""

from __future__ import annotations

import os
from pathlib import Path

from node.core.fields import date_ms, read_salary
from tests.node.federation_helpers import pair, wait_until
from tests.node.test_discovery import lan
from tests.web.browser import sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PAGES = {"overview": "/", "jobs": "/jobs", "candidates": "/candidates", "matches": "/matches", "referrals": "/referrals",
         "partners": "/partners", "audit": "/audit", "login": "/login", "job-travel": "/jobs/{job}/travel",
         "job-import": "/jobs/import", "nearby": "/partners/nearby"}


async def test_screenshots_of_the_main_pages(net, browser, tmp_path):
    ours = await net.start("Northwind Care")
    theirs = await net.start("Youth Futures")
    await pair(ours, theirs)
    ours.talent.post_job(title="Care assistant", skills=["nursing"], location=None)
    job = ours.talent.post_job(title="Driver", skills=["driving"], hops=2)
    theirs.talent.post_job(title="Youth worker", skills=["social work"], salary=read_salary("EUR 32000-36000/YEAR"),
                           valid_through=date_ms("2027-03-31", end_of_day=True),
                           description="Evening and weekend sessions at our youth centre.\n\nYou plan activities with the young people.")
    await wait_until(lambda: any(not j["mine"] for j in ours.talent.list_jobs()), what="the partner's job")
    await wait_until(lambda: theirs.talent.store.job(job.job_id) is not None, what="our job at the partner")
    candidate, _ = theirs.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"],
                                               consent=["refer"], consent_scope="all", consent_evidence="signed form")
    theirs.talent.refer(candidate.candidate_id, job.job_id, note="Reliable, holds a van licence; met her at our job fair.")
    await wait_until(lambda: ours.talent.store.referrals(), what="the referral")
    ours.talent.add_candidate(name="Grace Hopper", email="grace@example.org", skills=["nursing", "driving"], medal="silver",
                              consent=["match", "refer"], consent_scope="sector:nonprofit", consent_evidence="signed form")
    ours.lan.discovery.browse = lan(ours, theirs)  # type: ignore[method-assign]
    add_user(ours, "maria", "admin")
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("Name;E-Mail;Kompetenzen;Telefon\nZoë Müller;zoe@example.org;nursing, driving;+49 30 1234567\n"
                        "Bad Row;not-an-email;x;\n", encoding="utf-8")
    base = dashboard_url(ours)
    target = DOCS if os.environ.get("ORGNODE_SCREENSHOTS") == "1" else tmp_path
    target.mkdir(parents=True, exist_ok=True)

    async def shoot(page):
        await page.goto(base + "/login")
        await page.screenshot(path=str(target / "login.png"), full_page=True)
        await sign_in(page, base, "maria", PASSWORD)
        for name, path in PAGES.items():
            if name != "login":
                await page.goto(base + path.replace("{job}", job.job_id.hex()))
                if name == "jobs":
                    await page.locator(".description summary").first.click()  # a partner's job, its description open
                await page.screenshot(path=str(target / f"{name}.png"), full_page=True)
        await page.goto(base + "/candidates/import")
        await page.get_by_label("The CSV file").set_input_files(str(csv_file))
        await page.get_by_role("button", name="Show the preview").click()
        await page.locator(".preview").wait_for()
        await page.screenshot(path=str(target / "candidate-import.png"), full_page=True)

    await browser.run(shoot, viewport={"width": 1100, "height": 800})
    assert set(p.name for p in target.glob("*.png")) >= {f"{n}.png" for n in PAGES} | {"candidate-import.png"}
