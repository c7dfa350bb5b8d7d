"""Pairing by invite, and trust changes taking effect at once (real nodes on 127.0.0.1)."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest

from node.core.errors import UserError
from node.core.pairing import accept_invite
from protocol.invite import InviteToken
from storage import peers as P
from tests.node.federation_helpers import PULL, FakeClock, head, ids_from, next_notes, pair, push, signed_post, synced, wait_until


def trust_ids(rt) -> dict[bytes, str]:
    return {p.node_id: p.state for p in rt.federation.peers.all()}


async def test_invite_accept_gives_mutual_trust_and_exchange(fed_net):
    a = await fed_net.start("Youth Futures")
    b = await fed_net.start("Green Works")
    await pair(a, b)
    assert trust_ids(a) == {b.service.node_id: P.TRUSTED}
    assert trust_ids(b) == {a.service.node_id: P.TRUSTED}
    # Each learnt the other's verified card (name, url) at pairing time.
    assert a.federation.peers.get(b.service.node_id).url == b.service.config.url
    assert b.federation.peers.get(a.service.node_id).url == a.service.config.url
    # And statements now flow both ways.
    a.federation.append("note", {"text": "hello B", "hops": 1}, private=True)
    b.federation.append("note", {"text": "hello A", "hops": 1}, private=True)
    await synced(b, a)
    await synced(a, b)
    got = b.service.log.statements(a.service.node_id)[-1]
    assert got.body_value() == {"text": "hello B", "hops": 1}  # sealed to B, opened by B


async def test_used_expired_and_forged_tokens_are_refused_and_change_nothing(fed_net):
    a = await fed_net.start("Inviter")
    b = await fed_net.start("First")
    c = await fed_net.start("Second")
    token = await pair(a, b)

    def snapshot():
        return trust_ids(a), trust_ids(c), [dict(r) for r in a.service.db.query("SELECT * FROM invites ORDER BY created_at")]

    # 1. A used token: refused by the inviter, for another node and for the same one.
    before = snapshot()
    with pytest.raises(UserError, match="already used"):
        await accept_invite(c.federation, c.client, token.encode())
    assert snapshot() == before

    # 2. Expired: the invitee refuses locally (no contact) ...
    clock = FakeClock(follow_wall=True)  # both nodes' clocks, moved on instead of sleeping
    a.service.clock = c.service.clock = clock
    short = a.federation.create_invite(ttl_ms=1)
    clock.advance(10)
    before = snapshot()
    with pytest.raises(UserError, match="expired"):
        await accept_invite(c.federation, c.client, short.encode())
    # ... and the inviter refuses too when the token's own expiry was altered to look valid.
    stretched = dataclasses.replace(short, expires_at=short.expires_at + 3_600_000)
    with pytest.raises(UserError, match="expired"):
        await accept_invite(c.federation, c.client, stretched.encode())
    assert snapshot() == before

    # 3. Forged / altered tokens.
    good = a.federation.create_invite(ttl_ms=600_000)
    before = snapshot()
    wrong_secret = dataclasses.replace(good, secret=bytes(32))
    with pytest.raises(UserError, match="refused the invite"):
        await accept_invite(c.federation, c.client, wrong_secret.encode())
    wrong_id = dataclasses.replace(good, invite_id=bytes(16))
    with pytest.raises(UserError, match="refused the invite"):
        await accept_invite(c.federation, c.client, wrong_id.encode())
    wrong_node = dataclasses.replace(good, node_id=b.service.node_id)  # A's address, B's id: not the node named
    with pytest.raises(UserError, match="not the one the invite names"):
        await accept_invite(c.federation, c.client, wrong_node.encode())
    text = good.encode()
    damaged = text[:-6] + ("A" if text[-6] != "A" else "B") + text[-5:]
    with pytest.raises(UserError):
        await accept_invite(c.federation, c.client, damaged)
    with pytest.raises(UserError, match="starts with"):
        await accept_invite(c.federation, c.client, "not-a-token")
    with pytest.raises(UserError, match="damaged"):
        await accept_invite(c.federation, c.client, "orgnode1:@@@@")
    assert snapshot() == before

    # The genuine token was not consumed by the forgeries: it still works, once.
    await accept_invite(c.federation, c.client, InviteToken.decode(text).encode())
    assert trust_ids(a)[c.service.node_id] == P.TRUSTED
    assert trust_ids(c) == {a.service.node_id: P.TRUSTED}


async def test_remove_and_block_take_effect_at_once(fed_net):
    a = await fed_net.start("Hub")
    b = await fed_net.start("Removed One")
    c = await fed_net.start("Blocked One")
    await pair(a, b)
    await pair(a, c)
    for x, y in ((a, b), (a, c), (b, a), (c, a)):
        await synced(x, y)

    a.federation.set_state(b.service.node_id, P.REMOVED)
    a.federation.set_state(c.service.node_id, P.BLOCKED)
    for peer in (b, c):
        held = ids_from(a, peer)
        # A push of a perfectly valid next statement, and a pull: refused, nothing stored.
        answer = await push(peer, a, *next_notes(peer, ["after removal"]))
        assert (answer.status, answer.error) == (403, "untrusted-sender")
        answer = await signed_post(a, PULL, a.federation.have_vector_for(a.service.node_id).encode(), peer.service.identity)
        assert (answer.status, answer.error) == (403, "untrusted-sender")
        # Their real nodes keep trying (push and pull) and get nowhere.
        peer.federation.append("note", {"text": "still there?", "hops": 1}, private=True)
        assert ids_from(a, peer) == held
    # A sends them nothing more either: its outbox for them is gone and new statements skip them.
    a.federation.append("note", {"text": "only for the trusted", "hops": 1}, private=True)
    assert a.federation.peers.outbox_size(b.service.node_id) == 0
    assert a.federation.peers.outbox_size(c.service.node_id) == 0
    # Their real nodes keep retrying (positive control: two more failed pushes each) and get nowhere.
    tries = {p: p.sync.delivery(a.service.node_id).attempts for p in (b, c)}
    await wait_until(lambda: all(p.sync.delivery(a.service.node_id).attempts >= tries[p] + 2 for p in (b, c)),
                     what="B and C retrying their pushes to A")
    assert head(b, a) == head(c, a) == head(a, a) - 1
    assert ids_from(a, b)[-1] != b.service.log.head(b.service.node_id).id
    assert ids_from(a, c)[-1] != c.service.log.head(c.service.node_id).id

    # A blocked node cannot pair again; a removed one can, with a new invite.
    with pytest.raises(UserError, match="blocked"):
        await accept_invite(c.federation, c.client, a.federation.create_invite(600_000).encode())
    assert trust_ids(a)[c.service.node_id] == P.BLOCKED
    await pair(a, b)
    await synced(a, b)


async def test_a_block_stays_until_an_explicit_unblock(fed_net):
    """`trust remove` on a blocked peer used to unblock it (it set `removed`, and a removed peer may
    pair again). Now a block ends only with `trust unblock`, through the real admin socket."""
    from node.http.admin_client import AdminClient

    a = await fed_net.start("Keeper")
    b = await fed_net.start("Pest")
    d = await fed_net.start("Ordinary")
    await pair(a, b)
    await pair(a, d)
    admin = AdminClient(a.socket_path)
    call = lambda path, peer: asyncio.to_thread(admin.call, "POST", path, {"node_id": peer.service.node_id.hex()[:12]})  # noqa: E731

    assert (await call("/trust/block", b))["state"] == P.BLOCKED
    with pytest.raises(UserError, match="stays blocked until you unblock") as refused:
        await call("/trust/remove", b)
    assert f"`orgnode trust unblock {b.service.node_id.hex()}`" in str(refused.value)  # the command, ready to copy
    assert trust_ids(a)[b.service.node_id] == P.BLOCKED
    with pytest.raises(UserError, match="blocked"):
        await accept_invite(b.federation, b.client, a.federation.create_invite(600_000).encode())
    # Positive control: remove works on a trusted peer, and unblock only on a blocked one.
    assert (await call("/trust/remove", d))["state"] == P.REMOVED
    with pytest.raises(UserError, match="only a blocked peer"):
        await call("/trust/unblock", d)
    # The explicit unblock: removed, not trusted; a new pairing trusts it again.
    assert (await call("/trust/unblock", b))["state"] == P.REMOVED
    await pair(a, b)
    assert trust_ids(a)[b.service.node_id] == P.TRUSTED
