"""The federation HTTP API that peers talk to (aiohttp).

Hardening (THREATS rows 4, 6, 7, 8, 11, 20): a small ``client_max_size``; bodies read once with
``request.read()``; any ``Content-Encoding`` refused before the body is read; every request but
the card and health endpoints is signed by a trusted sender (``OrgNode`` request auth bound to
method, path, destination, time and body) and single-use; per-peer rate limits and graylisting;
every protocol error mapped to a stable code; unexpected exceptions answered with a generic 500
that carries no data. Endpoints: ``GET /.well-known/orgnode``, ``GET /health``,
``POST /federation/v1/pair``, ``POST /federation/v1/push``, ``POST /federation/v1/pull``,
``POST /federation/v1/want``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web

from node.core.clock import now_ms
from node.core.errors import StorageFull
from node.core.federation import Federation
from node.core.limits import PeerLimits, TokenBucket
from node.core.reshare_offers import WANT_PATH, serve_want
from node.http.errors import error_response
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import verify_bundle
from protocol.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from protocol.invite import PairRequest
from protocol.log import KeyPeriod
from protocol.page_seal import SEALED_PAGES_HEADER
from protocol.request_auth import RequestAuth, SeenNonces, parse_header, verify_request
from protocol.reshare_want import WantRequest
from protocol.versions import BASE_VERSION, FEATURES_HEADER, VERSIONS_HEADER, MessageSet
from storage import peers as P

MAX_REQUEST_BYTES = 256 * 1024
PULL_PATH = "/federation/v1/pull"
MAX_PAIRING_CARD_STATEMENTS = 16
# A peer's last contact is written at most once per this many ms (node clock): it is shown to the
# admin (`trust list`), and a write at every request was a transaction per catch-up page and per match.
CONTACT_RESOLUTION_MS = 1_000
MSGPACK = "application/msgpack"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class RateLimited(RemoteProtocolError):
    """``rate-limited``, with the seconds after which a retry can succeed (sent as ``Retry-After``)."""

    def __init__(self, detail: str, retry_after_s: float) -> None:
        super().__init__(E.RATE_LIMITED, detail)
        self.retry_after_s = retry_after_s


@dataclass
class FederationState:
    federation: Federation
    limits: PeerLimits = field(default_factory=PeerLimits)
    seen: SeenNonces = field(default_factory=SeenNonces)
    pairing_seen: SeenNonces = field(default_factory=lambda: SeenNonces(max_entries=10_000))
    pair_limit: TokenBucket = field(default_factory=lambda: TokenBucket(rate=1.0, burst=10.0))
    # Called with the origin of every authenticated request (the sync engine resets its backoff).
    on_contact: Callable[[bytes], None] = lambda origin: None
    # Called with the origin of a request whose signature failed under the key held for it: True if
    # a longer key history carrying ours on was learnt from its card (node/core/key_refresh.py).
    learn_rotations: Callable[[bytes], Awaitable[bool]] | None = None


STATE = web.AppKey("federation_state", FederationState)
BODY_TIMEOUT = web.AppKey("body_timeout", float)


def identity_encoded(request: web.Request) -> bool:
    """True if every ``Content-Encoding`` header, and every coding listed in each, is ``identity``.

    All headers are read (``getall``), not only the first: ``identity`` followed by a second ``gzip``
    header would otherwise slip a compressed body past the check into aiohttp's decompressor.
    """
    for header in request.headers.getall("Content-Encoding", []):
        for coding in header.split(","):
            if coding.strip().lower() not in ("", "identity"):
                return False
    return True


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.content_length is not None and request.content_length > MAX_REQUEST_BYTES:
        return error_response(E.TOO_LARGE, f"request body larger than {MAX_REQUEST_BYTES} bytes", 413)
    if not identity_encoded(request):
        return error_response(E.MALFORMED, "Content-Encoding is not accepted on the federation API", 415)
    if request.can_read_body:
        try:  # a body still arriving after the timeout is a slowloris: drop the connection
            async with asyncio.timeout(request.app.get(BODY_TIMEOUT, 10.0)):
                await request.read()  # cached: handlers' own read() returns it
        except TimeoutError:
            if request.transport is not None:
                request.transport.abort()
            raise web.HTTPRequestTimeout() from None
    if request.method != "GET":  # may write: wait on the loop for a transaction running off it (node/core/off_loop_writes.py)
        await request.app[STATE].federation.writes.wait()
    try:
        return await handler(request)
    except StorageFull:  # our disk, not the peer's fault and not a bug: it retries later (DiskWatch logged it)
        return error_response(E.DISK_FULL, "this node's disk is full; nothing was stored; retry later", 507)
    except LocalProtocolError as exc:  # our bug: never answered to the peer as if it were its fault
        log_event("federation.bug", logging.ERROR, path=request.path, code=exc.code)
        return error_response("internal", "internal error; the node keeps serving", 500)
    except ProtocolError as exc:  # the peer's fault (RemoteProtocolError): tell it the code
        log_event("federation.refused", logging.WARNING, path=request.path, code=exc.code)
        response = error_response(exc.code, exc.detail)
        if isinstance(exc, RateLimited):  # whole seconds, rounded up (RFC 9110 10.2.3)
            response.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after_s)))
        return response
    except web.HTTPException:
        raise
    except Exception as exc:
        log_event("federation.error", logging.ERROR, path=request.path, error=type(exc).__name__)
        return error_response("internal", "internal error; the node keeps serving", 500)


async def authenticate(request: web.Request) -> tuple[bytes, bytes]:
    """Read the body and check the request is signed, fresh, unique and from a trusted, unthrottled peer.
    Endpoints other than push and pull are version 1 only (docs/protocol.md 1.1)."""
    origin, body, _ = await _authenticate(request, (BASE_VERSION,))
    return origin, body


async def authenticate_sync(request: web.Request) -> tuple[bytes, bytes, MessageSet]:
    """``authenticate`` for push and pull: any version this node speaks; its message set decodes the
    body and encodes the answer (an answer is in the version it was asked in)."""
    versions = request.app[STATE].federation.service.versions
    continuation = None
    if request.path == PULL_PATH:
        def continuation(origin: bytes, body: bytes, version: int) -> bool:
            return request.app[STATE].federation.continues_pull(origin, versions.get(version).decode_pull(body))
    origin, body, version = await _authenticate(request, versions.supported, continuation)
    return origin, body, versions.get(version)


async def _authenticate(request: web.Request, supported: tuple[int, ...],
                        continuation: Callable[[bytes, bytes, int], bool] | None = None) -> tuple[bytes, bytes, int]:
    """``continuation``: for a pull, whether it asks for the next page of a catch-up we are serving
    (``Federation.continues_pull``): such a request is let through when the peer's request bucket is
    empty, after its signature is checked (its work is bounded by our log, not by the rate)."""
    state = request.app[STATE]
    federation = state.federation
    # The version is read first: one this endpoint does not speak is refused before the body.
    auth = parse_header(request.headers.get("Authorization"), supported)
    peer = federation.peers.get(auth.origin)
    if peer is None or peer.state != P.TRUSTED:
        raise RemoteProtocolError(E.UNTRUSTED_SENDER, "this node does not trust the sender")
    # Two clocks: the request's receive time (wall clock: signed timestamps are judged against the
    # other node's clock) and the node's clock (``federation.clock``), which throttles were recorded with.
    now, node_now = now_ms(), federation.clock()
    if peer.throttled_until > node_now:
        raise RateLimited("too much invalid data from this peer; slow down", retry_after_s=(peer.throttled_until - node_now) / 1000)
    over_rate = not state.limits.allow(auth.origin, time.monotonic())
    if over_rate and continuation is None:
        raise RateLimited("too many requests from this peer; slow down", state.limits.retry_after(auth.origin))
    body = await request.read()
    history = federation.service.log.key_history(auth.origin)
    if history is None:
        raise RemoteProtocolError(E.UNKNOWN_KEY, "no key known for the sender")
    # A request that fails here is not attributable to the origin it names (anyone can forge the
    # header, replay a captured request, or aim one signed for another node), so it is refused without
    # touching that peer's score: otherwise a third party could get an honest peer graylisted.
    try:
        verify_request(auth, method=request.method, path=request.path, body=body, me=federation.me,
                       origin_key=history.current_key, now=now)
    except RemoteProtocolError as exc:
        # A peer that rotated signs with a key we may not hold yet: learn its rotations from its card
        # (signed by the key we hold, docs/protocol.md 12.3), then check once more under the new
        # current key only. A rotated-away key, or a forgery, stays refused.
        if exc.code != E.BAD_SIGNATURE:
            raise
        if _signed_by_a_rotated_away_key(auth, request.method, request.path, body, federation.me, history.periods[:-1], now):
            raise RemoteProtocolError(E.BAD_SIGNATURE, "the request is signed by a rotated-away key of the sender") from None
        if state.learn_rotations is None or not await state.learn_rotations(auth.origin):
            raise
        learnt = federation.service.log.key_history(auth.origin)
        assert learnt is not None
        verify_request(auth, method=request.method, path=request.path, body=body, me=federation.me,
                       origin_key=learnt.current_key, now=now)
    if over_rate and not (continuation is not None and continuation(auth.origin, body, auth.version)):
        raise RateLimited("too many requests from this peer; slow down", state.limits.retry_after(auth.origin))
    state.seen.check_and_add(auth, now)
    federation.health.request_clock(auth.origin, auth.ts - now, node_now)
    if peer.last_contact is None or not 0 <= node_now - peer.last_contact < CONTACT_RESOLUTION_MS:
        federation.peers.touch(auth.origin, node_now)  # a write per request was the most of a catch-up page's bookkeeping
    state.on_contact(auth.origin)
    return auth.origin, body, auth.version


MAX_OLD_KEYS_TRIED = 4


def _signed_by_a_rotated_away_key(auth: RequestAuth, method: str, path: str, body: bytes, me: bytes,
                                  old: tuple[KeyPeriod, ...], now: int) -> bool:
    """True if one of the sender's last rotated-away keys signed the request: a request still in
    flight from before its rotation, or a stolen old key. Its card would teach nothing, so it is
    refused without a fetch (and without delaying the next one, node/core/key_refresh.py)."""
    for period in old[-MAX_OLD_KEYS_TRIED:]:
        try:
            verify_request(auth, method=method, path=path, body=body, me=me, origin_key=period.key, now=now)
        except RemoteProtocolError:
            continue
        return True
    return False


async def well_known(request: web.Request) -> web.Response:
    return web.Response(body=request.app[STATE].federation.service.card_bundle(), content_type=MSGPACK)


async def health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "node_id": request.app[STATE].federation.me.hex()})


async def pair(request: web.Request) -> web.Response:
    """Invite acceptance: the invitee proves the secret, signs the request, and sends its card."""
    state = request.app[STATE]
    federation = state.federation
    # Strangers reach this endpoint: refuse floods before any decoding or cryptography, and look the
    # invite up (cheap) before verifying anything (THREATS row 20; the invite handshake is unauthenticated).
    if not state.pair_limit.take(time.monotonic()):
        raise RemoteProtocolError(E.RATE_LIMITED, "too many pairing attempts; try again in a minute")
    auth = parse_header(request.headers.get("Authorization"))
    body = await request.read()
    pair_request = PairRequest.decode(body)
    if federation.peers.invite(pair_request.invite_id) is None:
        raise RemoteProtocolError(E.BAD_INVITE, "unknown invite: it was never issued by this node")
    verified = verify_bundle(pair_request.card_bundle, expected_node_id=auth.origin)
    if len(verified.statements) > MAX_PAIRING_CARD_STATEMENTS:
        raise RemoteProtocolError(E.TOO_LARGE, f"a pairing card bundle carries at most {MAX_PAIRING_CARD_STATEMENTS} statements")
    now = now_ms()  # the request's receive time: signed timestamps are judged on the wall clock
    verify_request(auth, method=request.method, path=request.path, body=body, me=federation.me,
                   origin_key=verified.history.current_key, now=now)
    state.pairing_seen.check_and_add(auth, now)  # strangers get their own replay cache: they cannot flush peers'
    federation.accept_pair(auth.origin, pair_request, verified)
    state.on_contact(auth.origin)
    return web.Response(body=federation.service.card_bundle(), content_type=MSGPACK)


async def push(request: web.Request) -> web.Response:
    origin, body, messages = await authenticate_sync(request)
    results = request.app[STATE].federation.take_batch(origin, messages.decode_batch(body))
    return web.Response(body=messages.encode_results(results), content_type=MSGPACK)


async def pull(request: web.Request) -> web.Response:
    origin, body, messages = await authenticate_sync(request)
    paged = request.headers.get(SEALED_PAGES_HEADER) == "1"  # the asker takes sealed pages (protocol.md 13.8)
    batch = request.app[STATE].federation.serve_pull(origin, messages.decode_pull(body), paged=paged)
    return web.Response(body=messages.encode_batch(batch), content_type=MSGPACK)


async def want(request: web.Request) -> web.Response:
    """Lazy re-sharing (docs/protocol.md 14.2): bodies of our own re-shares the asker was offered."""
    origin, body = await authenticate(request)
    batch = serve_want(request.app[STATE].federation, origin, WantRequest.decode(body))
    return web.Response(body=batch.encode(), content_type=MSGPACK)


async def advertise_versions(request: web.Request, response: web.StreamResponse) -> None:
    """Every federation answer, errors and 404s included, names the versions and features this node speaks."""
    if STATE in request.app:
        versions = request.app[STATE].federation.service.versions
        response.headers[VERSIONS_HEADER] = versions.header_value()
        if versions.features:
            response.headers[FEATURES_HEADER] = versions.features_value()


ROUTES: list[tuple[str, str, Handler]] = [
    ("GET", "/.well-known/orgnode", well_known),
    ("GET", "/health", health),
    ("POST", "/federation/v1/pair", pair),
    ("POST", "/federation/v1/push", push),
    ("POST", "/federation/v1/pull", pull),
    ("POST", WANT_PATH, want),
]


def create_app(state: FederationState, extra_routes: list[tuple[str, str, Handler]] | None = None) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES, middlewares=[guard])
    app[STATE] = state
    app.on_response_prepare.append(advertise_versions)
    for method, path, handler in [*ROUTES, *(extra_routes or [])]:
        app.router.add_route(method, path, handler)
    return app
