"""Issue 12 item 1 on real nodes: a JobPosting imported at A travels in the signed job body, so B (a
partner) exports the same full posting; the import reports what it keeps and ignores; a posting without
skills is refused with the way to add them."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from node.http.admin_client import answer_error
from tests.node.federation_helpers import Net, head, pair, wait_until
from tests.node.test_job_versions import admin_call

DATA = Path(__file__).resolve().parents[1] / "data"
RICH = json.loads((DATA / "rich_jobposting.json").read_text())
GOOGLE = json.loads((DATA / "google_jobposting.json").read_text())


async def test_a_partner_exports_the_full_posting(net: Net):
    a = await net.start("Open Futures", sector="nonprofit")
    b = await net.start("Northwind", sector="company")
    await pair(a, b)
    a.talent.clock = lambda: 1_790_000_000_000  # 2026-09: the rich posting's validThrough is ahead

    status, imported = await admin_call(a, "/jobs/import", {"jsonld": RICH, "hops": 1})
    assert status == 200, imported
    assert {"qualifications", "industry", "workHours", "jobBenefits", "directApply", "url"} <= set(imported["kept"])
    assert imported["ignored"] == [] and imported["skills"] == ["data analysis", "Python"]
    job_id = bytes.fromhex(imported["id"])
    await wait_until(lambda: b.talent.store.job(job_id) is not None, what="job at the partner")

    status, at_a = await admin_call(a, "/jobs/export", {"id": imported["id"]})
    assert status == 200 and at_a == RICH, at_a
    status, at_b = await admin_call(b, "/jobs/export", {"id": imported["id"]})
    assert status == 200 and at_b == RICH, at_b  # B's copy came through the signed body

    # An update at A reaches B's export too, the rest of the posting unchanged.
    status, _ = await admin_call(a, "/jobs/update", {"id": imported["id"], "title": "Lead community data analyst"})
    assert status == 200
    await wait_until(lambda: b.talent.store.job(job_id).job.version == 2, what="update at the partner")
    status, at_b = await admin_call(b, "/jobs/export", {"id": imported["id"]})
    assert at_b == RICH | {"title": "Lead community data analyst"}


async def test_html_page_graph_and_no_skills_refusal(net: Net):
    a = await net.start("Open Futures", sector="nonprofit")
    status, refused = await admin_call(a, "/jobs/import", {"jsonld": GOOGLE, "skills": "python"})
    assert (status, refused["error"]) == (400, "malformed") and "validThrough: is in the past" in refused["detail"], refused
    a.talent.clock = lambda: 1_485_907_200_000  # 2017-02-01, before Google's example expires
    before = head(a, a)
    status, refused = await admin_call(a, "/jobs/import", {"jsonld": GOOGLE})
    assert status == 400 and (refused["error"], refused["field"]) == ("user-error", "skills"), refused
    assert "no skills" in refused["detail"]
    assert "(option --skills)" in str(answer_error(refused, status))  # what the CLI prints
    assert head(a, a) == before  # nothing was posted

    page = ("<!doctype html><html><head><script type='application/ld+json'>"
            + json.dumps({"@context": "https://schema.org", "@graph": [{"@type": "WebPage", "name": "Jobs"}, GOOGLE]})
            + "</script></head><body></body></html>")
    status, imported = await admin_call(a, "/jobs/import", {"html": page, "skills": "software engineering, python"})
    assert status == 200, imported
    assert imported["skills"] == ["software engineering", "python"]
    assert imported["ignored"] == ["1 WebPage node (not a JobPosting)"]
    assert head(a, a) == before + 1  # positive control
    status, exported = await admin_call(a, "/jobs/export", {"id": imported["id"]})
    assert {k: v for k, v in exported.items() if k != "skills"} == GOOGLE

    hostile = copy.deepcopy(GOOGLE) | {"skills": "x", "description": "<p>ok</p><img src=x onerror=alert(1)>",
                                       "identifier": {"@type": "PropertyValue", "name": "Google", "value": "hostile-1"}}
    status, imported = await admin_call(a, "/jobs/import", {"jsonld": hostile})
    assert status == 200 and imported["ignored"] == ["description: <img> removed", "description: src= removed", "description: onerror= removed"], imported
    status, exported = await admin_call(a, "/jobs/export", {"id": imported["id"]})
    assert exported["description"] == "<p>ok</p>"
