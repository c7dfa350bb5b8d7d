"""LAN pairing by request/approval between real in-process nodes on 127.0.0.1.

mDNS itself is exercised for real in tests/e2e/test_lan_discovery.py (network namespaces); here the
browse step is replaced by the announcements the target node would make, so these tests run
anywhere, quickly. Everything else (HTTP, signatures, SQLite, sync) is real.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import aiohttp
import pytest

from node.core.clock import now_ms
from node.core.errors import UserError
from node.lan.admin import LanAdmin
from node.lan.discovery import Found, LanDiscovery, check_lan_url, lan_url_problem
from node.lan.pairing_api import MAX_PENDING_IN, MAX_PENDING_PER_SOURCE, PAIR_CONFIRM_PATH, PAIR_REQUEST_PATH, PAIRING_BURST
from node.runtime import NodeRuntime
from protocol.bodies import Note, OrgCard
from protocol.card_bundle import encode_bundle
from protocol.identity import Identity
from protocol.lan_pairing import LanAnnouncement, LanPairAnswer, LanPairConfirm, LanPairRequest
from protocol.request_auth import sign_request
from protocol.statement import sign_statement
from storage import peers as P
from tests.node.federation_helpers import wait_until


def found(announcement: LanAnnouncement) -> Found:
    return Found(announcement, announcement.to_txt(), f"orgnode-{announcement.node_id.hex()[:16]}._orgnode._tcp.local.", ())


def lan(*nodes: NodeRuntime, extra: list[LanAnnouncement] | None = None) -> Any:
    """A stand-in for browsing: what ``nodes`` announce (plus ``extra``), as mDNS would deliver it."""

    async def browse(seconds: float, stop_when: Any = None) -> list[Found]:
        return [found(n.lan.discovery.announcement()) for n in nodes] + [found(a) for a in extra or []]

    return browse


def state(holder: NodeRuntime, other: NodeRuntime) -> str | None:
    peer = holder.federation.peers.get(other.service.node_id)
    return peer.state if peer else None


def identity_bundle(identity: Identity, url: str = "http://127.0.0.1:9") -> bytes:
    card = OrgCard("Flooder", "company", url, identity.encryption_public)
    statement = sign_statement(identity, kind=OrgCard.KIND, seq=1, prev=None, now=now_ms(), body=card.to_value(), private=False)
    return encode_bundle([statement])


async def raw_post(target: NodeRuntime, path: str, body: bytes, identity: Identity, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """POST signed by ``identity``, from the loopback address ``source`` (distinct LAN hosts)."""
    auth = sign_request(identity, method="POST", path=path, destination=target.service.node_id, body=body, now=now_ms(), nonce=os.urandom(16))
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0))) as session:
        async with session.post(f"http://127.0.0.1:{target.port}{path}", data=body,
                                headers={"Authorization": auth.header_value(), "Content-Type": "application/msgpack"}) as resp:
            return resp.status, await resp.read()


async def test_request_approve_then_both_trusted_and_a_note_syncs(running):
    a = await running("Youth Futures")
    b = await running("Green Works", "social_enterprise")
    a.lan.discovery.browse = lan(a, b)  # type: ignore[method-assign]
    b.lan.discovery.browse = lan(a, b)  # type: ignore[method-assign]

    view = await a.lan.request(b.service.node_id.hex(), 1.0)
    assert view["state"] == "pending_out" and view["answer"] == "pending" and view["name"] == "Green Works"
    assert state(a, b) == P.PENDING_OUT and state(b, a) == P.PENDING_IN
    # The target knows the requester's verified card (name shown in `trust pending`), but exchanges nothing yet.
    assert next(iter(b.service.db.query("SELECT name FROM org_cards WHERE node_id = ?", [a.service.node_id])))["name"] == "Youth Futures"
    assert not b.federation.peers.trusted() and not a.federation.peers.trusted()

    # Only a pending_in peer can be approved: not our own pending_out, not an unknown node.
    with pytest.raises(UserError, match="not waiting for approval"):
        await a.lan.approve(b.service.node_id.hex())
    with pytest.raises(UserError, match="no peer"):
        await b.lan.approve("ab" * 32)

    approved = await b.lan.approve(a.service.node_id.hex()[:12])
    assert approved["state"] == P.TRUSTED and approved["via"] == "lan"
    assert state(a, b) == P.TRUSTED and state(b, a) == P.TRUSTED
    with pytest.raises(UserError, match="not waiting for approval"):
        await b.lan.approve(a.service.node_id.hex())

    note = b.federation.append(Note.KIND, Note("hello over the LAN", 1).to_value(), private=True)
    await wait_until(lambda: (held := a.service.log.get(note.id)) is not None and held.body is not None, what="the readable note at A")


async def test_approve_is_retried_safely_when_its_answer_was_lost(running):
    a = await running("A")
    b = await running("B")
    a.lan.discovery.browse = lan(b)  # type: ignore[method-assign]
    await a.lan.request(b.service.node_id.hex(), 1.0)
    await b.lan.approve(a.service.node_id.hex())
    # B never saw A's answer: A trusts B, B still has A pending. Approving again completes it.
    b.federation.peers.upsert(a.service.node_id, a.service.config.url, P.PENDING_IN, "lan", now_ms())
    assert (await b.lan.approve(a.service.node_id.hex()))["state"] == P.TRUSTED
    assert state(a, b) == P.TRUSTED and a.federation.peers.get(b.service.node_id).via == "lan"


async def test_blocked_node_is_refused_and_trusted_node_is_not_downgraded(running):
    a = await running("A")
    b = await running("B")
    a.lan.discovery.browse = lan(b)  # type: ignore[method-assign]
    await a.lan.request(b.service.node_id.hex(), 1.0)
    b.federation.set_state(a.service.node_id, P.BLOCKED)
    a.federation.set_state(b.service.node_id, P.REMOVED)
    with pytest.raises(UserError, match="blocked"):
        await a.lan.request(b.service.node_id.hex(), 1.0)
    assert state(b, a) == P.BLOCKED

    # A trusted peer's request changes nothing there.
    c = await running("C")
    c.lan.discovery.browse = lan(b)  # type: ignore[method-assign]
    await c.lan.request(b.service.node_id.hex(), 1.0)
    await b.lan.approve(c.service.node_id.hex())
    c.federation.set_state(b.service.node_id, P.REMOVED)
    view = await c.lan.request(b.service.node_id.hex(), 1.0)
    assert view["answer"] == "trusted" and state(b, c) == P.TRUSTED


async def test_approve_with_requester_unreachable_changes_nothing(running):
    a = await running("A")
    b = await running("B")
    a.lan.discovery.browse = lan(b)  # type: ignore[method-assign]
    await a.lan.request(b.service.node_id.hex(), 1.0)
    await a.stop()
    with pytest.raises(UserError, match=r"cannot reach the requesting node .* nothing changed"):
        await b.lan.approve(a.service.node_id.hex())
    assert state(b, a) == P.PENDING_IN and not b.federation.peers.trusted()


async def test_confirm_from_a_node_we_did_not_ask_is_refused(running):
    b = await running("B")
    stranger = Identity.from_random(os.urandom)
    status, body = await raw_post(b, PAIR_CONFIRM_PATH, LanPairConfirm(identity_bundle(stranger)).encode(), stranger)
    assert status == 403 and b"untrusted-sender" in body
    assert b.federation.peers.get(stranger.node_id) is None


async def test_request_signed_by_another_key_than_the_bundle_is_refused(running):
    b = await running("B")
    honest, forger = Identity.from_random(os.urandom), Identity.from_random(os.urandom)
    status, body = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(honest)).encode(), forger)
    assert status == 403 and b"wrong-author" in body
    assert not b.federation.peers.all()


async def test_pair_requests_are_rate_limited(running):
    b = await running("B")
    statuses = []
    for _ in range(int(PAIRING_BURST) + 5):
        flooder = Identity.from_random(os.urandom)
        status, body = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(flooder)).encode(), flooder)
        statuses.append(status)
        if status == 200:
            assert LanPairAnswer.decode(body).state == "pending"
    assert statuses.count(200) <= PAIRING_BURST + 1 and statuses[-1] == 429
    pending = [p for p in b.federation.peers.all() if p.state == P.PENDING_IN]
    assert len(pending) == statuses.count(200) <= MAX_PENDING_IN
    # The node keeps serving everything else.
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{b.port}/health") as resp:
        assert resp.status == 200


async def test_pending_list_is_capped(running):
    from node.core.limits import TokenBucket

    b = await running("B")
    endpoints = next(h.__self__ for m, p, h in b.federation_routes if p == PAIR_REQUEST_PATH)  # type: ignore[attr-defined]
    endpoints.bucket = TokenBucket(1000.0, 1000.0)
    for i in range(MAX_PENDING_IN + 1):
        flooder = Identity.from_random(os.urandom)
        request = LanPairRequest(identity_bundle(flooder)).encode()
        status, body = await raw_post(b, PAIR_REQUEST_PATH, request, flooder, source=f"127.0.1.{i + 1}")
        assert status == (200 if i < MAX_PENDING_IN else 429), (i, body)


async def test_request_needs_the_node_in_discovery_results(running):
    a = await running("A")
    b = await running("B")
    a.lan.discovery.browse = lan(a)  # type: ignore[method-assign]
    with pytest.raises(UserError, match="was announced on the LAN"):
        await a.lan.request(b.service.node_id.hex(), 0.5)
    with pytest.raises(UserError, match="own id"):
        await a.lan.request(a.service.node_id.hex(), 0.5)
    with pytest.raises(UserError, match="node id in hex"):
        await a.lan.request("xyz", 0.5)
    assert not a.federation.peers.all() and not b.federation.peers.all()


async def test_announced_url_serving_another_nodes_card_is_refused(running):
    a = await running("A")
    b = await running("B")
    c = await running("C")
    # Someone announces B's id with C's URL: the card there names C, so nothing is sent.
    a.lan.discovery.browse = lan(extra=[LanAnnouncement(b.service.node_id, "B", c.service.config.url)])  # type: ignore[method-assign]
    with pytest.raises(UserError, match="not the one announced"):
        await a.lan.request(b.service.node_id.hex(), 0.5)
    assert not a.federation.peers.all() and not b.federation.peers.all() and not c.federation.peers.all()


async def test_conflicting_announcements_are_not_guessed(running):
    a = await running("A")
    b = await running("B")
    fake = LanAnnouncement(b.service.node_id, "B", "http://10.9.9.9:1")
    a.lan.discovery.browse = lan(b, extra=[fake])  # type: ignore[method-assign]
    with pytest.raises(UserError, match="different URLs"):
        await a.lan.request(b.service.node_id.hex(), 0.5)


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[str] = []

    async def get(self, url: str) -> bytes:
        self.calls.append(url)
        raise AssertionError("no fetch expected")

    async def post(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(str(args))
        raise AssertionError("no post expected")


@pytest.mark.parametrize("url", ["http://127.0.0.1:8470", "http://0.0.0.0:8470", "http://[::]:8470", "http://[::1]:8470",
                                 "http://localhost:8470", "http://[::ffff:127.0.0.1]:8470", "http://224.0.0.251:8470",
                                 "ftp://10.0.0.5/"])
async def test_announced_unusable_url_causes_no_connection(running, url):
    """THREATS row 10, from a node that does not listen on loopback (the netns test does it with real mDNS)."""
    a = await running("A")
    target = Identity.from_random(os.urandom).node_id
    client = RecordingClient()
    admin = LanAdmin(a.federation, client, a.lan.discovery, allow_loopback=False)  # type: ignore[arg-type]
    admin.discovery.browse = lan(extra=[LanAnnouncement(target, "Evil", url)])  # type: ignore[method-assign]
    with pytest.raises(UserError, match=r"refusing to contact|not an http"):
        await admin.request(target.hex(), 0.5)
    assert client.calls == [] and a.federation.peers.get(target) is None


@pytest.mark.parametrize(
    ("url", "loopback_ok", "ok"),
    [
        ("http://10.0.0.5:8470", False, True),
        ("https://orgnode.youth.example", False, True),
        ("http://127.0.0.1:8470", True, True),
        ("http://localhost:8470", True, True),
        ("http://127.0.0.1:8470", False, False),
        ("http://127.8.9.10:8470", False, False),
        ("http://0.0.0.0:8470", True, False),
        ("http://[::]:8470", True, False),
        ("http://[ff02::fb]:8470", True, False),
        ("http://239.1.2.3:1", True, False),
        ("http://10.0.0.5:99999", True, False),
        ("gopher://10.0.0.5", True, False),
    ],
)
def test_lan_url_rule(url, loopback_ok, ok):
    assert (lan_url_problem(url, loopback_ok) is None) == ok


async def test_host_names_are_resolved_and_checked(monkeypatch):
    loop = asyncio.get_running_loop()
    answers = {"printer.lan": "127.0.0.1", "any.lan": "0.0.0.0", "partner.lan": "10.0.0.7"}

    async def getaddrinfo(host: str, port: Any, **kwargs: Any) -> list[Any]:
        return [(2, 1, 6, "", (answers[host], 0))]

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    for host in ("printer.lan", "any.lan", "localhost.", "app.localhost"):
        with pytest.raises(UserError, match="refusing to contact"):
            await check_lan_url(f"http://{host}:8470", allow_loopback=False)
    await check_lan_url("http://partner.lan:8470", allow_loopback=False)
    await check_lan_url("http://printer.lan:8470", allow_loopback=True)
    with pytest.raises(UserError, match="refusing to contact"):
        await check_lan_url("http://any.lan:8470", allow_loopback=True)


def test_discovery_component_announces_only_public_card_fields(node_factory):
    service = node_factory("Youth Futures")
    d = LanDiscovery(service.config, service.node_id, lambda: 1)
    assert d.announcement().to_txt() == {
        "v": "1", "id": service.node_id.hex(), "fp": service.identity.fingerprint, "name": "Youth Futures", "url": service.config.url,
    }


async def test_in_process_test_nodes_do_not_advertise(running):
    a = await running("A")
    assert a.service.config.lan_advertise is False
    assert a.lan.discovery._zc is None and a.lan.discovery in a.components


def fast_bucket(node: NodeRuntime) -> None:
    """Lift the node-wide rate limit, so a test reaches the slot caps behind it."""
    from node.core.limits import TokenBucket

    endpoints = next(h.__self__ for m, p, h in node.federation_routes if p == PAIR_REQUEST_PATH)  # type: ignore[attr-defined]
    endpoints.bucket = TokenBucket(1000.0, 1000.0)


async def test_item13_pending_requests_are_capped_per_source_address(running):
    """Issue 8 item 13: one LAN host cannot take every pairing slot, whatever number of keys it makes."""
    b = await running("B")
    fast_bucket(b)
    strangers = [Identity.from_random(os.urandom) for _ in range(MAX_PENDING_PER_SOURCE + 1)]
    statuses = [(await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(s)).encode(), s, source="127.0.2.1"))[0]
                for s in strangers]
    assert statuses == [200] * MAX_PENDING_PER_SOURCE + [429]
    assert sum(1 for p in b.federation.peers.all() if p.state == P.PENDING_IN) == MAX_PENDING_PER_SOURCE
    # Positive controls: a re-sent request from the full address still answers; another address is served.
    assert (await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(strangers[0])).encode(), strangers[0],
                           source="127.0.2.1"))[0] == 200
    other = Identity.from_random(os.urandom)
    assert (await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(other)).encode(), other, source="127.0.2.2"))[0] == 200
    assert b.federation.peers.get(other.node_id).state == P.PENDING_IN


async def test_item13_resent_request_keeps_its_first_lapse_time(running):
    """Issue 8 item 13: the lapse is counted from the first request; re-sending does not renew the slot."""
    b = await running("B")
    fast_bucket(b)
    stranger = Identity.from_random(os.urandom)
    request = LanPairRequest(identity_bundle(stranger)).encode()
    assert (await raw_post(b, PAIR_REQUEST_PATH, request, stranger))[0] == 200
    first = b.federation.peers.get(stranger.node_id).updated_at
    await wait_until(lambda: now_ms() > first + 5, what="the clock to move")
    assert (await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(stranger)).encode(), stranger))[0] == 200
    again = b.federation.peers.get(stranger.node_id)
    assert (again.state, again.updated_at) == (P.PENDING_IN, first)


async def test_item13_lan_pairing_endpoints_are_not_served_when_lan_discovery_is_off(running):
    """Issue 8 item 13: with ``lan_discovery`` off the pairing-request endpoints do not exist (404 as any
    unknown route) and a stranger's request stores nothing; positive control: a node with it on records it."""
    off = await running("Closed Org", lan_discovery=False)
    on = await running("Open Org")
    stranger = Identity.from_random(os.urandom)
    request = LanPairRequest(identity_bundle(stranger)).encode()
    unknown = await raw_post(off, "/federation/v1/no-such-endpoint", request, stranger)
    assert unknown[0] == 404
    assert await raw_post(off, PAIR_REQUEST_PATH, request, stranger) == unknown
    assert (await raw_post(off, PAIR_CONFIRM_PATH, LanPairConfirm(identity_bundle(stranger)).encode(), stranger))[0] == 404
    assert off.federation.peers.get(stranger.node_id) is None
    assert not list(off.service.db.query("SELECT 1 FROM org_cards WHERE node_id = ?", [stranger.node_id]))
    with pytest.raises(UserError, match="lan_discovery"):  # it could never take the approval: refused up front
        await off.lan.request(on.service.node_id.hex(), 1.0)

    status, body = await raw_post(on, PAIR_REQUEST_PATH, request, stranger)
    assert status == 200 and LanPairAnswer.decode(body).state == "pending"
    recorded = on.federation.peers.get(stranger.node_id)
    assert recorded is not None and recorded.state == P.PENDING_IN


