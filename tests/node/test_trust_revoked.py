"""Issue 8 item 15: trust revoked mid-transfer, and a blocked author's content arriving re-shared.

Trust is decided inside the transaction that applies a batch, so a push whose body was still
arriving, or a pull page still on its way, when the admin removed or blocked the peer stores nothing.
Every "nothing stored" check has a positive control: the same flow without the revoke stores.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from protocol.bodies import Note
from protocol.statement import Envelope
from protocol.sync import Batch
from storage import peers as P
from tests.conftest import free_port
from tests.node.federation_helpers import (
    PUSH,
    HeldPeer,
    auth_header,
    batch_of,
    health,
    ids_from,
    next_notes,
    pair,
    synced,
    wait_until,
)


async def _push_with_stalled_body(a, b, revoke: str | None) -> tuple[bytes, list[bytes]]:
    """Send B's push to A over a raw socket: headers and half the body, (revoke), then the rest."""
    notes = next_notes(b, ["item15 push one", "item15 push two"])
    body = batch_of(*notes)
    auth = auth_header(b.service.identity, a.service.node_id, PUSH, body)
    reader, writer = await asyncio.open_connection("127.0.0.1", a.port)
    head = (f"POST {PUSH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {auth}\r\n"
            f"Content-Type: application/msgpack\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    writer.write(head + body[: len(body) // 2])
    await writer.drain()
    assert await health(a)  # a round trip through A's event loop: the push handler has started
    if revoke is not None:
        a.federation.set_state(b.service.node_id, revoke)
    writer.write(body[len(body) // 2:])
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return answer, [n.id for n in notes]


async def test_push_whose_body_is_arriving_is_not_stored_after_trust_remove(fed_net):
    a = await fed_net.start("Alpha Org")
    b = await fed_net.start("Bravo Org")
    await pair(a, b)
    await synced(a, b)
    await fed_net.halt(b)  # B's own sender stays quiet; the test speaks for B with B's identity
    # Positive control: the same stalled push without a revoke is stored.
    answer, ids = await _push_with_stalled_body(a, b, None)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
    assert set(ids) <= set(ids_from(a, b))
    for state in (P.REMOVED, P.BLOCKED):
        a.federation.peers.set_state(b.service.node_id, P.TRUSTED, 0)
        before = ids_from(a, b)
        answer, ids = await _push_with_stalled_body(a, b, state)
        assert answer.startswith(b"HTTP/1.1 403"), answer[:200]
        assert b"untrusted-sender" in answer
        assert ids_from(a, b) == before and not set(ids) & set(before)


class StallingPeer(HeldPeer):
    """Answers pulls as B would, but only once the test releases it."""

    def __init__(self, envelopes: list[bytes]) -> None:
        super().__init__(free_port(), "/federation/v1/pull", released=False)
        self.envelopes = envelopes

    def respond(self) -> web.Response:
        return web.Response(body=Batch(tuple(self.envelopes)).encode(), content_type="application/msgpack")


async def _stalled_pull(a, b, revoke: str | None) -> tuple[object, list[bytes]]:
    notes = next_notes(b, [f"item15 pull {revoke}"])
    async with StallingPeer([Envelope.of(n).encode() for n in notes]) as peer:
        task = asyncio.create_task(a.sync.pull_from(b.service.node_id, f"http://127.0.0.1:{peer.port}"))
        await asyncio.wait_for(peer.arrived.wait(), 5)  # A's pull is in flight, the page not yet back
        if revoke is not None:
            a.federation.set_state(b.service.node_id, revoke)
        peer.release.set()
        report = await asyncio.wait_for(task, 5)
    return report, [n.id for n in notes]


async def test_pull_page_arriving_after_trust_block_is_not_stored(fed_net):
    a = await fed_net.start("Alpha Org")
    b = await fed_net.start("Bravo Org")
    await pair(a, b)
    await synced(a, b)
    await fed_net.halt(b)
    report, ids = await _stalled_pull(a, b, None)  # positive control
    assert report.ok and report.appended == 1 and set(ids) <= set(ids_from(a, b))
    for state in (P.BLOCKED, P.REMOVED):
        a.federation.peers.set_state(b.service.node_id, P.TRUSTED, 0)
        before = ids_from(a, b)
        report, ids = await _stalled_pull(a, b, state)
        assert not report.ok and report.error == "untrusted-sender"
        assert ids_from(a, b) == before


def _foreign(rt, author: bytes) -> list[dict]:
    return list(rt.service.db.query("SELECT id FROM foreign_statements WHERE author = ?", [author]))


async def test_blocked_authors_content_reshared_by_a_partner_is_not_kept(fed_net):
    a = await fed_net.start("Alpha Org")
    b = await fed_net.start("Bravo Org")
    c = await fed_net.start("Charlie Org")
    d = await fed_net.start("Delta Org")
    await pair(a, b)
    await pair(b, c)
    await pair(b, d)
    await pair(a, c)
    await synced(a, c)
    a.federation.set_state(c.service.node_id, P.BLOCKED)  # A blocks C (after knowing it)
    # Positive control: D (not blocked at A) re-shared by B arrives at A as foreign content.
    d.federation.append(Note.KIND, Note("item15 from delta", hops=2).to_value(), private=True)
    await wait_until(lambda: _foreign(a, d.service.node_id), 5, what="D's note re-shared by B at A")
    blocked = c.federation.append(Note.KIND, Note("item15 from charlie", hops=2).to_value(), private=True)
    # B re-shares C's note; once A holds B's re-share statement it has applied it (reactions included).
    await wait_until(lambda: list(b.service.db.query("SELECT 1 FROM reshared WHERE root_id = ?", [blocked.id])), 5,
                     what="B to re-share C's note")
    await synced(a, b)
    assert not _foreign(a, c.service.node_id)
    assert a.service.log.find(blocked.id) is None
    assert not list(a.service.db.query("SELECT 1 FROM reshared WHERE root_id = ?", [blocked.id]))
