"""Two nodes side by side on loopback; each serves its signed org card; verified by protocol code only."""

from __future__ import annotations

import asyncio
import stat

import aiohttp

from node.http.admin_client import AdminClient
from protocol.card_bundle import verify_bundle
from protocol.errors import WRONG_AUTHOR, RemoteProtocolError


async def test_two_nodes_serve_verifiable_cards(running):
    a = await running("Youth Futures", "nonprofit")
    b = await running("Green Works", "social_enterprise")
    assert a.port != b.port
    async with aiohttp.ClientSession() as session:
        cards = {}
        for rt in (a, b):
            async with session.get(f"http://127.0.0.1:{rt.port}/.well-known/orgnode") as resp:
                assert resp.status == 200
                assert resp.content_type == "application/msgpack"
                cards[rt] = await resp.read()
            async with session.get(f"http://127.0.0.1:{rt.port}/health") as resp:
                assert (await resp.json())["status"] == "ok"
    verified_a = verify_bundle(cards[a], expected_node_id=a.service.node_id)
    assert verified_a.card.name == "Youth Futures"
    assert verified_a.card.sector == "nonprofit"
    assert verified_a.card.encryption == a.service.identity.encryption_public
    verified_b = verify_bundle(cards[b])
    assert verified_b.node_id == b.service.node_id
    assert verified_b.card.url == b.service.config.url
    # A's card offered as B's is refused.
    try:
        verify_bundle(cards[a], expected_node_id=b.service.node_id)
    except RemoteProtocolError as exc:
        assert exc.code == WRONG_AUTHOR
    else:
        raise AssertionError("A's card was accepted as B's")


async def test_admin_socket_is_private_and_answers(running):
    a = await running("Youth Futures")
    mode = stat.S_IMODE(a.socket_path.stat().st_mode)
    assert mode == 0o600
    # The CLI's client is synchronous: run it in a thread so the node in this loop can answer.
    status = await asyncio.to_thread(AdminClient(a.socket_path).call, "GET", "/status")
    assert status["running"] is True
    assert status["node_id"] == a.service.node_id.hex()


async def test_compressed_body_is_refused(running):
    a = await running("Youth Futures")
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(
            f"http://127.0.0.1:{a.port}/health", data=b"\x1f\x8b" + b"\0" * 100, headers={"Content-Encoding": "gzip"}
        ) as resp:
            assert resp.status == 415
            assert (await resp.json())["error"] == "malformed"
        async with session.get(f"http://127.0.0.1:{a.port}/health") as resp:
            assert resp.status == 200
