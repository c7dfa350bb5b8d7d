"""The jobs pages of issue 14: editing a job, importing a schema.org JobPosting, and "where this job
travelled" — real nodes, real HTTP, each change checked in the node's store (and at the partner), each
refusal (viewer, no token, another site, a bad field) checked to change nothing."""

from __future__ import annotations

import json

import aiohttp

from tests.node.federation_helpers import pair, wait_until
from tests.web.helpers import EVIL, signed_in


async def test_staff_edit_a_job_partners_get_the_new_version_and_refusals_change_nothing(net, http):
    ours = await net.start("Northwind Care")
    theirs = await net.start("Youth Futures")
    await pair(ours, theirs)
    job = ours.talent.post_job(title="Driver", skills=["driving"], description="Vans")
    jid = job.job_id.hex()
    viewer = await signed_in(http, ours, "vera", "viewer")
    staff = await signed_in(http, ours, "sam", "staff")
    form = {"title": "Delivery driver", "skills": "driving, first aid", "description": "Vans <script>x</script>",
            "valid_through": "", "salary": "EUR 30000-38000/YEAR", "hops": "1"}
    _, jobs_html, _ = await viewer.get("/jobs")
    assert f"/jobs/{jid}/edit" not in jobs_html and f"/jobs/{jid}/travel" in jobs_html  # a viewer reads only
    assert (await viewer.get(f"/jobs/{jid}/edit"))[0] == 403
    assert (await viewer.post(f"/jobs/{jid}/edit", {"csrf": await viewer.token("/jobs"), **form}))[0] == 403
    assert (await staff.post(f"/jobs/{jid}/edit", form))[0] == 403  # no token
    token = await staff.token("/jobs")
    assert (await staff.post(f"/jobs/{jid}/edit", {"csrf": token, **form}, headers=EVIL))[0] == 403
    status, html, _ = await staff.post(f"/jobs/{jid}/edit", {"csrf": token, **form, "salary": "lots"})
    assert status == 400 and "salary looks like" in html and 'id="salary" name="salary" value="lots" aria-invalid="true"' in html
    status, html, _ = await staff.post(f"/jobs/{jid}/edit", {"csrf": token, **form, "skills": ""})
    assert status == 400 and "skills cannot be emptied" in html
    assert ours.talent.store.job(job.job_id).job.version == 1  # every refusal: nothing published

    status, html, _ = await staff.get(f"/jobs/{jid}/edit")
    assert status == 200 and 'value="Driver"' in html and 'value="driving"' in html
    status, _, resp = await staff.post(f"/jobs/{jid}/edit", {"csrf": token, **form})
    assert status == 303 and resp.headers["Location"] == "/jobs?done=edited"
    edited = ours.talent.store.job(job.job_id).job
    assert (edited.version, edited.title, [s.label for s in edited.skills]) == (2, "Delivery driver", ["driving", "first aid"])
    assert edited.salary is not None and (edited.salary.min, edited.salary.max) == (3_000_000, 3_800_000)
    await wait_until(lambda: (r := theirs.talent.store.job(job.job_id)) is not None and r.job.version == 2,
                     what="the new version at the partner")
    status, _, resp = await staff.post(f"/jobs/{jid}/edit", {"csrf": token, **form})  # the same values again
    assert resp.headers["Location"] == "/jobs?done=unchanged" and ours.talent.store.job(job.job_id).job.version == 2
    theirs_job = theirs.talent.store.job(job.job_id)
    partner_staff = await signed_in(http, theirs, "pat", "staff")
    status, html, _ = await partner_staff.post(f"/jobs/{jid}/edit", {"csrf": await partner_staff.token("/jobs"), **form,
                                                                      "title": "Hijacked"})
    assert status == 400 and "only its author can change it" in html
    assert theirs.talent.store.job(job.job_id) == theirs_job


POSTING = {"@context": "https://schema.org", "@graph": [
    {"@type": "Organization", "name": "Northwind Care"},
    {"@type": "JobPosting", "title": "Care assistant", "description": "<p>Help <script>alert(1)</script>people</p>",
     "datePosted": "2026-01-05", "industry": "Care", "hiringOrganization": {"@type": "Organization", "name": "Northwind"}}]}


