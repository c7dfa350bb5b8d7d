"""Issue 9 item 5: errors by blame, answered as such by both APIs of a real running node.

RemoteProtocolError (a peer's or an input file's fault) keeps its stable code; LocalProtocolError
(our bug) is never answered as the other side's fault; UserError names the request field, and the
CLI's client adds the flag.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import aiohttp
import pytest

from node.core.errors import UserError
from node.http.admin_client import AdminClient
from node.runtime import NodeRuntime
from protocol.errors import BAD_BODY, MALFORMED, LocalProtocolError, RemoteProtocolError
from tests.conftest import make_home


async def peer_fault(request: Any) -> Any:
    raise RemoteProtocolError(BAD_BODY, "the peer sent a bad body")


async def our_bug(request: Any) -> Any:
    raise LocalProtocolError(BAD_BODY, "this node does not hold the body of the statement")


async def admin_call(node: NodeRuntime, path: str, body: Any) -> tuple[int, dict[str, Any]]:
    """The admin API exactly as the CLI reaches it: JSON over the node's Unix socket."""
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(node.socket_path))) as session:
        async with session.post(f"http://localhost{path}", json=body) as resp:
            return resp.status, json.loads(await resp.read())


@pytest.fixture
async def node(tmp_path):
    """One real node whose two apps also serve a handler failing each way (the real error middlewares)."""
    runtime = NodeRuntime(make_home(tmp_path, "A"))
    runtime.federation_routes += [("POST", "/federation/v1/test-peer-fault", peer_fault),
                                  ("POST", "/federation/v1/test-our-bug", our_bug)]
    runtime.admin_routes += [("POST", "/test-peer-fault", peer_fault), ("POST", "/test-our-bug", our_bug)]
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.service.close()


async def test_federation_api_does_not_blame_the_peer_for_our_bug(node):
    base = f"http://127.0.0.1:{node.port}/federation/v1"
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{base}/test-peer-fault", data=b"x") as resp:  # positive control
            assert (resp.status, (await resp.json())["error"]) == (400, BAD_BODY)
        async with session.post(f"{base}/test-our-bug", data=b"x") as resp:
            body = await resp.json()
            assert resp.status == 500 and body["error"] == "internal", body  # the old guard answered 400 bad-body
            assert "hold the body" not in body["detail"]
        async with session.get(f"http://127.0.0.1:{node.port}/.well-known/orgnode") as resp:
            assert resp.status == 200  # the node keeps serving


async def test_admin_api_answers_each_blame_as_such(node):
    assert await admin_call(node, "/test-peer-fault", {}) == (400, {"error": BAD_BODY, "detail": "the peer sent a bad body"})
    status, body = await admin_call(node, "/test-our-bug", {})
    assert status == 500 and body["error"] == "internal", body


async def test_core_errors_name_the_field_and_the_cli_adds_the_flag(node):
    past = (dt.date.today() - dt.timedelta(days=2)).isoformat()
    request = {"title": "Gardener", "skills": "gardening", "valid_through": past}
    status, body = await admin_call(node, "/jobs/post", request)
    assert (status, body["error"], body["field"]) == (400, "user-error", "valid_through")
    assert "valid_through" in body["detail"] and "--" not in body["detail"]  # the dashboard shows it as is
    with pytest.raises(UserError) as failure:
        await asyncio.to_thread(AdminClient(node.socket_path).call, "POST", "/jobs/post", request)
    assert failure.value.field == "valid_through" and "--valid-through" in str(failure.value)  # the CLI's own words
    assert "valid_through" not in str(failure.value)
    # Positive control: the same request with a future date is accepted.
    request["valid_through"] = (dt.date.today() + dt.timedelta(days=30)).isoformat()
    assert (await admin_call(node, "/jobs/post", request))[0] == 200


async def test_a_bad_jobposting_is_the_files_fault_with_its_code(node):
    status, body = await admin_call(node, "/jobs/import", {"jsonld": {"@type": "JobPosting", "title": ""}})
    assert status == 400 and body["error"] == MALFORMED, body
    assert body["detail"].startswith("cannot import the JobPosting: ")
    status, body = await admin_call(node, "/jobs/import", {})
    assert (status, body["error"], body.get("field")) == (400, "user-error", "jsonld")
