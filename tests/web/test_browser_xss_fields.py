"""Script and markup in every free-text field reaches the dashboard as text, and nothing runs or loads, in
headless Chromium against two real paired nodes (issue 14 item 3, round dash14).

The fields: a partner's candidate (name, skills), the partner's referral note, stage reasons and an
outcome correction's note (ours and the partner's), a partner's job (title, description), our own
candidate notes, and a CSV file uploaded through the import page (name, notes, skills) in its preview,
its result and the candidates list. Each payload would, if it became markup, set ``window.__xss``, load
``/xss-probe/<field>`` from the dashboard's own origin (allowed by the CSP's ``img-src 'self'``, so a
broken escape shows even under the CSP), or add an element with an event handler.

``probe`` reads all three on a page. The positive controls prove the probe catches it: the same
payload put into one of our pages as markup (as a template without escaping would) is seen as loaded
and as elements; served on a page without our CSP, its script sets ``window.__xss``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.node.federation_helpers import pair, wait_until
from tests.web.browser import sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url


def payload(field: str) -> str:
    """Markup that runs script (three ways) and fetches a URL if it is ever parsed as HTML, in text or an attribute."""
    return (f'"\'><script>window.__xss="{field}"</script><img src="/xss-probe/{field}" '
            f'onerror="window.__xss=\'{field}\'"><svg onload="window.__xss=\'{field}\'"></svg>{field}')


PROBE_SCRIPT = """() => ({
  xss: window.__xss === undefined ? null : String(window.__xss),
  elements: document.querySelectorAll('img[src*="xss-probe"], svg[onload], [onerror], main script').length,
  text: document.body.innerText,
})"""


async def probe(page: Any, loaded: list[str]) -> dict[str, Any]:
    seen = await page.evaluate(PROBE_SCRIPT)
    return {**seen, "loaded": [u for u in loaded if "xss-probe" in u]}


def watch(page: Any) -> list[str]:
    loaded: list[str] = []
    page.on("request", lambda r: loaded.append(r.url))
    page.on("dialog", lambda d: loaded.append("dialog:" + d.message))
    return loaded


def csv_bytes() -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["name", "email", "skills", "notes"])
    writer.writerow([payload("csv-name"), "zoe@example.org", payload("csv-skill"), payload("csv-notes")])
    return out.getvalue().encode()


async def test_no_field_runs_script_or_loads_anything_and_the_probe_would_see_it(net, browser, tmp_path):
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    youth.talent.post_job(title=payload("job-title"), skills=["care"], description=payload("job-description"))
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    await wait_until(lambda: any(not j["mine"] for j in corp.talent.list_jobs()), what="the partner's job at corp")
    ada, _ = youth.talent.add_candidate(name=payload("partner-name"), email="ada@example.org", skills=["driving", payload("partner-skill")],
                                        consent=["refer"], consent_scope="all", consent_evidence=payload("evidence"),
                                        notes=payload("our-notes"))
    rid = bytes.fromhex(youth.talent.refer(ada.candidate_id, job.job_id, note=payload("referral-note"))["id"])
    await wait_until(lambda: corp.talent.store.referral(rid) is not None, what="the referral at corp")
    await wait_until(lambda: youth.service.node_id in corp.service.peer_features, what="corp to hear the partner")
    corp.talent.update_referral(rid, "in_process", payload("stage-reason"))
    corp.talent.update_referral(rid, "hired", "")
    corp.talent.correct_referral(rid, "not_hired", payload("correction-note"))
    await wait_until(lambda: youth.talent.store.referral(rid).status == "not_hired", what="the correction at the partner")
    add_user(corp, "sam", "staff")
    add_user(youth, "pat", "staff")
    corp_base, youth_base = dashboard_url(corp), dashboard_url(youth)
    upload = tmp_path / "people.csv"
    upload.write_bytes(csv_bytes())
    cid = ada.candidate_id.hex()

    async def at_corp(page):
        loaded = watch(page)
        await sign_in(page, corp_base, "sam", PASSWORD)
        found = {}
        for path in ("/referrals", "/jobs", "/"):
            await page.goto(corp_base + path)
            for summary in await page.locator("main summary").all():
                await summary.click()  # open every history and description
            found[path] = await probe(page, loaded)
        return found

    async def at_youth(page):
        loaded = watch(page)
        await sign_in(page, youth_base, "pat", PASSWORD)
        found = {}
        for path in ("/referrals", "/candidates", f"/candidates/{cid}/report", f"/candidates/{cid}/edit", f"/candidates/{cid}/erase"):
            await page.goto(youth_base + path)
            for summary in await page.locator("main summary").all():
                await summary.click()
            found[path] = await probe(page, loaded)
        await page.goto(youth_base + "/candidates/import")
        await page.get_by_label("The CSV file").set_input_files(str(upload))
        await page.get_by_role("button", name="Show the preview").click()
        await page.locator(".preview").wait_for()
        found["csv preview"] = await probe(page, loaded)
        await page.get_by_role("button", name="Import 1 candidate").click()
        await page.locator(".summary").wait_for()
        found["csv done"] = await probe(page, loaded)
        await page.goto(youth_base + "/candidates?search=zoe")
        found["csv imported"] = await probe(page, loaded)
        return found

    async def controls(page):
        """The probe is not blind: our page with the payload as markup, and the payload where no CSP holds."""
        loaded = watch(page)
        await sign_in(page, corp_base, "sam", PASSWORD)
        await page.goto(corp_base + "/jobs")
        await page.evaluate("(html) => document.querySelector('main').insertAdjacentHTML('beforeend', html)", payload("control"))
        await page.wait_for_function("() => document.querySelector('img[src*=\"xss-probe\"]').complete")
        unescaped = await probe(page, loaded)
        await page.route(corp_base + "/no-csp", lambda route: route.fulfill(status=200, content_type="text/html",
                                                                            body="<main>" + payload("no-csp") + "</main>"))
        await page.goto(corp_base + "/no-csp")
        await page.wait_for_function("() => window.__xss !== undefined")
        return unescaped, await probe(page, loaded)

    corp_found = await browser.run(at_corp)
    youth_found = await browser.run(at_youth)
    for node, found in (("corp", corp_found), ("youth", youth_found)):
        for where, seen in found.items():
            assert (seen["xss"], seen["elements"], seen["loaded"]) == (None, 0, []), (node, where, seen)
    shown = {  # each payload is on its page, whole, as the text it is
        "/referrals": ["partner-name", "partner-skill", "referral-note", "stage-reason", "correction-note"],
        "/jobs": ["job-title", "job-description"],
    }
    for path, fields in shown.items():
        for field in fields:
            assert payload(field) in corp_found[path]["text"], (path, field)
    for field in ("stage-reason", "correction-note"):  # the partner's words at the referrer
        assert payload(field) in youth_found["/referrals"]["text"], field
    assert payload("our-notes") in youth_found[f"/candidates/{cid}/report"]["text"]
    assert payload("csv-name") in youth_found["csv preview"]["text"] and payload("csv-skill") in youth_found["csv preview"]["text"]
    assert payload("csv-name") in youth_found["csv imported"]["text"]
    [zoe] = [c for c in youth.talent.store.candidates() if c.email == "zoe@example.org"]
    assert (zoe.name, zoe.notes) == (payload("csv-name"), payload("csv-notes"))  # stored as typed, shown as text

    unescaped, no_csp = await browser.run(controls)
    assert unescaped["elements"] >= 2 and any("/xss-probe/control" in u for u in unescaped["loaded"])  # markup: seen
    assert no_csp["xss"] == "no-csp"  # a script that runs: seen
