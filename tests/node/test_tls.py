"""TLS on the federation API (issue 10 item 4): real nodes serving HTTPS with certificates from a test CA.

Every node here is a real ``NodeRuntime`` on 127.0.0.1 with a certificate issued by ``tests/tls_ca.py``;
partners verify each other's chain (``tls_ca_file``) and host name, refuse an unknown issuer or a
certificate for another name in plain words, accept anything only with the logged ``tls_verify =
false``, and a node refuses to start with an expired certificate or a key that is not its own.
"""

from __future__ import annotations

import asyncio
import datetime
import logging
import ssl
from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest

from node.core.errors import UserError
from node.home import Home
from node.http.admin_client import AdminClient
from node.runtime import NodeRuntime
from tests.node.federation_helpers import Net, pair, synced, wait_until
from tests.tls_ca import TestCA

LOCAL = ["127.0.0.1"]


def tls_fields(ca: TestCA, name: str, hosts: list[str] = LOCAL, trust: TestCA | None = None) -> dict[str, object]:
    """Config fields for a node serving a certificate from ``ca`` and trusting ``trust`` (default: the same CA)."""
    leaf = ca.issue(name, hosts)
    return {"tls_cert": str(leaf.cert), "tls_key": str(leaf.key), "tls_ca_file": str((trust or ca).cert_path)}


async def admin(runtime: NodeRuntime, path: str) -> object:
    """A GET on the node's real admin socket (the client is blocking: run it off the event loop)."""
    return await asyncio.to_thread(AdminClient(runtime.socket_path).call, "GET", path)


async def health_over(url: str, context: ssl.SSLContext | bool) -> int:
    async with aiohttp.ClientSession() as session, session.get(url + "/health", ssl=context) as resp:
        return resp.status


async def test_three_nodes_federate_over_https_and_a_job_arrives(net: Net, tmp_path: Path):
    ca = TestCA.create(tmp_path / "ca")
    a = await net.start("Youth Futures", **tls_fields(ca, "a"))
    b = await net.start("Green Works", sector="social_enterprise", **tls_fields(ca, "b"))
    c = await net.start("Northwind", sector="company", **tls_fields(ca, "c"))
    for node in (a, b, c):
        assert node.service.config.url.startswith("https://127.0.0.1:")
    await pair(a, b)
    await pair(b, c)
    job = c.talent.post_job(title="Warehouse team lead", skills=["Forklift"], hops=1)
    await wait_until(lambda: b.talent.store.job(job.job_id) is not None, what="job at B over https")
    await synced(a, b)
    await synced(b, a)
    # The server really speaks TLS: verified against the CA it answers, plain http on the port does not.
    assert await health_over(a.service.config.url, ssl.create_default_context(cafile=str(ca.cert_path))) == 200
    with pytest.raises(aiohttp.ClientError):
        await health_over(a.service.config.url.replace("https://", "http://"), False)
    status = await admin(a, "/status")
    assert status["tls"].pop("cert_days_left") == 29  # issued for 30 days, a moment ago
    expires = datetime.datetime.fromisoformat(status["tls"].pop("cert_expires"))
    assert datetime.timedelta(days=29) < expires - datetime.datetime.now(datetime.UTC) <= datetime.timedelta(days=30)
    assert status["tls"] == {"serving": True, "cert": a.service.config.tls_cert, "verify_peers": True,
                             "ca_file": str(ca.cert_path)}
    assert status["tls_verify"] is True and status["refused_peers"] == []


async def test_a_certificate_from_an_unknown_ca_is_refused_in_plain_words_and_accepted_with_tls_ca_file(net: Net, tmp_path: Path):
    ca, other = TestCA.create(tmp_path / "ca"), TestCA.create(tmp_path / "other", "another CA")
    a = await net.start("Youth Futures", **tls_fields(ca, "a"))
    b = await net.start("Green Works", **tls_fields(other, "b"))  # trusts only its own CA, not A's
    token = a.federation.create_invite(600_000)
    from node.core.pairing import accept_invite

    with pytest.raises(UserError) as refused:
        await accept_invite(b.federation, b.client, token.encode())
    message = str(refused.value)
    assert "TLS certificate was refused" in message and "set tls_ca_file" in message, message
    assert "unable to get local issuer certificate" in message and "Traceback" not in message
    assert not b.federation.peers.is_trusted(a.service.node_id) and not a.federation.peers.is_trusted(b.service.node_id)
    # The same node with A's CA in tls_ca_file (a restart with the new setting) pairs and syncs.
    home = Home(await net.stop(b))
    home.save_config(replace(home.load_config(), tls_ca_file=str(ca.cert_path)))
    b = await net.restart(home.path)
    await pair(a, b)
    await synced(b, a)