async def test_item10_a_lan_request_whose_card_names_a_private_address_is_refused_unless_allowed(running):
    """Without ``allow_private_peers`` the target refuses a requester whose card URL is a loopback
    literal (it could never contact it); positive control: with it on the request is recorded."""
    strict = await running("Strict Org", allow_private_peers=False)
    lax = await running("Lax Org")
    requester = Identity.from_random(os.urandom)
    request = LanPairRequest(identity_bundle(requester, "http://127.0.0.5:8470")).encode()
    status, body = await raw_post(strict, PAIR_REQUEST_PATH, request, requester)
    assert status == 400 and b"bad-body" in body and b"loopback address" in body
    assert strict.federation.peers.get(requester.node_id) is None
    status, _ = await raw_post(lax, PAIR_REQUEST_PATH, request, requester)
    recorded = lax.federation.peers.get(requester.node_id)
    assert status == 200 and recorded is not None and recorded.state == P.PENDING_IN


async def test_item13_a_full_list_makes_room_fairly_and_never_at_a_lone_requests_cost(running):
    """When every slot is taken, a newcomer from a fresh address drops the oldest request of the address
    holding the most; a re-sent flood from that address cannot drop the newcomer's one request back."""
    b = await running("B")
    fast_bucket(b)

    async def ask(source: str) -> tuple[Identity, int]:
        s = Identity.from_random(os.urandom)
        status, _ = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(s)).encode(), s, source=source)
        return s, status

    def pending() -> set[bytes]:
        return {p.node_id for p in b.federation.peers.all() if p.state == P.PENDING_IN}

    aliases = [f"127.0.6.{i + 1}" for i in range(MAX_PENDING_IN // MAX_PENDING_PER_SOURCE)]
    flood = [[await ask(src) for _ in range(MAX_PENDING_PER_SOURCE)] for src in aliases]
    assert all(status == 200 for row in flood for _, status in row) and len(pending()) == MAX_PENDING_IN
    neighbour, status = await ask("127.0.7.1")
    assert status == 200 and neighbour.node_id in pending() and len(pending()) == MAX_PENDING_IN
    assert flood[0][0][0].node_id not in pending()  # the oldest request of (the first of) the biggest holders
    assert b.federation.peers.get(flood[0][0][0].node_id).state == P.REMOVED
    # The flooder tries again from every alias: each now holds as many as or more than a lone request
    # would justify dropping, so it is refused and the neighbour keeps its slot.
    for src in aliases:
        _, status = await ask(src)
        assert status == 429, src
    assert neighbour.node_id in pending()
    # A second neighbour still gets in (the aliases with 4 still hold more than it would): positive control.
    second, status = await ask("127.0.7.2")
    assert status == 200 and {neighbour.node_id, second.node_id} <= pending()


async def test_item13_pending_requests_from_before_a_restart_count_as_one_source(fed_net):
    """Sources are kept in memory: after a restart the requests made before it are one evictable group,
    so a full list cannot become a lock-out that outlives the process."""
    b = await fed_net.start("B")
    fast_bucket(b)
    first = []
    for i in range(MAX_PENDING_IN):
        s = Identity.from_random(os.urandom)
        status, _ = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(s)).encode(), s, source=f"127.0.8.{i + 1}")
        assert status == 200
        first.append(s)
    late = Identity.from_random(os.urandom)
    status, _ = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(late)).encode(), late, source="127.0.9.1")
    assert status == 429  # control: 32 single-request addresses keep their slots
    b = await fed_net.restart(await fed_net.stop(b))
    fast_bucket(b)
    status, _ = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(late)).encode(), late, source="127.0.9.1")
    assert status == 200
    assert b.federation.peers.get(late.node_id).state == P.PENDING_IN
    assert b.federation.peers.get(first[0].node_id).state == P.REMOVED  # the oldest of the pre-restart group
    assert sum(1 for p in b.federation.peers.all() if p.state == P.PENDING_IN) == MAX_PENDING_IN
