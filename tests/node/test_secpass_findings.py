"""Security pass (issue 8 follow-up): findings against real nodes; strict xfails are the ones not fixed yet.

Each test states the expected (secure) behaviour; it fails on the current code. Real nodes from the
``net`` / ``fed_net`` fixtures, real HTTP, the real CLI; no component of orgnode is mocked.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket

import pytest

from node.http.client import FederationClient, PeerAddressRefused
from protocol.identity import Identity
from tests.node.federation_helpers import PUSH, auth_header, pair, wait_until
from tests.node.test_local_attacks import cli

# --- SSRF: IPv6 forms that embed an internal IPv4 address (item 10) ------------------------------

@pytest.mark.parametrize("url", [
    "http://[64:ff9b::a9fe:a9fe]:8470",   # NAT64 well-known prefix -> 169.254.169.254 (cloud metadata)
    "http://[64:ff9b::a00:1]:8470",       # NAT64 -> 10.0.0.1
    "http://[2002:a9fe:a9fe::1]:8470",    # 6to4 -> 169.254.169.254
    "http://[::7f00:1]:8470",             # IPv4-compatible ::127.0.0.1 (deprecated, not global)
    "http://[fec0::1]:8470",              # site-local (deprecated, not global)
])
async def test_secpass_ipv6_forms_embedding_internal_ipv4_are_refused(url):
    client = FederationClient(lambda: Identity.from_random(os.urandom))
    try:
        with pytest.raises(PeerAddressRefused, match="allow_private_peers"):
            await asyncio.wait_for(client.post(url, "/federation/v1/pull", os.urandom(32), b"\x91\x01"), 1.0)
    finally:
        await client.close()


# --- connection exhaustion: a client that never reads its answers (item 11) ----------------------

def _stall(port: int, source: str) -> socket.socket:
    """Pipeline card requests on one connection and never read: the node's answers fill the socket."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    s.setblocking(False)
    req = b"GET /.well-known/orgnode HTTP/1.1\r\nHost: x\r\n\r\n" * 64
    while True:  # until our send buffer is full too: the node is blocked writing to us
        try:
            s.send(req)
        except BlockingIOError:
            return s


def _health_from(port: int, source: str) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0, source_address=(source, 0)) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


async def test_secpass_a_client_that_never_reads_cannot_hold_connections_forever(fed_net):
    from node.http.conn_guard import ConnectionPolicy
    from tests.node.test_connection_guard import guarded_node

    rt = await guarded_node(fed_net, ConnectionPolicy(read_timeout=0.5, max_per_address=2))
    assert await asyncio.to_thread(_health_from, rt.port, "127.0.0.9")  # positive control
    stalled = [await asyncio.to_thread(_stall, rt.port, "127.0.0.9") for _ in range(2)]
    try:
        # Ten read timeouts later the stalled connections must be gone and the address served again.
        deadline = asyncio.get_running_loop().time() + 5.0
        while not await asyncio.to_thread(_health_from, rt.port, "127.0.0.9"):
            assert asyncio.get_running_loop().time() < deadline, "the stalled connections still hold the address's slots"
            assert await asyncio.to_thread(_health_from, rt.port, "127.0.0.10")  # the node itself still answers
    finally:
        for s in stalled:
            s.close()


# --- terminal output: a partner's newline forges whole lines (item 18) -----------------------------

async def test_secpass_partner_newlines_cannot_forge_rows_in_human_output(net):
    victim = await net.start("Victim")
    evil = await net.start("Evil Org")
    await pair(victim, evil)
    forged = "f" * 32 + "  open     1    Trusted Nonprofit        -                  Free money"
    job = evil.talent.post_job(title="Welder\n" + forged, skills=["welding"], hops=1)
    await wait_until(lambda: victim.talent.store.job(job.job_id) is not None, what="job delivered")
    rc, out, err = await cli(victim.service.home.path, "job", "list")
    assert rc == 0, err
    lines = out.rstrip("\n").split("\n")
    assert len(lines) == 2, f"one header and one row for one job; got a forged row:\n{out}"


# --- Content-Encoding: encodings aiohttp cannot decode are answered by its parser (item 14) --------

