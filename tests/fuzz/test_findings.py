"""Findings of the issue 15 fuzzing, each on real parts: a real node's admin socket, the client's
reading of a partner's answer, the CLI's reading of a `job import` file."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from node.core.pairing import _refusal_detail
from node.core.path_calls import _detail
from node.http.client import _error_code
from node.runtime import NodeRuntime

DEEP = b"[" * 100_000  # json.loads raises RecursionError, not ValueError
LONE = b'{"error": "malformed", "detail": "\\ud800", "name": "A \\udc00"}'


async def raw_admin_call(node: NodeRuntime, path: str, body: bytes) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(node.socket_path))) as session:
        async with session.post(f"http://localhost{path}", data=body, headers={"Content-Type": "application/json"}) as resp:
            return resp.status, json.loads(await resp.read())


def _candidate(name: str) -> bytes:
    return json.dumps({"name": name, "email": "amina@example.org", "skills": ["forklift"]}).encode()


@pytest.mark.parametrize("body", [DEEP, b'{"name": "Amina \\ud800", "email": "amina@example.org", "skills": ["forklift"]}',
                                  b'{"\\udfff": 1}'], ids=["deep", "lone-surrogate-value", "lone-surrogate-key"])
async def test_unusable_json_to_the_admin_api_is_refused_by_name_and_stores_nothing(node, body):
    status, answer = await raw_admin_call(node, "/candidates/add", body)
    assert status == 400 and answer["error"] != "internal", answer
    assert "not usable JSON" in answer["detail"]
    assert node.talent.store.candidates() == []
    # Positive control: the same request with real text is stored, so the refusal was the input's.
    status, answer = await raw_admin_call(node, "/candidates/add", _candidate("Amina Diallo"))
    assert status == 200, answer
    assert len(node.talent.store.candidates()) == 1


@pytest.mark.parametrize("reader", [_error_code, _refusal_detail, _detail])
def test_a_partners_unusable_error_body_reads_as_nothing(reader):
    assert not reader(DEEP)
    assert not reader(LONE) or reader is _error_code  # the code is a table entry; no partner text survives
    assert reader(b'{"error": "malformed", "detail": "nope"}')  # positive control


def test_job_import_refuses_deep_json_in_words(tmp_path):
    from node.core.errors import UserError
    from node.formats.json_text import posting_input

    with pytest.raises(UserError, match=r"neither usable JSON \(it is nested too deeply"):
        posting_input(DEEP.decode(), "deep.json")
    assert posting_input('{"@type": "JobPosting"}', "ok.json") == {"jsonld": {"@type": "JobPosting"}}
    assert "html" in posting_input("<html><script type='application/ld+json'>{}</script></html>", "page.html")
