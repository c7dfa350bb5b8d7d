"""The dashboard in plain words, in headless Chromium against real nodes (issue 14, round dash14):
consent states as sentences (the exact state kept in ``data-consent-state`` and ``title``), one "last
heard from" time for a partner on every page, partners' jobs with their description (sanitised) and
pay, and posting a job with pay and a last day through the same checks as `orgnode job post`."""

from __future__ import annotations

import json

import aiohttp

from node.core.fields import date_ms
from node.core.views import iso
from node.web.filters import when
from tests.node.federation_helpers import FakeClock, pair, wait_until
from tests.web.browser import axe_violations, sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url

DAY_MS = 86_400_000


async def admin_get(node, path: str):
    """The admin API over the node's Unix socket, as the CLI calls it."""
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(node.socket_path))) as session:
        async with session.get(f"http://localhost{path}") as resp:
            return resp.status, json.loads(await resp.read())


async def test_consent_states_read_as_sentences_and_keep_the_exact_state(net, browser):
    node = await net.start("Youth Futures")
    clock = FakeClock(follow_wall=True)
    node.service.clock = clock
    until = date_ms("2099-03-03", end_of_day=True)
    ada, _ = node.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["nursing"],
                                       consent=["match", "refer"], consent_scope="sector:nonprofit",
                                       consent_expires=until, consent_evidence="signed form")
    soon = clock() + 2 * DAY_MS
    grace, _ = node.talent.add_candidate(name="Grace Hopper", email="grace@example.org", skills=["cobol"], consent=["refer"],
                                         consent_scope="all", consent_expires=soon, consent_evidence="email of 3 May")
    alan, _ = node.talent.add_candidate(name="Alan Turing", email="alan@example.org", skills=["maths"], consent=["match"],
                                        consent_scope="all", consent_evidence="phone call")
    node.talent.withdraw_consent(alan.candidate_id)
    clock.advance(3 * DAY_MS)  # Grace's consent has run out
    add_user(node, "sam", "staff")
    base = dashboard_url(node)

    async def look(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/candidates")
        found = {}
        for c in (ada, grace, alan):
            item = page.locator(f'[data-candidate="{c.candidate_id.hex()}"] li.consent')
            found[c.name] = (await item.inner_text(), await item.get_attribute("data-consent-state"),
                             await item.get_attribute("title"))
        await page.goto(base + f"/candidates/{grace.candidate_id.hex()}/report")
        found["report"] = (await page.locator("li.consent").inner_text(), await page.locator("li.consent").get_attribute("data-consent-state"))
        return found

    found = await browser.run(look)
    assert found["Ada Lovelace"] == ("Agreed to be matched to jobs and be referred to employers, shared with organizations in the "
                                     "nonprofit sector, until 3 March 2099. How it was given: signed form.", "given",
                                     "Consent state: given")
    text, state, title = found["Grace Hopper"]
    assert text.startswith("Expired on ") and "had agreed to be referred to employers, shared with any organization" in text
    assert "renew" in text and (state, title) == ("expired", "Consent state: expired")
    text, state, _ = found["Alan Turing"]
    assert text.startswith("Withdrawn on ") and "had agreed to be matched to jobs" in text and state == "withdrawn"
    for text, *_ in found.values():  # no protocol word is left in the sentence
        assert "sector:" not in text and "refer," not in text and "Consent given" not in text
    assert found["report"][0].startswith("Expired on ") and found["report"][1] == "expired"


async def test_a_partners_last_heard_time_is_the_same_on_every_page(net, browser):
    """Our node keeps asking the partner for news (its answers are contact); the partner never asks us
    (a long sync interval). The partners table, the health card and "where a job travelled" all say
    the one time (``Health.last_heard``); the travel page used to say when the partner last asked us."""
    ours = await net.start("Northwind Care")
    theirs = await net.start("Youth Futures", sync_interval=3600)
    await pair(ours, theirs)
    clock = FakeClock()  # still between the steps: every answer after one is heard at that very moment
    ours.service.clock = clock
    job = ours.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: theirs.talent.store.job(job.job_id) is not None, what="our job at the partner")
    partner = theirs.service.identity.node_id
    for _ in range(2):  # the partner may still answer the pairing's and the job's news right after the first step
        later = clock.advance(120_000)  # two minutes on (inside the 5-minute request window): only our own requests heard since
        await wait_until(lambda at=later: (r := ours.federation.health.reach.get(partner)) is not None and r.last_ok is not None
                         and r.last_ok >= at, what="an answer from the partner after the clock moved")
    stored = ours.federation.peers.get(partner).last_contact
    assert stored is None or stored < later  # the partner did not ask us since: the two old sources differ
    add_user(ours, "sam", "staff")
    base = dashboard_url(ours)

    async def look(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/partners")
        table = page.locator("td.last-heard")
        card = page.locator(f'[data-partner="{partner.hex()}"] .last-heard')
        out = [(await table.get_attribute("data-last-heard"), await table.inner_text()),
               (await card.get_attribute("data-last-heard"), await card.inner_text())]
        await page.goto(base + f"/jobs/{job.job_id.hex()}/travel")
        travel = page.locator(f'[data-partner="{partner.hex()}"] .last-heard')
        out.append((await travel.get_attribute("data-last-heard"), await travel.inner_text()))
        return out

    (table_ms, table_text), (card_ms, card_text), (travel_ms, travel_text) = await browser.run(look)
    assert int(table_ms) == later and table_ms == card_ms == travel_ms
    shown = when(int(table_ms))
    assert table_text == shown and shown in card_text and shown in travel_text
    status, listed = await admin_get(ours, "/trust")  # what `trust list --json` reads
    assert status == 200 and [p["last_contact"] for p in listed if p["node_id"] == partner.hex()] == [iso(later)]


async def test_partners_jobs_show_their_description_sanitised_and_their_pay(net, browser):
    ours = await net.start("Northwind Care")
    theirs = await net.start("Youth Futures")
    await pair(ours, theirs)
    from node.core.fields import read_salary

    theirs.talent.post_job(title="Youth worker", skills=["social work"], salary=read_salary("EUR 30000-38000/YEAR"),
                           valid_through=date_ms("2099-06-30", end_of_day=True),
                           description="Evening shifts.\n\n<b>Bring</b> your <i onmouseover=\"window.__xss=1\">ideas</i>")
    await wait_until(lambda: any(not j["mine"] for j in ours.talent.list_jobs()), what="the partner's job")
    add_user(ours, "sam", "staff")
    base = dashboard_url(ours)

    async def look(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        card = page.locator(".job").filter(has_text="Youth worker")
        await card.locator("summary").click()  # open the description
        return {"pay": await card.locator(".pay").inner_text(), "day": await card.locator(".last-day").inner_text(),
                "text": await card.locator(".description-text").inner_text(),
                "paragraphs": await card.locator(".description-text p").count(),
                "elements": await card.locator(".description-text b, .description-text i, [onmouseover]").count(),
                "axe": await axe_violations(page)}

    seen = await browser.run(look)
    assert seen["pay"] == "Pay: EUR 30,000 to 38,000 a year" and seen["day"] == "Offered until 30 June 2099"
    assert seen["paragraphs"] == 2 and "Evening shifts." in seen["text"]
    assert '<b>Bring</b> your <i onmouseover="window.__xss=1">ideas</i>' in seen["text"]  # shown as the text it is
    assert seen["elements"] == 0 and seen["axe"] == []


async def test_posting_a_job_with_pay_and_a_last_day_uses_the_job_post_checks(net, browser):
    node = await net.start("Northwind Care")
    add_user(node, "sam", "staff")
    base = dashboard_url(node)

    async def refuse(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        await page.get_by_label("Job title").fill("Driver")
        await page.get_by_label("Skills (separated by commas)").fill("driving")
        await page.get_by_label("Last day it is offered (optional)").fill("2099-03-03")
        await page.get_by_label("Pay (for example").fill("lots")
        await page.get_by_label("Partly remote").check()
        await page.get_by_role("button", name="Post the job").click()
        return {"alert": await page.get_by_role("alert").inner_text(),
                "where": await page.get_by_label("Partly remote").is_checked(),
                "invalid": await page.get_by_label("Pay (for example").get_attribute("aria-invalid"),
                "kept": (await page.get_by_label("Job title").input_value(), await page.get_by_label("Pay (for example").input_value(),
                         await page.get_by_label("Last day it is offered (optional)").input_value())}

    async def post(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        await page.get_by_label("Job title").fill("Driver")
        await page.get_by_label("Skills (separated by commas)").fill("driving")
        await page.get_by_label("Last day it is offered (optional)").fill("2099-03-03")
        await page.get_by_label("Pay (for example").fill("EUR 30000-38000/YEAR")
        await page.get_by_role("button", name="Post the job").click()
        await page.get_by_role("status").wait_for()
        card = page.locator(".job").filter(has_text="Driver")
        return await card.locator(".pay").inner_text(), await card.locator(".last-day").inner_text()

    refused = await browser.run(refuse)
    assert 'salary looks like "EUR 30000-38000/YEAR"' in refused["alert"] and "Nothing was changed" in refused["alert"]
    assert refused["invalid"] == "true" and refused["kept"] == ("Driver", "lots", "2099-03-03") and refused["where"]
    assert node.talent.store.jobs() == []  # refused: nothing posted
    pay, day = await browser.run(post)
    [row] = node.talent.store.jobs()
    assert row.job.salary is not None and (row.job.salary.min, row.job.salary.max, row.job.salary.unit) == (3_000_000, 3_800_000, "YEAR")
    assert row.job.valid_through == date_ms("2099-03-03", end_of_day=True)  # the day's last moment, as `job post --valid-through`
    assert (pay, day) == ("Pay: EUR 30,000 to 38,000 a year", "Offered until 3 March 2099")

    async def edit(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        await page.get_by_role("link", name="Edit “Driver”").click()
        kept = (await page.get_by_label("Pay (for example").input_value(),
                await page.get_by_label("Last day it is offered (optional)").input_value())
        await page.get_by_label("Pay (for example").fill("EUR 32000-40000/YEAR")
        await page.get_by_label("Last day it is offered (optional)").fill("2099-04-30")
        await page.get_by_role("button", name="Save the changes").click()
        await page.get_by_role("status").wait_for()
        card = page.locator(".job").filter(has_text="Driver")
        return kept, await card.locator(".pay").inner_text(), await card.locator(".last-day").inner_text()

    kept, pay, day = await browser.run(edit)
    assert kept == ("EUR 30000-38000/YEAR", "2099-03-03")  # the edit form shows the job's pay and last day as typed
    assert (pay, day) == ("Pay: EUR 32,000 to 40,000 a year", "Offered until 30 April 2099")
    [row] = node.talent.store.jobs()
    assert row.job.version == 2 and row.job.valid_through == date_ms("2099-04-30", end_of_day=True)
