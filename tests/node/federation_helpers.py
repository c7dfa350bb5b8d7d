"""Helpers for the federation tests: real nodes on 127.0.0.1, real pairing, raw signed requests.

Nothing here replaces a component of orgnode: ``Net`` starts real ``NodeRuntime``s over real homes
(SQLite files in tmp_path), ``pair`` runs the real invite/accept flow over HTTP, and
``signed_post`` signs requests with ``protocol.request_auth`` exactly as a peer would (or, for the
attack tests, with a chosen identity, time, nonce or header).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import aiohttp.web

from node.core.clock import now_ms
from node.core.pairing import accept_invite
from node.core.restore import signing_paused
from node.core.service import NodeService
from node.home import Config, Home
from node.runtime import NodeRuntime
from protocol.bodies import Note
from protocol.identity import Identity
from protocol.invite import InviteToken
from protocol.request_auth import sign_request
from protocol.statement import Envelope, Statement, sign_statement
from protocol.sync import Batch, PushResults
from protocol.versions import Versions
from tests.conftest import free_port

PUSH = "/federation/v1/push"
PULL = "/federation/v1/pull"
PAIR = "/federation/v1/pair"


class Net:
    """A set of real nodes for one test; every node started here is stopped and closed at the end."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runtimes: list[NodeRuntime] = []

    async def start(
        self, name: str, *, sync_interval: float = 0.3, retry_base: float = 0.2, retry_cap: float = 1.0, sector: str = "nonprofit",
        url: str | None = None, versions: Versions | None = None, **config_fields: Any,
    ) -> NodeRuntime:
        """``url``: the public URL in the node's card (default: its listen address; ``{port}`` in it is replaced by the
        port chosen here, e.g. ``https://localhost:{port}``); ``versions``: the protocol versions it speaks (default:
        this code's); ``config_fields`` override other ``Config`` fields (e.g. ``allow_private_peers=False``)."""
        port = free_port()
        home = Home(self.root / name.lower().replace(" ", "-"))
        extra: dict[str, Any] = {"lan_advertise": False, "allow_private_peers": True, **config_fields}  # 127.0.0.x, no mDNS
        scheme = "https" if config_fields.get("tls_cert") else "http"  # a node serving TLS publishes https://
        config = Config(name, sector, "127.0.0.1", port, (url or f"{scheme}://127.0.0.1:{port}").replace("{port}", str(port)),
                        sync_interval=sync_interval, retry_base=retry_base, retry_cap=retry_cap, **extra)
        home.create(config, Identity.from_random(os.urandom), None)
        service = NodeService.open(home.path)
        if versions is not None:
            service.versions = versions
        service.publish_org_card()
        return await self._run(service)

    async def _run(self, service: NodeService) -> NodeRuntime:
        runtime = NodeRuntime(service)
        await runtime.start()
        self.runtimes.append(runtime)
        return runtime

    async def stop(self, runtime: NodeRuntime) -> Path:
        """Stop a node cleanly and close its database; returns its home for ``restart``."""
        await runtime.stop()
        runtime.service.close()
        self.runtimes.remove(runtime)
        return runtime.service.home.path

    async def halt(self, runtime: NodeRuntime) -> None:
        """Stop a node's servers and sync but keep its database open (its identity and log stay usable)."""
        await runtime.stop()

    async def restart(self, home: Path, versions: Versions | None = None, *, confirmed: bool = True) -> NodeRuntime:
        """A fresh process-like start over an existing home: new service, new runtime, same port
        (``versions``: as in ``start``, e.g. the same home restarted by an older release).
        ``confirmed``: wait, like an admin request does, until its partners confirmed its own log (the
        start check, node/core/restore.py); False to see the node while it still waits."""
        service = NodeService.open(home)
        if versions is not None:
            service.versions = versions
        runtime = await self._run(service)
        if confirmed:
            await wait_until(lambda: not signing_paused(runtime.federation), what="the node to confirm its own log with its partners")
        return runtime

    async def close(self) -> None:
        for runtime in reversed(list(self.runtimes)):
            await self.stop(runtime)


async def wait_until(cond: Callable[[], Any], timeout: float = 5.0, interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``cond`` (sync) until it returns something truthy; fail with ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)


class FakeClock:
    """A node clock a test moves by hand (``NodeService.clock``): ``advance`` instead of sleeping.
    ``follow_wall`` keeps it ticking with the wall clock from an offset (for loops that sleep until a
    deadline on the node's clock)."""

    def __init__(self, start: int | None = None, *, follow_wall: bool = False) -> None:
        self.offset = 0
        self.start = now_ms() if start is None else start
        self.follow_wall = follow_wall

    def __call__(self) -> int:
        return (now_ms() if self.follow_wall else self.start) + self.offset

    def advance(self, ms: int) -> int:
        self.offset += ms
        return self()


