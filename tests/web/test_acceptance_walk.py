"""The dashboard's acceptance walk (issue 14, round dash14) as two organizations' staff do it, in headless
Chromium against real `orgnode run` processes set up with the real CLI (`init`, `user add`).

Northwind (a company) invites Youth Futures (a non-profit) by hand: its admin creates an invitation,
Youth Futures' admin pastes it into "Accept an invitation" and both read the fingerprints. Youth Futures
imports a CSV file (a column the file names in German is mapped by hand in the preview), gives, renews
and withdraws consent, erases a person and reads a subject-access report. Northwind posts a job with
pay and a last day, finds a candidate, asks for the referral; Youth Futures approves it; Northwind moves
it to hired and corrects the outcome. Youth Futures downloads the referral's audit bundle and Northwind
uploads it and reads the report in plain words. Every step is the browser's: the CLI only sets up.
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Any

import pytest

from tests.config_files import update_config
from tests.e2e.cli_helpers import start_node
from tests.e2e.test_cli_talent import init, js, run, wait_for
from tests.web.browser import axe_violations, sign_in

PASSWORD = "correct horse battery staple"
CSV = ("Vollständiger Name;E-Mail;Fähigkeiten;Notiz\r\n"
       "Zoë Müller;zoe@example.org;driving, first aid;met at the job fair\r\n"
       "Ben Okafor;ben@example.org;driving;\r\n"
       "Cleo Marsh;cleo@example.org;driving;asked to be removed later\r\n")


def admin(home: Path, name: str, tmp: Path) -> None:
    secret = tmp / f"{name}.password"
    secret.write_text(PASSWORD + "\n")
    secret.chmod(0o600)
    assert js(home, "user", "add", name, "--role", "admin", "--password-file", str(secret))["role"] == "admin"


def dashboard(home: Path) -> str:
    return str(js(home, "status")["dashboard_url"]).rstrip("/")


async def test_two_organizations_walk_the_dashboard(tmp_path, browser):
    corp, youth = tmp_path / "corp", tmp_path / "youth"
    ids = {corp: init(corp, "Northwind", "company"), youth: init(youth, "Youth Futures", "nonprofit")}
    admin(corp, "maria", tmp_path)
    admin(youth, "pat", tmp_path)
    procs = [start_node(home) for home in (corp, youth)]
    try:
        await walk(tmp_path, browser, corp, youth, ids)
    finally:
        stop(procs)


async def test_pairing_over_the_local_network_in_the_dashboard(tmp_path, browser):
    """The walk's LAN step: real mDNS on this machine's interfaces. Where they carry no multicast the
    nodes cannot hear each other and this is skipped (tests/e2e/test_lan_discovery.py runs the same
    flow on a private network of namespaces, where it can)."""
    corp, green = tmp_path / "corp", tmp_path / "green"
    ids = {corp: init(corp, "Northwind", "company"), green: init(green, "Green Works", "social_enterprise")}
    for home in (corp, green):
        update_config(home, lan_discovery=True, lan_advertise=True)
    admin(corp, "maria", tmp_path)
    admin(green, "gina", tmp_path)
    procs = [start_node(home) for home in (corp, green)]
    try:
        await lan_pairing(browser, corp, green, ids)
    finally:
        stop(procs)


def stop(procs: list[Any]) -> None:
    for proc in procs:
        proc.send_signal(signal.SIGTERM)
    for proc in procs:
        assert proc.wait(timeout=20) == 0


async def walk(tmp_path: Path, browser: Any, corp: Path, youth: Path, ids: dict[Path, str]) -> None:
    corp_url, youth_url = dashboard(corp), dashboard(youth)
    corp_ctx = await browser.new_context(accept_downloads=True)
    youth_ctx = await browser.new_context(accept_downloads=True)
    problems: dict[str, list[str]] = {}

    async def check_axe(page: Any, name: str) -> None:
        found = await axe_violations(page)
        if found:
            problems[name] = found

    # --- invitation by hand, fingerprints read -----------------------------------------------------
    async def invite(page):
        await sign_in(page, corp_url, "maria", PASSWORD)
        await page.goto(corp_url + "/partners")
        await page.get_by_label("Their organization's name (as they will show it)").fill("Youth Futures")
        await page.get_by_role("button", name="Create an invitation").click()
        await check_axe(page, "invite")
        return await page.get_by_label("Invitation").input_value(), await page.locator(".fingerprint").inner_text()

    token, corp_fingerprint = await browser.run(invite, context=corp_ctx)

    async def accept(page):
        await sign_in(page, youth_url, "pat", PASSWORD)
        await page.goto(youth_url + "/partners")
        await page.get_by_label("The invitation another organization sent you").fill(token)
        await page.get_by_role("button", name="Accept the invitation").click()
        notice = page.locator("[data-accepted]")
        await check_axe(page, "accepted")
        return await notice.inner_text(), await notice.locator(".fingerprint").inner_text()

    accepted, shown_fingerprint = await browser.run(accept, context=youth_ctx)
    assert "You and Northwind are now partners" in accepted and shown_fingerprint == corp_fingerprint
    wait_for(lambda: [p for p in js(corp, "trust", "list") if p["node_id"] == ids[youth] and p["state"] == "trusted"],
             "Youth Futures trusted at Northwind")

    # --- CSV import with a preview and a column mapped by hand ----------------------------------------
    people = tmp_path / "people.csv"
    people.write_bytes(CSV.encode("utf-8"))

    async def import_csv(page):
        await page.goto(youth_url + "/candidates/import")
        await page.get_by_label("The CSV file").set_input_files(str(people))
        await page.get_by_role("button", name="Show the preview").click()
        await page.locator(".summary").wait_for()
        first = await page.locator("main").inner_text()
        await page.get_by_label("Column A: “Vollständiger Name”").select_option("name")
        await page.get_by_label("Column C: “Fähigkeiten”").select_option("skills")
        await page.get_by_label("Column D: “Notiz”").select_option("notes")
        await page.get_by_role("button", name="Preview again with these columns").click()
        await page.locator(".preview").wait_for()
        await check_axe(page, "csv preview")
        second = await page.locator(".summary").inner_text()
        await page.get_by_role("button", name="Import 3 candidates").click()
        await page.locator(".summary").wait_for()
        return first, second, await page.locator(".summary").inner_text()

    first, second, done = await browser.run(import_csv, context=youth_ctx)
    assert "missing required column(s)" in first and second.startswith("3 rows can be imported")
    assert done.startswith("Imported 3 of 3 candidate rows")
    found = {c["name"]: c for c in js(youth, "candidate", "list")}
    assert found["Zoë Müller"]["skills"] == ["driving", "first aid"]

    # --- consent given, renewed, withdrawn; an erasure; the subject-access report ---------------------
    def card(page, name):
        return page.locator(".candidate").filter(has=page.get_by_role("heading", name=name))

    async def give(page, name: str, expires: str, refer: bool = True) -> str:
        item = card(page, name)
        await item.locator("summary").click()
        await item.get_by_label("Be matched to jobs").check()
        if refer:
            await item.get_by_label("Be referred to employers").check()
        await item.get_by_label("Any organization, partners' partners included").check()
        await item.get_by_label("Consent ends on (year-month-day, empty: no end)").fill(expires)
        await item.get_by_label("How consent was given (kept as evidence)").fill("signed form at the job fair")
        await item.get_by_role("button", name="Record the consent").click()
        await page.get_by_role("status").wait_for()
        return await card(page, name).locator("li.consent").last.inner_text()

    async def consents(page):
        await page.goto(youth_url + "/candidates")
        given = await give(page, "Zoë Müller", "2098-12-31", refer=False)  # matched only: a referral waits for staff
        renewed = await give(page, "Zoë Müller", "2099-12-31", refer=False)
        await give(page, "Ben Okafor", "2099-12-31")
        page.once("dialog", lambda d: d.accept())
        await card(page, "Ben Okafor").get_by_role("button", name="Withdraw every consent").click()
        await page.get_by_role("status").wait_for()
        withdrawn = await card(page, "Ben Okafor").locator("li.consent").inner_text()
        await check_axe(page, "candidates")
        await card(page, "Cleo Marsh").get_by_role("link", name="Erase Cleo Marsh…").click()
        await check_axe(page, "erase")
        await page.get_by_role("button", name="Erase").click()
        await page.get_by_role("status").wait_for()
        erased = await page.get_by_role("status").inner_text()
        await card(page, "Zoë Müller").get_by_role("link", name="What we hold and did with Zoë Müller's data").click()
        await check_axe(page, "report")
        return given, renewed, withdrawn, erased, await page.locator("main").inner_text()

    given, renewed, withdrawn, erased, report = await browser.run(consents, context=youth_ctx)
    assert given.startswith("Agreed to be matched to jobs, shared with any organization, until 31 December 2098")
    assert "until 31 December 2099" in renewed and withdrawn.startswith("Withdrawn on ")
    assert "erased" in erased
    assert "Zoë Müller" in report and "met at the job fair" in report and "until 31 December 2099" in report
    assert not [c for c in js(youth, "candidate", "list") if c["name"] == "Cleo Marsh"]

    # --- a job with pay and a last day; a match; a referral asked for, approved, hired, corrected ----
    async def post_and_match(page):
        await page.goto(corp_url + "/jobs")
        await page.get_by_label("Job title").fill("Delivery driver")
        await page.get_by_label("Skills (separated by commas)").fill("driving")
        await page.get_by_label("Last day it is offered (optional)").fill("2099-06-30")
        await page.get_by_label("Pay (for example").fill("EUR 2400/MONTH")
        await page.get_by_role("button", name="Post the job").click()
        await page.get_by_role("status").wait_for()
        await check_axe(page, "jobs")
        return await page.locator(".job").filter(has_text="Delivery driver").inner_text()

    job_card = await browser.run(post_and_match, context=corp_ctx)
    assert "Pay: EUR 2,400 a month" in job_card and "Offered until 30 June 2099" in job_card
    [job] = [j for j in js(corp, "job", "list") if j["title"] == "Delivery driver"]
    wait_for(lambda: [j for j in js(youth, "job", "list") if j["job_id"] == job["job_id"]], "the job at Youth Futures")

    async def ask(page):
        await page.goto(corp_url + "/matches")
        await page.get_by_role("button", name="Find candidates for “Delivery driver”").click()
        await page.locator(".offer").first.wait_for()
        offers = await page.locator(".offer").count()
        await check_axe(page, "matches")
        await page.locator(".offer").first.get_by_role("button").click()
        return offers, await page.get_by_role("status").inner_text()

    offers, asked = await browser.run(ask, context=corp_ctx)
    assert offers == 1 and "The referral was asked for" in asked  # Zoë only: Ben withdrew, Cleo was erased

    async def approve(page):
        await page.goto(youth_url + "/referrals")
        waiting = await page.locator("main").inner_text()
        await check_axe(page, "pending")
        await page.get_by_label("How Zoë Müller agreed to be referred to Northwind (kept as evidence)").fill("phoned on 3 May, agreed")
        await page.get_by_role("button", name="Approve and send").click()
        await page.wait_for_url(youth_url + "/referrals")
        return waiting

    wait_for(lambda: js(youth, "referral", "pending"), "the request at Youth Futures")
    waiting = await browser.run(approve, context=youth_ctx)
    assert "Northwind asks for Zoë Müller for “Delivery driver”" in waiting
    assert "Why it waits: the candidate agreed to be matched with jobs" in waiting
    wait_for(lambda: [r for r in js(corp, "referral", "list") if r["status"] == "received"], "the referral at Northwind")

    async def hire_and_correct(page):
        await page.goto(corp_url + "/referrals")
        item = page.locator(".referral").first
        seen = await item.inner_text()
        for stage in ("In process", "Hired"):
            await item.get_by_role("button", name=stage, exact=True).click()
            await page.wait_for_url(corp_url + "/referrals")
            item = page.locator(".referral").first
        await item.locator("summary", has_text="Correct outcome").click()
        await item.get_by_label("What it should be").select_option("not_hired")
        await item.get_by_label("Why the recorded outcome was wrong").fill("the candidate did not start")
        await item.get_by_role("button", name="Sign the correction").click()
        await page.wait_for_url(corp_url + "/referrals")
        await check_axe(page, "referrals")
        item = page.locator(".referral").first
        await item.locator("summary", has_text="History").click()
        return seen, await item.inner_text()

    seen, history = await browser.run(hire_and_correct, context=corp_ctx)
    assert "zoe@example.org" in seen and "driving, first aid" in seen  # whom they were referred, and how to reach them
    assert "corrected “hired” to “not hired”: “the candidate did not start” (by maria)" in history

    # --- the referral's audit bundle, downloaded at the referrer and checked at the job's organization -
    referral_id = js(youth, "referral", "list")[0]["referral_id"]
    wait_for(lambda: run(youth, "audit", "export", referral_id, "--output", str(tmp_path / "probe.bundle"), check=False).returncode == 0,
             "a checkpoint covering the referral at both nodes")

    async def download(page):
        await page.goto(youth_url + "/audit")
        await check_axe(page, "audit")
        async with page.expect_download() as info:
            await page.get_by_role("button", name="Download the bundle").click()
        download = await info.value
        target = tmp_path / download.suggested_filename
        await download.save_as(str(target))
        return target

    bundle = await browser.run(download, context=youth_ctx)

    async def check(page):
        await page.goto(corp_url + "/audit")
        await page.get_by_label("Audit bundle file").set_input_files(str(bundle))
        await page.get_by_role("button", name="Check it").click()
        report = page.locator("[data-valid]")
        await report.wait_for()
        await check_axe(page, "audit report")
        return await report.get_attribute("data-valid"), await report.inner_text()

    valid, words = await browser.run(check, context=corp_ctx)
    assert valid == "yes" and "This bundle checks out" in words and "Youth Futures" in words and "Northwind" in words
    # The report in words: no protocol word (not_hired, in_process, node:<id>, "for refer") is left in what it proves.
    assert "Northwind corrected the outcome from “hired” to “not hired”" in words
    assert "the candidate's consent (" in words and "to be referred to employers, shared with Northwind, was recorded" in words
    assert "the referral's steps sent → received → in process → hired → not hired" in words
    assert [j for j in ("not_hired", "in_process", "node:", "for refer (", "lifecycle ") if j in words] == [], words
    assert problems == {}
    await browser.run_raw(corp_ctx.close)
    await browser.run_raw(youth_ctx.close)


async def lan_pairing(browser: Any, corp: Path, green: Path, ids: dict[Path, str]) -> None:
    """Green Works finds Northwind among the nodes on the network and asks to pair; Northwind's admin
    compares the fingerprint Green Works' admin reads out (its partners page) with the request's, and approves."""
    corp_url, green_url = dashboard(corp), dashboard(green)

    async def ask(page):
        await sign_in(page, green_url, "gina", PASSWORD)
        await page.goto(green_url + "/partners")
        own = await page.locator("main p .fingerprint").first.inner_text()
        for _ in range(5):  # an announcement can take a moment to be heard: "Look again", as a person would
            await page.goto(green_url + "/partners/nearby")
            if await page.locator(f'[data-node="{ids[corp]}"]').count():
                break
        else:
            return None
        node = page.locator(f'[data-node="{ids[corp]}"]')
        seen = await node.locator(".fingerprint").inner_text()
        assert await axe_violations(page) == []
        await node.get_by_role("button", name="Send a pairing request to Northwind").click()
        return own, seen, await page.get_by_role("status").inner_text()

    asked_for = await browser.run(ask)
    if asked_for is None:
        pytest.skip("the two nodes did not hear each other over mDNS: no multicast on this machine's interfaces")
    green_fingerprint, corp_seen, asked = asked_for
    assert "Asked Northwind to pair" in asked

    async def approve(page):
        await sign_in(page, corp_url, "maria", PASSWORD)
        await page.goto(corp_url + "/partners")
        own = await page.locator("main p .fingerprint").first.inner_text()
        request = page.locator(".card").filter(has_text="asks to become a partner")
        text, fingerprint = await request.inner_text(), await request.locator(".fingerprint").inner_text()
        assert await axe_violations(page) == []
        await request.get_by_role("button", name="Approve").click()
        await page.wait_for_url(corp_url + "/partners")
        return own, text, fingerprint

    corp_own, request_text, request_fingerprint = await browser.run(approve)
    assert corp_seen == corp_own  # what Green Works saw on the network is Northwind's own fingerprint
    assert "Green Works asks to become a partner" in request_text and request_fingerprint == green_fingerprint
    wait_for(lambda: [p for p in js(green, "trust", "list") if p["node_id"] == ids[corp] and p["state"] == "trusted"],
             "Northwind trusted at Green Works")
    assert [p["state"] for p in js(corp, "trust", "list") if p["node_id"] == ids[green]] == ["trusted"]
