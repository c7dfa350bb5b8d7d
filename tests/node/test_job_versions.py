"""Issue 12 item 4: `job close` is idempotent and `job update` is validated like `job post`, on real nodes
through the admin API exactly as the CLI reaches it."""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from node.runtime import NodeRuntime
from tests.node.federation_helpers import Net, pair, wait_until


def own_jobs(node: NodeRuntime) -> int:
    """The node's own job statements (versions): counted by kind, since a checkpoint timer may append
    other statements meanwhile on a busy machine."""
    return sum(1 for s in node.service.log.statements(node.service.node_id) if s.kind == "job")


async def admin_call(node: NodeRuntime, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """The admin API exactly as the CLI reaches it: JSON over the node's Unix socket."""
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(node.socket_path))) as session:
        async with session.post(f"http://localhost{path}", json=body) as resp:
            return resp.status, json.loads(await resp.read())


async def two(net: Net) -> tuple[NodeRuntime, NodeRuntime]:
    corp = await net.start("Northwind", sector="company")
    youth = await net.start("Youth Futures", sector="nonprofit")
    await pair(corp, youth)
    return corp, youth


async def test_closing_twice_publishes_one_version_and_says_already_closed(net):
    corp, youth = await two(net)
    status, posted = await admin_call(corp, "/jobs/post", {"title": "Cook", "skills": "cooking"})
    assert status == 200, posted
    job_id = bytes.fromhex(posted["id"])
    await wait_until(lambda: youth.talent.store.job(job_id) is not None, what="job at partner")
    before = own_jobs(corp)

    status, first = await admin_call(corp, "/jobs/close", {"id": posted["id"]})
    assert (status, first["status"], first["version"], first["already_closed"]) == (200, "closed", 2, False), first
    assert own_jobs(corp) == before + 1  # positive control: the first close is one new statement
    await wait_until(lambda: youth.talent.store.job(job_id).job.version == 2, what="close at partner")

    status, second = await admin_call(corp, "/jobs/close", {"id": posted["id"]})
    assert (status, second["status"], second["version"], second["already_closed"]) == (200, "closed", 2, True), second
    assert own_jobs(corp) == before + 1  # nothing appended the second time
    assert corp.talent.store.job(job_id).job.version == 2


async def test_update_is_refused_where_post_is(net):
    corp, youth = await two(net)
    corp.talent.clock = lambda: 1_800_000_000_000  # 2027-01-15
    past, future = "2027-01-01", "2027-03-01"
    status, refused_post = await admin_call(corp, "/jobs/post", {"title": "Cook", "skills": "cooking", "valid_through": past})
    assert status == 400 and refused_post["field"] == "valid_through", refused_post
    status, posted = await admin_call(corp, "/jobs/post", {"title": "Cook", "skills": "cooking", "valid_through": future})
    assert status == 200, posted
    job_id = bytes.fromhex(posted["id"])

    before = own_jobs(corp)

    status, refused = await admin_call(corp, "/jobs/update", {"id": posted["id"], "valid_through": past})
    assert status == 400 and (refused["error"], refused["field"]) == ("user-error", "valid_through"), refused
    assert refused["detail"] == refused_post["detail"]  # one validation, one message
    status, refused = await admin_call(corp, "/jobs/update", {"id": posted["id"], "skills": "x" * 201})
    assert status == 400 and refused.get("field") == "skills", refused
    assert own_jobs(corp) == before and corp.talent.store.job(job_id).job.version == 1

    # An expired job cannot be re-published by an unrelated edit either; a new date makes it valid.
    corp.talent.clock = lambda: 1_810_000_000_000  # 2027-05-11: past the job's valid_through
    status, refused = await admin_call(corp, "/jobs/update", {"id": posted["id"], "title": "Head cook"})
    assert status == 400 and refused["field"] == "valid_through", refused
    status, updated = await admin_call(corp, "/jobs/update", {"id": posted["id"], "title": "Head cook", "valid_through": "2027-06-01"})
    assert (status, updated["version"]) == (200, 2), updated  # positive control
    assert own_jobs(corp) == before + 1


async def test_filling_again_by_the_same_referral_is_a_no_op(net):
    """Acceptance pass 12: a script retrying `job close JOB --filled-by REFERRAL` after a timeout got exit 1
    ("already filled") although the job was filled exactly as asked; now it succeeds, says so, publishes
    nothing. Another referral, or a plain close, is still refused: the hire stays counted."""
    from tests.node.test_audit import full_referral

    _, _, corp, rid = await full_referral(net)
    job_id = corp.talent.store.referral(rid).job_id
    before = own_jobs(corp)
    status, again = await admin_call(corp, "/jobs/close", {"id": job_id.hex(), "filled_by": rid.hex()[:8]})
    assert (status, again["status"], again["already_closed"]) == (200, "filled", True), again
    assert own_jobs(corp) == before  # nothing signed
    status, plain = await admin_call(corp, "/jobs/close", {"id": job_id.hex()})
    assert status == 400 and "already filled" in plain["detail"], plain  # control: still refused without it
