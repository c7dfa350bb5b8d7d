"""Issue 8 item 10 (SSRF): a partner's card URL cannot make this node contact internal addresses.

Real nodes on 127.0.0.x; the "internal service" a malicious partner points us at is a real aiohttp
server that records every request it gets. A node with ``allow_private_peers`` off must send it
nothing; the same setup with the option on is the positive control that the request would arrive.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from node.core.clock import now_ms
from node.core.errors import UserError
from node.core.pairing import accept_invite
from node.http.client import FederationClient, PeerAddressRefused
from protocol.bodies import OrgCard
from protocol.card_bundle import encode_bundle
from protocol.identity import Identity
from protocol.invite import InviteToken, PairRequest, invite_proof
from protocol.statement import sign_statement
from tests.conftest import free_port
from tests.node.federation_helpers import PAIR, signed_post, wait_until


class Recorder:
    """A real HTTP server standing in for an internal service; it counts what reaches it."""

    def __init__(self, host: str) -> None:
        self.host = host
        self.port = free_port()
        self.seen: list[str] = []
        self._runner: web.AppRunner | None = None

    async def start(self) -> Recorder:
        async def anything(request: web.Request) -> web.Response:
            self.seen.append(f"{request.method} {request.path_qs}")
            return web.Response(status=404)

        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", anything)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.host, self.port).start()
        return self

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def recorders() -> AsyncIterator[list[Recorder]]:
    started: list[Recorder] = []
    yield started
    for r in started:
        await r.close()


@pytest.mark.parametrize(("listen", "card_host"), [("127.0.0.3", "127.0.0.3"), ("127.0.0.1", "localhost")],
                         ids=["loopback-literal", "name-resolving-to-loopback"])
async def test_item10_a_partner_card_pointing_at_loopback_gets_no_request_unless_allowed(net, recorders, listen, card_host):
    target = await Recorder(listen).start()
    recorders.append(target)
    internal_url = f"http://{card_host}:{target.port}"
    seen_by_allow: dict[bool, list[str]] = {}
    for allow in (False, True):
        holder = await net.start(f"Holder {allow}", allow_private_peers=allow)
        # The partner's card names the internal service. Pairing still works: the inviter only listens.
        partner = await net.start(f"Partner {allow}", url=internal_url)
        token = holder.federation.create_invite(600_000)
        await accept_invite(partner.federation, partner.client, token.encode())
        peer = holder.federation.peers.get(partner.service.node_id)
        assert peer is not None and peer.url == internal_url  # the admin saw this URL at pairing
        before = len(target.seen)
        holder.federation.append("note", {"text": "for the partner", "hops": 1}, private=True)
        reports = await holder.sync.pull_all()
        assert len(reports) == 1 and not reports[0].ok
        if not allow:
            assert reports[0].error is not None and "loopback address" in reports[0].error
            assert "allow_private_peers" in reports[0].error
            await wait_until(lambda h=holder, p=partner: p.service.node_id in h.sync.refused, what="the push to be refused too")
            assert "loopback address" in holder.sync.refused[partner.service.node_id]  # shown in `trust list`
        seen_by_allow[allow] = target.seen[before:]
    assert seen_by_allow[False] == []
    assert any(s.startswith("POST /federation/v1/") for s in seen_by_allow[True])  # positive control: it would arrive


@pytest.mark.parametrize("url", [
    "http://10.0.0.1:8470", "http://192.168.1.20:8470", "http://172.16.0.1", "http://169.254.169.254",
    "http://[::ffff:169.254.169.254]", "http://[::ffff:127.0.0.1]:8470", "http://[::1]:8470", "http://[fe80::1]:8470",
    "http://[fc00::1]", "http://100.64.0.1", "http://127.0.0.2:8470",
])
async def test_item10_internal_addresses_are_refused_before_connecting(url):
    client = FederationClient(lambda: Identity.from_random(os.urandom))
    try:
        # Refused at once (no connect attempt, which to 10.0.0.1 would hang until the 5 s connect timeout).
        with pytest.raises(PeerAddressRefused, match=r"allow_private_peers.*restart the node"):
            await asyncio.wait_for(client.post(url, "/federation/v1/pull", os.urandom(32), b"\x91\x01"), 1.0)
        with pytest.raises(PeerAddressRefused):
            await asyncio.wait_for(client.get(url + "/.well-known/orgnode"), 1.0)
    finally:
        await client.close()


@pytest.mark.parametrize("url", ["http://0.0.0.0:8470", "http://[::]:8470", "http://224.0.0.251:8470"])
async def test_item10_unspecified_and_multicast_are_refused_even_when_private_peers_are_allowed(url):
    client = FederationClient(lambda: Identity.from_random(os.urandom), allow_private=True)
    try:
        with pytest.raises(PeerAddressRefused, match=r"unspecified|multicast"):
            await asyncio.wait_for(client.post(url, "/federation/v1/pull", os.urandom(32), b"\x91\x01"), 1.0)
    finally:
        await client.close()


BAD_URLS = ["http://user:pw@127.0.0.1:{port}", "http://127.0.0.1:{port}/?next=/admin", "http://127.0.0.1:{port}/#x",
            "http://127.0.0.1:{port}/api/../admin", "ftp://127.0.0.1:{port}"]


def crafted_bundle(identity: Identity, url: str) -> bytes:
    """A card bundle as a malicious node would build it, bypassing our own OrgCard checks."""
    value = {"name": "Mallory Org", "sector": "company", "url": url, "x25519": identity.encryption_public.x25519,
             "mlkem768": identity.encryption_public.mlkem768}
    statement = sign_statement(identity, kind=OrgCard.KIND, seq=1, prev=None, now=now_ms(), body=value, private=False)
    return encode_bundle([statement])


@pytest.mark.parametrize("bad", BAD_URLS)
async def test_item10_a_card_url_with_userinfo_query_fragment_or_dot_path_is_refused_at_pairing(net, bad):
    inviter = await net.start("Inviter")
    mallory = Identity.from_random(os.urandom)
    for url, ok in ((bad.format(port=inviter.port), False), (f"http://127.0.0.1:{inviter.port}/orgnode", True)):
        token = inviter.federation.create_invite(600_000)
        request = PairRequest(token.invite_id, invite_proof(token.secret, token.node_id, mallory.node_id, token.invite_id),
                              crafted_bundle(mallory, url))
        answer = await signed_post(inviter, PAIR, request.encode(), mallory)
        if ok:  # positive control: the same request with a plain base URL (with a path prefix) pairs
            assert answer.status == 200
            assert inviter.federation.peers.is_trusted(mallory.node_id)
        else:
            assert (answer.status, answer.error) == (400, "bad-body")
            assert b"base URL" in answer.body
            assert inviter.federation.peers.get(mallory.node_id) is None
            assert inviter.federation.peers.invite(token.invite_id).used_by is None  # the invite stays usable


@pytest.mark.parametrize("bad", BAD_URLS)
async def test_item10_an_invite_whose_url_has_userinfo_query_or_fragment_is_refused_before_any_contact(net, recorders, bad):
    target = await Recorder("127.0.0.1").start()
    recorders.append(target)
    invitee = await net.start("Invitee")
    node_id = os.urandom(32)
    for url, ok in ((bad.format(port=target.port), False), (f"http://127.0.0.1:{target.port}", True)):
        token = InviteToken(url, node_id, os.urandom(16), os.urandom(32), now_ms() + 600_000).encode()
        with pytest.raises(UserError) as caught:
            await accept_invite(invitee.federation, invitee.client, token)
        if ok:  # positive control: a clean URL is contacted (and the recorder is not the node the token names)
            assert target.seen == ["GET /.well-known/orgnode"]
        else:
            assert "not a usable node address" in str(caught.value)
            assert target.seen == []


async def test_item10_a_path_prefix_is_normalised_and_our_endpoints_appended(recorders):
    target = await Recorder("127.0.0.1").start()
    recorders.append(target)
    client = FederationClient(lambda: Identity.from_random(os.urandom), allow_private=True)
    try:
        for base in (f"http://127.0.0.1:{target.port}/orgnode/", f"HTTP://127.0.0.1:{target.port}/orgnode"):
            answer = await client.post(base, "/federation/v1/pull", os.urandom(32), b"\x91\x01")
            assert answer.status == 404
    finally:
        await client.close()
    assert target.seen == ["POST /orgnode/federation/v1/pull"] * 2


async def test_item10_refusal_is_listed_for_the_admin(net, recorders):
    """``trust list`` (admin API) says why the node will not contact the partner."""
    target = await Recorder("127.0.0.3").start()
    recorders.append(target)
    holder = await net.start("Holder", allow_private_peers=False)
    partner = await net.start("Partner", url=f"http://127.0.0.3:{target.port}")
    await accept_invite(partner.federation, partner.client, holder.federation.create_invite(600_000).encode())
    await holder.sync.pull_all()
    async with aiohttp.ClientSession(connector=aiohttp.UnixConnector(path=str(holder.socket_path))) as session:
        async with session.get("http://admin/trust") as resp:
            peers = await resp.json()
    (entry,) = peers
    assert entry["url"] == f"http://127.0.0.3:{target.port}"
    assert "loopback address" in entry["refused"] and "allow_private_peers" in entry["refused"]
    assert target.seen == []


def test_well_known_nat64_is_judged_by_the_ipv4_address_it_embeds():
    """An IPv6-only node behind DNS64 reaches IPv4-only partners through 64:ff9b::/96: a public
    IPv4 address inside it is allowed (positive control), an internal one is refused like the
    IPv4 literal, and the local-use NAT64 prefix stays refused."""
    import ipaddress

    from node.http.client import address_problem

    assert address_problem(ipaddress.IPv6Address("64:ff9b::808:808"), allow_private=False) is None  # 8.8.8.8
    assert "link-local" in (address_problem(ipaddress.IPv6Address("64:ff9b::a9fe:a9fe"), allow_private=False) or "")
    assert "private" in (address_problem(ipaddress.IPv6Address("64:ff9b::a00:1"), allow_private=False) or "")
    assert "NAT64" in (address_problem(ipaddress.IPv6Address("64:ff9b:1::808:808"), allow_private=False) or "")