def seeded_random(seed: bytes) -> Callable[[int], bytes]:
    """A deterministic random source (SHA-256 in counter mode over ``seed``) for ``NodeService.random``."""
    counter = [0]

    def random_bytes(n: int) -> bytes:
        out = b""
        while len(out) < n:
            out += hashlib.sha256(seed + counter[0].to_bytes(8, "big")).digest()
            counter[0] += 1
        return out[:n]

    return random_bytes


async def pair(inviter: NodeRuntime, invitee: NodeRuntime, ttl_ms: int = 600_000) -> InviteToken:
    """The real invite flow: the inviter makes a token, the invitee accepts it over HTTP."""
    token = inviter.federation.create_invite(ttl_ms)
    await accept_invite(invitee.federation, invitee.client, token.encode())
    assert inviter.federation.peers.is_trusted(invitee.service.node_id)
    assert invitee.federation.peers.is_trusted(inviter.service.node_id)
    return token


def head(holder: NodeRuntime, author: NodeRuntime | bytes) -> int:
    author_id = author if isinstance(author, bytes) else author.service.node_id
    return holder.service.log.head(author_id).seq


async def synced(holder: NodeRuntime, author: NodeRuntime, timeout: float = 5.0) -> None:
    """Wait until ``holder`` holds all of ``author``'s log."""
    want = head(author, author)
    await wait_until(lambda: head(holder, author) >= want, timeout, what=f"{holder.service.config.name} to hold {want} of "
                     f"{author.service.config.name}'s statements")


def note(identity: Identity, seq: int, prev: bytes | None, text: str, hops: int = 1) -> Statement:
    """A statement crafted directly with an identity object (honest or not): a private note, plain content."""
    return sign_statement(identity, kind=Note.KIND, seq=seq, prev=prev, now=now_ms(), body=Note(text, hops).to_value(),
                          private=True, salt=os.urandom(32))


def next_notes(runtime: NodeRuntime, texts: list[str], identity: Identity | None = None) -> list[Statement]:
    """Notes continuing ``runtime``'s own log as it stands, crafted (not appended there)."""
    last = runtime.service.log.head(runtime.service.node_id)
    ident = identity or runtime.service.identity
    out: list[Statement] = []
    seq, prev = last.seq, last.id
    for text in texts:
        seq += 1
        statement = note(ident, seq, prev, text)
        out.append(statement)
        prev = statement.id
    return out


def batch_of(*items: Statement | bytes) -> bytes:
    return Batch(tuple(i if isinstance(i, bytes) else Envelope.of(i).encode() for i in items)).encode()


@dataclass
class Answer:
    status: int
    body: bytes
    auth: str

    @property
    def error(self) -> str | None:
        import json

        try:
            value = json.loads(self.body)
        except ValueError:
            return None
        return value.get("error") if isinstance(value, dict) else None

    def results(self) -> list[str]:
        assert self.status == 200, (self.status, self.body[:200])
        return [r.outcome for r in PushResults.decode(self.body).results]


def auth_header(identity: Identity, destination: bytes, path: str, body: bytes, *, ts: int | None = None,
                nonce: bytes | None = None) -> str:
    return sign_request(identity, method="POST", path=path, destination=destination, body=body,
                        now=now_ms() if ts is None else ts, nonce=nonce or os.urandom(16)).header_value()


async def signed_post(
    target: NodeRuntime, path: str, body: bytes, identity: Identity | None = None, *, destination: bytes | None = None,
    ts: int | None = None, nonce: bytes | None = None, auth: str | None = None, headers: dict[str, str] | None = None,
) -> Answer:
    """POST to ``target``'s federation port, signed by ``identity`` for ``destination`` (default: the target)."""
    if auth is None and identity is not None:
        auth = auth_header(identity, destination or target.service.node_id, path, body, ts=ts, nonce=nonce)
    all_headers = {"Content-Type": "application/msgpack", **({"Authorization": auth} if auth else {}), **(headers or {})}
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with session.post(f"http://127.0.0.1:{target.port}{path}", data=body, headers=all_headers) as resp:
            return Answer(resp.status, await resp.read(), auth or "")


async def push(sender: NodeRuntime | Identity, target: NodeRuntime, *items: Statement | bytes) -> Answer:
    identity = sender if isinstance(sender, Identity) else sender.service.identity
    return await signed_post(target, PUSH, batch_of(*items), identity)


async def health(target: NodeRuntime) -> bool:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{target.port}/health") as resp:
            return resp.status == 200 and (await resp.json())["status"] == "ok"