async def test_a_partner_whose_certificate_becomes_untrusted_is_shown_in_status_and_trust_list(net: Net, tmp_path: Path):
    ca, other = TestCA.create(tmp_path / "ca"), TestCA.create(tmp_path / "other", "another CA")
    a = await net.start("Youth Futures", **tls_fields(ca, "a"))
    b = await net.start("Green Works", **tls_fields(ca, "b"))
    await pair(a, b)
    await synced(b, a)
    assert (await admin(b, "/status"))["refused_peers"] == []  # positive control: a verified partner is fine
    # A now presents a certificate from a CA that B does not trust (same port, same URL).
    home = Home(await net.stop(a))
    leaf = other.issue("a2", LOCAL)
    home.save_config(replace(home.load_config(), tls_cert=str(leaf.cert), tls_key=str(leaf.key)))
    a = await net.restart(home.path)
    await b.sync.pull_all()
    status = await admin(b, "/status")
    [entry] = status["refused_peers"]
    assert entry["node_id"] == a.service.node_id.hex()
    assert "TLS certificate was refused (unable to get local issuer certificate)" in entry["reason"]
    assert "tls_ca_file" in entry["reason"]
    [peer] = await admin(b, "/trust")
    assert peer["refused"] == entry["reason"]
    from node.cli.partners import _peer_lines  # what `orgnode trust list` prints from that answer

    listing = _peer_lines([peer])
    assert "TLS-REFUSED" in listing and "ADDRESS-REFUSED" not in listing and entry["reason"] in listing


async def test_a_certificate_for_another_name_is_refused_and_the_url_host_is_what_is_checked(net: Net, tmp_path: Path):
    ca = TestCA.create(tmp_path / "ca")
    # A's certificate names only node-a.test and localhost, not 127.0.0.1: reached at https://127.0.0.1 it is refused.
    a = await net.start("Youth Futures", **tls_fields(ca, "a", ["node-a.test"]))
    b = await net.start("Green Works", **tls_fields(ca, "b"))
    from node.core.pairing import accept_invite

    with pytest.raises(UserError) as refused:
        await accept_invite(b.federation, b.client, a.federation.create_invite(600_000).encode())
    assert "IP address mismatch" in str(refused.value) and "another name" in str(refused.value), str(refused.value)
    # Positive control: a node whose URL is https://localhost and whose certificate says localhost pairs (DNS SAN,
    # SNI and host name checked against the URL's host), while the address guard still judges what it resolves to.
    c = await net.start("Northwind", url="https://localhost:{port}", **tls_fields(ca, "c", ["localhost"]))
    await pair(c, b)
    guarded = await net.start("Guarded", allow_private_peers=False, **tls_fields(ca, "g"))
    with pytest.raises(UserError) as blocked:
        await accept_invite(guarded.federation, guarded.client, c.federation.create_invite(600_000).encode())
    assert "localhost resolves to" in str(blocked.value) and "loopback" in str(blocked.value), str(blocked.value)


async def test_tls_verify_false_accepts_any_certificate_and_is_logged_and_shown(net: Net, tmp_path: Path, caplog):
    ca, other = TestCA.create(tmp_path / "ca"), TestCA.create(tmp_path / "other", "another CA")
    a = await net.start("Youth Futures", **tls_fields(ca, "a"))
    caplog.set_level(logging.WARNING, logger="orgnode")
    b = await net.start("Green Works", tls_verify=False, **tls_fields(other, "b"))
    warnings = [r for r in caplog.records if "tls.verify-off" in r.getMessage()]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    await pair(a, b)  # A's certificate is from a CA B does not trust: accepted only because verification is off
    await synced(b, a)
    status = await admin(b, "/status")
    assert status["tls_verify"] is False and status["tls"]["verify_peers"] is False
    # Logged again on every start.
    home = await net.stop(b)
    await net.restart(home)
    assert len([r for r in caplog.records if "tls.verify-off" in r.getMessage()]) == 2


def _fails_to_start_cleanly(runtime: NodeRuntime, port: int) -> None:
    """A refused start leaves nothing behind: no admin socket, no pid file, the port free."""
    import socket

    assert not runtime.socket_path.exists() and not runtime.service.home.pid_path.exists()
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))


