"""Issue 12: importing a JobPosting that names itself like a job already posted here (its
``identifier``, else ``url``/``sameAs``) makes no second job. By default it is refused with the
stable code ``duplicate-posting``, naming the job and the way to update it, and nothing is signed;
with ``update`` it becomes that job's next version, checked like `job post`. A real node over its
admin socket, real SQLite and signing; positive controls: a posting with another identifier is a new
job, and one that names itself in no way imports as often as it is given."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from node.formats.posting_identity import identity
from tests.node.federation_helpers import Net, head
from tests.node.test_job_versions import admin_call

GOOGLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "google_jobposting.json").read_text())
BEFORE_EXPIRY = 1_485_907_200_000  # 2017-02-01: Google's example is still open


def test_identity_prefers_the_identifier_then_url_then_same_as():
    assert identity({"identifier": {"@type": "PropertyValue", "name": "Google", "value": "1234567"}}) == "identifier google: 1234567"
    assert identity({"identifier": [{"name": "ACME", "value": 7}], "url": "https://x.example/1"}) == "identifier acme: 7"
    assert identity({"identifier": "REQ-1"}) == "identifier: REQ-1"
    assert identity({"url": "https://x.example/1", "sameAs": "https://y.example"}) == "url: https://x.example/1"
    assert identity({"sameAs": ["https://y.example/2"]}) == "sameAs: https://y.example/2"
    assert identity({"identifier": {"name": "x", "value": " "}, "title": "t"}) is None  # nothing usable: no identity
    assert identity({"identifier": True}) is None


async def test_the_same_posting_twice_is_refused_then_updates_with_update(net: Net):
    node = await net.start("Open Futures", sector="nonprofit")
    node.talent.clock = lambda: BEFORE_EXPIRY
    status, first = await admin_call(node, "/jobs/import", {"jsonld": GOOGLE, "skills": "python"})
    assert status == 200 and first["updated"] is False, first
    signed = head(node, node)

    again = copy.deepcopy(GOOGLE) | {"title": "Senior Software Engineer"}
    status, refused = await admin_call(node, "/jobs/import", {"jsonld": again, "skills": "python"})
    assert status == 400 and refused["error"] == "duplicate-posting", refused
    assert first["id"] in refused["detail"] and "--update" in refused["detail"] and "nothing was imported" in refused["detail"]
    assert head(node, node) == signed and len(node.talent.store.jobs(author=node.service.node_id)) == 1  # nothing signed

    status, updated = await admin_call(node, "/jobs/import", {"jsonld": again, "skills": "python", "update": True})
    assert status == 200 and updated["updated"] is True and updated["id"] == first["id"] and updated["version"] == 2, updated
    row = node.talent.store.job(bytes.fromhex(first["id"]), node.service.node_id)
    assert row.job.title == "Senior Software Engineer" and row.job.version == 2
    assert len(node.talent.store.jobs(author=node.service.node_id)) == 1

    # Validated like `job post`: an update without skills is refused, and changes nothing.
    status, refused = await admin_call(node, "/jobs/import", {"jsonld": again, "update": True})
    assert status == 400 and "no skills" in refused["detail"]
    assert node.talent.store.job(bytes.fromhex(first["id"]), node.service.node_id).job.version == 2

    # Positive control: another identifier is another posting, so another job.
    other = copy.deepcopy(GOOGLE) | {"identifier": {"@type": "PropertyValue", "name": "Google", "value": "7654321"}}
    status, second = await admin_call(node, "/jobs/import", {"jsonld": other, "skills": "python"})
    assert status == 200 and second["id"] != first["id"] and second["updated"] is False

    # A closed job is not changed, even with update.
    status, _ = await admin_call(node, "/jobs/close", {"id": second["id"]})
    assert status == 200
    status, refused = await admin_call(node, "/jobs/import", {"jsonld": other, "skills": "python", "update": True})
    assert status == 400 and refused["error"] == "duplicate-posting" and "which is closed" in refused["detail"], refused


async def test_url_and_own_export_identify_a_posting_and_no_identity_imports_again(net: Net):
    node = await net.start("Open Futures", sector="nonprofit")
    node.talent.clock = lambda: BEFORE_EXPIRY
    by_url = {k: v for k, v in GOOGLE.items() if k != "identifier"} | {"url": "https://jobs.example.org/42"}
    status, first = await admin_call(node, "/jobs/import", {"jsonld": by_url, "skills": "python"})
    assert status == 200
    status, refused = await admin_call(node, "/jobs/import", {"jsonld": by_url, "skills": "python"})
    assert status == 400 and refused["error"] == "duplicate-posting" and first["id"] in refused["detail"]

    # This node's own export of a posted job names the job by its id: importing it back is the same job.
    status, posted = await admin_call(node, "/jobs/post", {"title": "Driver", "skills": "driving", "valid_through": "2017-12-31"})
    assert status == 200, posted
    status, exported = await admin_call(node, "/jobs/export", {"id": posted["id"]})
    status, refused = await admin_call(node, "/jobs/import", {"jsonld": exported})
    assert status == 400 and refused["error"] == "duplicate-posting" and posted["id"] in refused["detail"], refused

    nameless = {k: v for k, v in GOOGLE.items() if k not in ("identifier", "url", "sameAs")}
    for _ in range(2):  # no identifier, url or sameAs: nothing to recognise it by, so each import is a job
        status, imported = await admin_call(node, "/jobs/import", {"jsonld": nameless, "skills": "python"})
        assert status == 200 and imported["updated"] is False