@pytest.mark.parametrize("coding", ["br", "zstd"])
async def test_secpass_every_content_encoding_gets_the_same_json_415(fed_net, coding):
    from tests.node.test_federation_threats import paired, raw_post

    a, b = await paired(fed_net)
    body = b"\x91\x01"
    auth = auth_header(a.service.identity, b.service.node_id, PUSH, body)
    status, payload = await raw_post(b, PUSH, body, [("Authorization", auth), ("Content-Encoding", coding)])
    assert (status, json.loads(payload or b"null")) == (415, {
        "error": "malformed", "detail": "Content-Encoding is not accepted on the federation API"})


# --- LAN pairing slots: one host with a few addresses takes them all (item 13) ----------------------

async def test_secpass_one_host_with_eight_addresses_cannot_fill_every_pairing_slot(running):
    from node.lan.pairing_api import MAX_PENDING_IN, MAX_PENDING_PER_SOURCE, PAIR_REQUEST_PATH
    from protocol.lan_pairing import LanPairRequest
    from tests.node.test_discovery import fast_bucket, identity_bundle, raw_post

    b = await running("B")
    fast_bucket(b)
    for i in range(MAX_PENDING_IN // MAX_PENDING_PER_SOURCE):
        for _ in range(MAX_PENDING_PER_SOURCE):
            s = Identity.from_random(os.urandom)
            status, _ = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(s)).encode(), s,
                                       source=f"127.0.3.{i + 1}")
            assert status == 200  # each alias stays within its own cap
    neighbour = Identity.from_random(os.urandom)
    status, body = await raw_post(b, PAIR_REQUEST_PATH, LanPairRequest(identity_bundle(neighbour)).encode(), neighbour,
                                  source="127.0.4.1")
    assert status == 200, f"a real neighbour is locked out: {status} {body[:120]!r}"


async def test_secpass_every_bidi_control_in_partner_text_is_escaped(net):
    victim = await net.start("Victim")
    evil = await net.start("Evil Org")
    await pair(victim, evil)
    job = evil.talent.post_job(title="Welder \u200fgnp.exe\u061c \u200e", skills=["welding"], hops=1)
    await wait_until(lambda: victim.talent.store.job(job.job_id) is not None, what="job delivered")
    rc, out, err = await cli(victim.service.home.path, "job", "list")
    assert rc == 0, err
    assert not [c for c in "\u061c\u200e\u200f" if c in out], "raw bidi marks in `job list`"


# --- consent sector: a partner-of-a-partner relabels itself before we first see it (item 1) ---------

async def test_secpass_a_company_relabelled_before_first_sight_is_not_vouched_as_a_nonprofit(net):
    """A re-share carries a card the receiver vouches for at first sight, so the re-sharer passes on
    only an author whose current card is the identity it judges consent against (protocol §12.7)."""
    from tests.node.test_consent_identity import nonprofit_only_candidate, relabel

    corp = await net.start("Northwind Corp", sector="company")
    other = await net.start("Southwind Ltd", sector="company")
    hub = await net.start("Green Works", sector="social_enterprise")
    holder = await net.start("Youth Futures", sector="nonprofit")
    await pair(corp, hub)  # the hub's admin confirms corp as a company
    await pair(other, hub)
    card = relabel(corp, "nonprofit")  # corp now claims to be a non-profit (flagged at the hub, not used there)
    await wait_until(lambda: hub.service.log.get(card.id) is not None, what="the relabelled card at the hub")
    assert hub.federation.peers.consent_identity(corp.service.node_id).sector == "company"
    await pair(hub, holder)
    job = corp.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: hub.talent.store.job(job.job_id) is not None and not list(
        hub.service.db.query("SELECT 1 FROM pending_reactions")), what="corp's job taken in and reacted to at the hub")
    assert not list(hub.service.db.query("SELECT 1 FROM reshared WHERE root_id = ?", [hub.talent.store.job(job.job_id).statement_id]))
    # Positive control, same hub and holder: an unchanged card is re-shared (after corp's job in the
    # hub's outbox order) and vouched as what it says.
    control = other.talent.post_job(title="Courier", skills=["driving"], hops=2)
    await wait_until(lambda: holder.talent.store.job(control.job_id) is not None, what="the control job at the holder")
    assert holder.federation.peers.consent_identity(other.service.node_id).sector == "company"
    assert holder.talent.store.job(job.job_id) is None
    assert holder.federation.peers.consent_identity(corp.service.node_id) is None  # nothing vouched as a non-profit
    candidate_id = nonprofit_only_candidate(holder)
    from node.core.errors import UserError

    with pytest.raises(UserError):
        holder.talent.refer(candidate_id, job.job_id)