@pytest.mark.parametrize("fault, says", [
    ("expired", "expired on"),
    ("mismatch", "does not belong to the certificate"),
    ("missing", "does not exist"),
    ("not-yet", "is not valid before"),
    ("ca-missing", "config key tls_ca_file: the CA file"),
    ("ca-not-pem", "holds no usable PEM CA certificate"),
])
async def test_a_bad_certificate_or_key_refuses_the_start_naming_the_key_and_what_to_do(net: Net, tmp_path: Path, fault, says):
    ca = TestCA.create(tmp_path / "ca")
    good = await net.start("Youth Futures", **tls_fields(ca, "a"))  # positive control: the same setup starts
    port = good.service.config.listen_port
    home = Home(await net.stop(good))
    now = datetime.datetime.now(datetime.UTC)
    leaf = ca.issue("bad", LOCAL, **({"not_before": now - datetime.timedelta(days=60),
                                      "not_after": now - datetime.timedelta(days=1)} if fault == "expired" else
                                     {"not_before": now + datetime.timedelta(days=2)} if fault == "not-yet" else {}))
    config = replace(home.load_config(), tls_cert=str(leaf.cert), tls_key=str(leaf.key))
    if fault == "mismatch":
        config = replace(config, tls_key=str(ca.issue("other", LOCAL).key))
    if fault == "missing":
        config = replace(config, tls_key=str(tmp_path / "nowhere.key"))
    if fault.startswith("ca-"):
        (tmp_path / "junk.pem").write_text("not a certificate\n")
        config = replace(config, tls_ca_file=str(tmp_path / ("nowhere.pem" if fault == "ca-missing" else "junk.pem")))
    home.save_config(config)
    from node.core.service import NodeService

    service = NodeService.open(home.path)
    runtime = NodeRuntime(service)
    try:
        with pytest.raises(UserError) as refused:
            await runtime.start()
        message = str(refused.value)
        assert says in message and any(key in message for key in ("tls_cert", "tls_key", "tls_ca_file")), message
        _fails_to_start_cleanly(runtime, port)
    finally:
        service.close()


def test_tls_settings_are_checked_together():
    from node.config import Config

    base = dict(name="N", sector="nonprofit", listen_host="127.0.0.1", listen_port=8470, url="https://n.example")
    assert Config(**base, tls_cert="cert.pem", tls_key="key.pem").serves_tls  # type: ignore[arg-type]
    with pytest.raises(UserError, match="tls_cert is set but tls_key is not"):
        Config(**base, tls_cert="cert.pem")  # type: ignore[arg-type]
    with pytest.raises(UserError, match="url must be an https:// URL when tls_cert is set"):
        Config(**{**base, "url": "http://n.example"}, tls_cert="c.pem", tls_key="k.pem")  # type: ignore[arg-type]


async def test_an_https_url_is_never_tried_as_plain_http(net: Net, tmp_path: Path):
    """A card naming https:// for a node that serves plain HTTP (a proxy missing): the TLS handshake fails and is
    reported as such; the client does not fall back to http:// (positive control: the http:// URL works)."""
    ca = TestCA.create(tmp_path / "ca")
    plain = await net.start("Youth Futures", url="https://127.0.0.1:{port}")  # serves plain HTTP, claims https
    b = await net.start("Green Works", **tls_fields(ca, "b"))
    from node.core.pairing import accept_invite

    with pytest.raises(UserError) as refused:
        await accept_invite(b.federation, b.client, plain.federation.create_invite(600_000).encode())
    assert "the TLS handshake failed" in str(refused.value) and "serves HTTPS" in str(refused.value), str(refused.value)
    assert not b.federation.peers.is_trusted(plain.service.node_id)
    assert await health_over(plain.service.config.url.replace("https://", "http://"), False) == 200


async def test_stalled_tls_handshakes_count_against_the_caps_and_are_closed_within_the_read_timeout(net: Net, tmp_path: Path):
    """A client that opens TCP connections to a TLS node and never finishes the handshake holds slots of its
    address's cap from accept on (the next one is refused at once), and each is closed after ``read_timeout``
    (asyncio alone would wait 60 s and count nothing); another address is served meanwhile, over TLS."""
    import time

    from tests.node.test_connection_guard import closed_by_server

    ca = TestCA.create(tmp_path / "ca")
    node = await net.start("Youth Futures", max_connections_per_address=3, read_timeout=0.5, **tls_fields(ca, "a"))
    stalled = [await asyncio.open_connection("127.0.0.1", node.port) for _ in range(3)]
    stalled[0][1].write(b"\x16\x03\x01\x00\x50")  # the start of a ClientHello, and nothing more
    reader, writer = await asyncio.open_connection("127.0.0.1", node.port)  # the fourth from 127.0.0.1
    started = time.monotonic()
    assert await closed_by_server(reader, 5)
    assert time.monotonic() - started < 0.4  # refused at accept, not by the handshake timeout
    # Positive control: a second address completes a real TLS handshake and is answered while 127.0.0.1 is full.
    context = ssl.create_default_context(cafile=str(ca.cert_path))
    r2, w2 = await asyncio.open_connection("127.0.0.1", node.port, local_addr=("127.0.0.2", 0), ssl=context,
                                           server_hostname="127.0.0.1")
    w2.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert (await asyncio.wait_for(r2.read(), 5)).startswith(b"HTTP/1.1 200")
    w2.close()
    results = await asyncio.gather(*(closed_by_server(r, 5) for r, _ in stalled))
    assert all(results) and time.monotonic() - started < 4  # the 0.5 s handshake bound, not asyncio's 60 s
    # Their slots are free again: 127.0.0.1 is served.
    assert await health_over(node.service.config.url, context) == 200
    for _, w in [*stalled, (reader, writer)]:
        w.close()
