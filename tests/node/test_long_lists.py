"""Issue 11 (memory): long lists are read a page at a time and the public card is read by index.

Real nodes (aiohttp servers on loopback, the admin Unix socket, SQLite files). "Reads less" is
shown without timing: the SQLite virtual machine's instruction count (a progress handler) of the
card read against the whole-log read it replaced, in the same test.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp

from node.core.moving import move
from node.runtime import NodeRuntime
from protocol.card_bundle import card_statements, verify_bundle
from storage.log_store import LogStore


async def admin(node: NodeRuntime, path: str, body: Any = None, method: str = "POST") -> tuple[int, Any]:
    connector = aiohttp.UnixConnector(path=str(node.socket_path))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.request(method, f"http://localhost{path}", json=body) as resp:
            return resp.status, json.loads(await resp.read())


def post_jobs(node: NodeRuntime, n: int, prefix: str = "Job") -> list[str]:
    return [node.talent.post_job(title=f"{prefix} {i}", skills=["driving"]).job_id.hex() for i in range(n)]


async def test_job_list_pages_in_order_and_defaults_to_a_bounded_page(running):
    node = await running("Youth Futures")
    ids = post_jobs(node, 105)
    status, page = await admin(node, "/jobs/list", {"limit": 3, "offset": 2})
    assert status == 200 and [j["id"] for j in page] == ids[2:5]
    status, default = await admin(node, "/jobs/list", {})
    assert status == 200 and [j["id"] for j in default] == ids[:100]  # a default page, not all 105
    status, tail = await admin(node, "/jobs/list", {"mine": True, "limit": 1000, "offset": 100})
    assert status == 200 and [j["id"] for j in tail] == ids[100:]
    status, hit = await admin(node, "/jobs/list", {"id_prefix": ids[7][:12]})
    assert status == 200 and [j["id"] for j in hit] == [ids[7]]


async def test_bad_page_is_refused_naming_the_field_and_changes_nothing(running):
    node = await running("Youth Futures")
    ids = post_jobs(node, 2)
    for body, field in (({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"offset": -1}, "offset"),
                        ({"limit": "ten"}, "limit"), ({"id_prefix": "zz"}, "id_prefix")):
        status, data = await admin(node, "/jobs/list", body)
        assert status == 400 and data["field"] == field, (body, data)
    status, data = await admin(node, "/candidates?limit=x", method="GET")
    assert status == 400 and data["field"] == "limit" and data["error"] == "user-error"
    status, page = await admin(node, "/jobs/list", {})
    assert status == 200 and [j["id"] for j in page] == ids  # the node keeps serving, nothing changed


async def test_candidate_list_pages_oldest_first(running):
    node = await running("Youth Futures")
    ids = []
    for i in range(5):
        status, data = await admin(node, "/candidates/add", {"name": f"Person {i}", "email": f"p{i}@example.org",
                                                             "skills": "excel"})
        assert status == 200, data
        ids.append(data["id"])
    status, page = await admin(node, "/candidates?limit=2&offset=1", method="GET")
    assert status == 200 and [c["id"] for c in page] == ids[1:3]
    status, every = await admin(node, "/candidates", method="GET")
    assert status == 200 and [c["id"] for c in every] == ids


def vm_steps(node: NodeRuntime, read: Any) -> int:
    """SQLite VM instructions (in hundreds) one read executes on the node's connection."""
    steps = [0]

    def count() -> int:
        steps[0] += 1
        return 0

    conn = node.service.db.conn
    conn.set_progress_handler(count, 100)
    try:
        read()
    finally:
        conn.set_progress_handler(None, 100)
    return steps[0]


async def test_card_endpoint_serves_first_rotation_and_latest_card_read_by_index(running):
    node = await running("Youth Futures")
    post_jobs(node, 20, "Before")
    node.federation.rotate_key()
    move(node.service, "http://127.0.0.1:9/first-move", None)
    post_jobs(node, 300, "Between")
    latest = move(node.service, f"http://127.0.0.1:{node.port}", None).card
    post_jobs(node, 20, "After")
    log = LogStore(node.service.db)
    whole = log.statements(node.service.node_id)
    expected = card_statements(whole)
    assert [s.kind for s in expected] == ["org_card", "key_rotation", "org_card"] and expected[-1].id == latest.id
    assert [s.id for s in log.card_statements(node.service.node_id)] == [s.id for s in expected]
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{node.port}/.well-known/orgnode") as resp:
            assert resp.status == 200
            verified = verify_bundle(await resp.read(), expected_node_id=node.service.node_id)
    assert verified.card.url == f"http://127.0.0.1:{node.port}"
    indexed = vm_steps(node, lambda: log.card_statements(node.service.node_id))
    full = vm_steps(node, lambda: log.statements(node.service.node_id))  # what the endpoint read before
    assert full > 10 * max(indexed, 1), (indexed, full)  # 340 own statements: ~20x; it grows with the log
