"""Security pass 16: referral corrections, staff names, stages and the dashboard port, attacked on
real nodes (real HTTP on 127.0.0.1, real SQLite, real crypto). Each test states the secure behaviour
and fails on the code before its fix. See docs/security.md, "Security pass 16".
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import aiohttp
import pytest

from node.core import accounts as accounts_module
from node.core.errors import UserError
from node.web.app import CSP, SECURITY_HEADERS
from protocol import audit
from protocol.corrections import ReferralCorrection
from tests.node.federation_helpers import checkpoint_held, head, health, synced, wait_until
from tests.node.test_referral_stages import referred, status_at
from tests.web.helpers import PASSWORD, Browserless, add_user, dashboard_url


def steps(node: Any, rid: bytes) -> list[str]:
    return [e.status for e in node.talent.store.events(rid)]


async def hired_then_erased(net: Any) -> tuple[Any, Any, bytes]:
    """Northwind hired Youth Futures' candidate, then the candidate was erased at Youth Futures (their
    consent withdrawn): both nodes hold the referral as ``hired`` (an outcome is terminal: the
    withdrawal moves no status) with its profile erased at Northwind."""
    corp, youth, rid = await referred(net)
    corp.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the hire at the referrer")
    youth.talent.erase_candidate(youth.talent.store.referral(rid).candidate_id)
    await wait_until(lambda: not list(corp.service.db.query("SELECT 1 FROM received_profiles WHERE referral_id = ?", [rid])),
                     what="the withdrawal to erase the profile at the job's organization")
    return corp, youth, rid


async def test_a_correction_cannot_reopen_the_referral_of_a_candidate_who_withdrew(net):
    """Found by probing: after the candidate withdrew (and was erased), the job's organization corrected
    the hire to ``in_process`` and then hired the erased person again; the referrer followed both,
    counting a hire of someone who had withdrawn. Now the job's node signs nothing, and the referrer
    ignores a correction signed by hand."""
    corp, youth, rid = await hired_then_erased(net)
    own = head(corp, corp)
    with pytest.raises(UserError, match=r"withdrew their consent .*nothing was signed"):
        corp.talent.correct_referral(rid, "in_process", "clicked the wrong candidate")
    assert head(corp, corp) == own and status_at(corp, rid) == "hired"
    # A hostile (or older) job's node signs the correction anyway: the referrer ignores it.
    hired = corp.talent.store.events(rid)[-1].statement_id
    fix = ReferralCorrection(rid, hired, "in_process", "clicked the wrong candidate")
    statement = corp.talent._send(ReferralCorrection.KIND, fix.to_value(), youth.service.node_id, corp.talent.store.referral(rid).job_id)
    await synced(youth, corp)
    assert youth.service.log.find(statement.id) is not None  # it arrived and is kept as evidence
    assert status_at(youth, rid) == "hired" and steps(youth, rid) == ["sent", "received", "hired"]
    # The auditor fails it too: the correction follows the withdrawal in the signed record.
    await checkpoint_held(corp, youth)
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert not report.valid and report.failed is not None and report.failed.check == "lifecycle", report.failed
    assert report.failed.detail.startswith("a correction signed after the candidate withdrew consent"), report.failed


async def test_positive_control_the_same_correction_applies_while_consent_stands(net):
    corp, youth, rid = await referred(net)
    corp.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the hire at the referrer")
    corp.talent.correct_referral(rid, "in_process", "clicked the wrong candidate")
    await wait_until(lambda: status_at(youth, rid) == "in_process", what="the correction at the referrer")
    assert steps(youth, rid) == ["sent", "received", "hired", "in_process"]
    await checkpoint_held(corp, youth)
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert report.valid, report.failed  # the audit's control: a correction before any withdrawal passes


async def raw_answer(url: str, request: bytes) -> tuple[int, dict[str, str]]:
    """Send ``request`` as raw bytes to the server at ``url``; the status and headers it answered with."""
    host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    finally:
        writer.close()
    headers = dict(line.split(": ", 1) for line in head[1:] if ": " in line)
    return int(head[0].split()[1]), headers


@pytest.mark.parametrize("request_bytes", [
    b"BREW\x01 / HTTP/1.1\r\nHost: x\r\n\r\n",  # a method the parser refuses
    b"GET / HTTP/1.1\r\nHost: x\r\nX: " + b"a" * 9000 + b"\r\n\r\n",  # a header over the parser's limit
    b"POST /login HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  # smuggling shape
], ids=["bad-method", "long-header", "length-and-chunked"])
async def test_the_dashboards_answers_to_unparsable_requests_carry_its_security_headers(net, request_bytes):
    """Found by probing: a request the HTTP parser refuses never reaches the dashboard's middleware, so
    its 400 came without the Content-Security-Policy, nosniff and frame headers every other answer has."""
    node = await net.start("Northwind", sector="company")
    url = dashboard_url(node)
    status, headers = await raw_answer(url, b"GET /nope HTTP/1.1\r\nHost: x\r\n\r\n")  # positive control: the app's 404
    assert headers.get("Content-Security-Policy") == CSP, (status, headers)
    status, headers = await raw_answer(url, request_bytes)
    assert status == 400 and headers.get("Content-Type", "").startswith("application/json"), (status, headers)
    assert {k: headers.get(k) for k in SECURITY_HEADERS} == SECURITY_HEADERS
    # The federation port answers the same request in its own JSON form, without the dashboard's headers.
    status, headers = await raw_answer(f"http://127.0.0.1:{node.port}/", request_bytes)
    assert status == 400 and "Content-Security-Policy" not in headers


class GatedHasher:
    """The real argon2 hasher whose ``verify`` waits for the test to open ``gate`` (20 s at most, then it
    goes on and notes that nobody opened it: on the event loop, nobody can) and counts its calls."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.gate = threading.Event()
        self.calls = 0
        self.gate_never_opened = False

    def verify(self, encoded: str, password: str) -> bool:
        self.calls += 1
        if not self.gate.wait(20):
            self.gate_never_opened = True
        return bool(self.real.verify(encoded, password))

    def hash(self, password: str) -> str:
        return str(self.real.hash(password))