async def test_import_a_posting_pasted_or_uploaded_refused_without_skills_until_given(net, http):
    node = await net.start("Northwind Care")
    viewer = await signed_in(http, node, "vera", "viewer")
    staff = await signed_in(http, node, "sam", "staff")
    text = json.dumps(POSTING)
    assert (await viewer.get("/jobs/import"))[0] == 403
    assert (await viewer.post("/jobs/import", {"csrf": await viewer.token("/jobs"), "posting": text, "skills": "care"}))[0] == 403
    assert (await staff.post("/jobs/import", {"posting": text, "skills": "care"}))[0] == 403
    token = await staff.token("/jobs")
    status, html, _ = await staff.post("/jobs/import", {"csrf": token, "posting": text, "skills": "", "hops": "1"})
    assert status == 400 and "names no skills" in html and "Skills to match on" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert" not in html  # kept in the form, as text
    assert 'id="skills" name="skills" value="" aria-invalid="true"' in html
    status, html, _ = await staff.post("/jobs/import", {"csrf": token, "posting": "{not json", "skills": "care"})
    assert status == 400 and "neither usable JSON" in html
    assert node.talent.list_jobs() == []

    status, html, _ = await staff.post("/jobs/import", {"csrf": token, "posting": text, "skills": "care work, lifting", "hops": "1"})
    assert status == 200 and "“Care assistant” was imported" in html
    assert "care work, lifting" in html and "industry" in html  # kept, not matched on
    assert "script" in html.split('class="ignored"')[1]  # the removed markup is reported
    [job] = node.talent.list_jobs()
    assert job["title"] == "Care assistant" and job["skills"] == ["care work", "lifting"]

    page = ("<!doctype html><html><head><script type=\"application/ld+json\">"
            + json.dumps({"@context": "https://schema.org", "@type": "JobPosting", "title": "Night porter",
                          "skills": "security, keys", "datePosted": "2026-01-05"})
            + "</script></head><body>Jobs</body></html>")
    upload = aiohttp.FormData()
    upload.add_field("csrf", token)
    upload.add_field("posting", "")
    upload.add_field("skills", "")
    upload.add_field("hops", "1")
    upload.add_field("file", page.encode(), filename="job.html", content_type="text/html")
    async with http.post(staff.base + "/jobs/import", data=upload, headers=staff.headers(), allow_redirects=False) as resp:
        html = await resp.text()
        assert resp.status == 200 and "“Night porter” was imported" in html, html[:2000]
    assert {j["title"] for j in node.talent.list_jobs()} == {"Care assistant", "Night porter"}


async def test_where_a_job_travelled_partners_re_sharers_and_steps(net, http):
    a = await net.start("Northwind Care")
    b = await net.start("Youth Futures")
    c = await net.start("Green Works")
    await pair(a, b)
    await pair(b, c)
    job = a.talent.post_job(title="Driver", skills=["driving"], hops=2)
    jid = job.job_id.hex()
    await wait_until(lambda: c.talent.store.job(job.job_id) is not None, what="the job two steps away")
    await wait_until(lambda: not a.federation.peers.waiting_for(a.talent.store.job(job.job_id).statement_id),
                     what="the partner's acknowledgement")
    viewer_a = await signed_in(http, a, "vera", "viewer")
    status, html, _ = await viewer_a.get(f"/jobs/{jid}/travel")
    assert status == 200 and "Youth Futures</strong>:\n  has received it" in html
    assert "Green Works" not in html  # not known to a until it asks
    status, html, _ = await viewer_a.get(f"/jobs/{jid}/travel?ask=1")
    assert status == 200 and "Green Works" not in html and "Ask our partners" not in html  # asking is for staff
    staff_a = await signed_in(http, a, "sam", "staff")
    status, html, _ = await staff_a.get(f"/jobs/{jid}/travel?ask=1")
    assert status == 200 and "<strong>Green Works</strong> has it, 2 steps from us: Northwind Care → Youth Futures → Green Works" in html, html.split("Ask our partners now")[1]

    c.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"], consent=["match", "refer"],
                           consent_scope="all", consent_evidence="signed form")
    status, html, _ = await staff_a.post("/matches", {"csrf": await staff_a.token("/matches"), "job": jid})
    assert status == 200 and "at Green Works" in html  # an offer from beyond our partners, through Youth Futures
    _, html, _ = await viewer_a.get(f"/jobs/{jid}/travel")
    assert "<strong>Green Works</strong>\n  offered candidates for it when we asked for matches." in html

    viewer_c = await signed_in(http, c, "cleo", "viewer")
    status, html, _ = await viewer_c.get(f"/jobs/{jid}/travel")
    assert status == 200 and "A job of <strong>Northwind Care</strong>, passed on to us by <strong>Youth Futures</strong>: we are 2 steps" in html
    assert "<strong>Youth Futures</strong> passed it on to us: Northwind Care → Youth Futures → Green Works (2 steps)." in html
    assert "We did not pass this job on: it may not travel further than us" in html
    viewer_b = await signed_in(http, b, "bea", "viewer")
    status, html, _ = await viewer_b.get(f"/jobs/{jid}/travel")
    assert status == 200 and "We passed it on to our partners on" in html and "Green Works</strong>:" in html
    assert (await viewer_b.get("/jobs/" + "0" * 32 + "/travel"))[0] in (400, 404)