def ids_from(runtime: NodeRuntime, author: NodeRuntime | bytes) -> list[bytes]:
    author_id = author if isinstance(author, bytes) else author.service.node_id
    return [bytes(r["id"]) for r in runtime.service.db.query("SELECT id FROM entries WHERE author = ? ORDER BY seq", [author_id])]


def db_bytes(home: Path) -> bytes:
    """Every byte SQLite keeps for a home's database: the main file, its WAL and any journal."""
    out = b""
    for suffix in ("", "-wal", "-journal", "-shm"):
        path = home / f"orgnode.db{suffix}"
        if path.exists():
            out += path.read_bytes()
    return out


def integrity_ok(db_path: Path) -> bool:
    with sqlite3.connect(db_path) as conn:
        return bool(conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok")


async def checkpoint_held(signer: NodeRuntime, holder: NodeRuntime, *, timeout: float = 30) -> None:
    """``signer`` signs a checkpoint now and ``holder`` is waited for until it holds it (or a later one).

    Waits on the checkpoint's own size, not on one covering the signer's head: a timer's ``witness``
    may follow the checkpoint, and no later checkpoint would then ever cover that head."""
    size = signer.provenance.checkpoint(force=True).seq - 1  # a checkpoint covers the log before it (protocol.md 18.1)
    signer_id = signer.service.node_id
    await wait_until(lambda: (holder.provenance.latest_checkpoint(signer_id) or (None, None))[1] is not None
                     and holder.provenance.latest_checkpoint(signer_id)[1].size >= size,
                     timeout=timeout, what="the signer's new checkpoint at the holder")


async def referred_then_partner_down(net: Net) -> tuple[NodeRuntime, NodeRuntime, Any, FakeClock]:
    """Youth Futures referred a consented candidate to Northwind's job, then Northwind stopped.
    Returns (youth, corp, candidate, clock): youth's clock is a ``FakeClock`` following the wall;
    advance it past 10 s (youth's ``unreachable_warn_after``) for Northwind to count as unreachable."""
    youth = await net.start("Youth Futures", sector="nonprofit", sync_interval=600, retry_base=600, retry_cap=600,
                            unreachable_warn_after=10)
    corp = await net.start("Northwind", sector="company", sync_interval=600, retry_base=600, retry_cap=600)
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="job delivered")
    candidate, _ = youth.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["driving"],
                                              consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals(), what="referral at the company")
    clock = FakeClock(follow_wall=True)
    youth.service.clock = clock
    await net.stop(corp)
    return youth, corp, candidate, clock


async def referred(net: Net, corp: NodeRuntime, youth_name: str = "Youth Futures",
                   youth_versions: Versions | None = None) -> tuple[NodeRuntime, bytes]:
    """A nonprofit named ``youth_name`` (speaking ``youth_versions``: default this code's), paired with
    ``corp``, referred a consented candidate (Ada Lovelace) to a new job of corp's. Returns (youth, the
    referral id) once the referral arrived and corp has heard youth's features (so corp's replies may use them)."""
    youth = await net.start(youth_name, sector="nonprofit", versions=youth_versions)
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="the job at the partner")
    candidate, _ = youth.talent.add_candidate(name="Ada Lovelace", email="ada@example.org", skills=["driving"],
                                              consent=["refer"], consent_scope="all", consent_evidence="form")
    rid = bytes.fromhex(youth.talent.refer(candidate.candidate_id, job.job_id)["id"])
    await wait_until(lambda: corp.talent.store.referral(rid) is not None, what="the referral to arrive")
    await wait_until(lambda: youth.service.node_id in corp.service.peer_features, what="corp to hear the partner")
    return youth, rid


class HeldPeer:
    """A hand-built peer: a real aiohttp server on 127.0.0.1:``port`` answering POSTs to ``path`` with
    ``respond()`` (a subclass's answer: forged, stalled, a halted node's genuine one) once the test
    sets ``release``. ``arrived`` is set when a request came, ``answered`` once it was answered."""

    def __init__(self, port: int, path: str, *, released: bool) -> None:
        self.port, self.path = port, path
        self.arrived, self.release = asyncio.Event(), asyncio.Event()
        if released:
            self.release.set()
        self.answered = False

    def respond(self) -> aiohttp.web.Response:
        raise NotImplementedError

    async def _handle(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        await request.read()
        self.arrived.set()
        await self.release.wait()
        self.answered = True
        return self.respond()

    async def __aenter__(self) -> Any:
        app = aiohttp.web.Application()
        app.router.add_post(self.path, self._handle)
        self.runner = aiohttp.web.AppRunner(app)
        await self.runner.setup()
        await aiohttp.web.TCPSite(self.runner, "127.0.0.1", self.port).start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()
        await self.runner.cleanup()