def from_source(http_for: dict[str, aiohttp.ClientSession], source: str) -> aiohttp.ClientSession:
    """A client whose connections come from ``source`` (any 127.0.0.0/8 address is this host's)."""
    if source not in http_for:
        http_for[source] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(source, 0)))
    return http_for[source]


async def test_a_flood_of_sign_ins_cannot_hold_the_nodes_event_loop(net, monkeypatch):
    """Found by probing: the dashboard checked each password (argon2, ~0.2 s of CPU here) on the event
    loop. A local user signing in with a new name from a new 127.0.0.x address for every few attempts
    (the per-address limit never bit) froze `/health` on the federation port for 19 s with 35 addresses,
    and for as long as it went on. Now the check runs in one worker thread: the node answers while a
    check waits, and sign-ins beyond MAX_WAITING_CHECKS waiting at once are refused (429) unhashed."""
    node = await net.start("Northwind", sector="company")
    add_user(node, "ada", "admin")
    gated = GatedHasher(accounts_module._hasher)
    monkeypatch.setattr(accounts_module, "_hasher", gated)
    url = dashboard_url(node)
    sessions: dict[str, aiohttp.ClientSession] = {}
    try:
        async def sign_in(source: str, name: str, password: str) -> int:
            return await Browserless(from_source(sessions, source), url, {}).sign_in(name, password)

        first = asyncio.create_task(sign_in("127.0.0.2", "guess-0", "wrong password"))
        await wait_until(lambda: gated.calls == 1, timeout=30, what="the first password check to start")
        assert await health(node)
        assert not gated.gate_never_opened  # the node answered while the check still waited (on the loop: after it)
        waiting = [asyncio.create_task(sign_in(f"127.0.0.{3 + i}", f"guess-{i + 1}", "wrong password"))
                   for i in range(accounts_module.MAX_WAITING_CHECKS - 1)]
        await wait_until(lambda: node.accounts._waiting == accounts_module.MAX_WAITING_CHECKS,
                         what="every check slot taken")
        assert await sign_in("127.0.0.20", "guess-x", "wrong password") == 429  # refused at once, not hashed
        assert gated.calls == 1
        gated.gate.set()
        assert [await t for t in [first, *waiting]] == [401] * accounts_module.MAX_WAITING_CHECKS
        assert not gated.gate_never_opened and gated.calls == accounts_module.MAX_WAITING_CHECKS
        assert await sign_in("127.0.0.21", "ada", PASSWORD) == 303  # positive control: the right password signs in
    finally:
        gated.gate.set()
        for session in sessions.values():
            await session.close()


async def test_a_sign_in_body_trickled_in_is_cut_after_the_read_timeout(net):
    """Found by probing: the sign-in form's body (any stranger may post it) had no read timeout on the
    dashboard port, unlike the federation port's: one byte a second held a connection for good, and
    32 per address, 128 in all (a handful of 127.0.0.x addresses) locked staff out of the dashboard.
    Now the body must arrive within ``read_timeout``, else the connection is dropped."""
    node = await net.start("Northwind", sector="company", read_timeout=0.5)
    add_user(node, "ada", "admin")
    host, port = dashboard_url(node).split("//")[1].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(f"POST /login HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     "Content-Length: 1000\r\n\r\nname=a".encode())
        await writer.drain()
        # The node ends the connection (with or without a 408); before, it waited for the rest for ever.
        answer = await asyncio.wait_for(reader.read(), timeout=30)
        assert answer == b"" or answer.startswith(b"HTTP/1.1 408"), answer[:80]
    finally:
        writer.close()
    async with aiohttp.ClientSession() as http:  # positive control: a whole sign-in is read and signs in
        assert await Browserless(http, dashboard_url(node), {}).sign_in("ada", PASSWORD) == 303
