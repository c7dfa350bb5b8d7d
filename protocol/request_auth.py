"""Authenticating one HTTP request between nodes (after Matrix's X-Matrix scheme).

The sender signs, with its current Ed25519 key, the exact bytes
``REQUEST_SIG_TAG || msgpack([method, path, origin, destination, ts, nonce, sha256(body)])``
and sends them in ``Authorization: OrgNode v=1,origin=..,dest=..,ts=..,nonce=..,sig=..``.
Binding the destination stops a request for B being replayed to C; the timestamp bounds the
window in which it is fresh; the nonce, remembered by the receiver for that window, makes it
single-use (THREATS rows 4 and 6).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Collection
from dataclasses import dataclass

from protocol.codec import encode
from protocol.errors import (
    MALFORMED,
    REPLAY,
    STALE,
    UNKNOWN_VERSION,
    WRONG_RECIPIENT,
    RemoteProtocolError,
)
from protocol.identity import Identity, verify_ed25519
from protocol.strict_text import TextFormatError, decode_base64url, parse_decimal, parse_hex

REQUEST_SIG_TAG = b"orgnode/request/v1\x00"
SCHEME = "OrgNode"
FRESHNESS_MS = 5 * 60 * 1000
NONCE_LEN = 16
MAX_HEADER_LEN = 512


@dataclass(frozen=True, slots=True)
class RequestAuth:
    origin: bytes
    destination: bytes
    ts: int
    nonce: bytes
    signature: bytes
    # The protocol version of the request and its body (section 1.1): the message set it is in.
    version: int = 1

    def header_value(self) -> str:
        sig = base64.urlsafe_b64encode(self.signature).decode().rstrip("=")
        return f"{SCHEME} v={self.version},origin={self.origin.hex()},dest={self.destination.hex()},ts={self.ts},nonce={self.nonce.hex()},sig={sig}"


def signed_bytes(method: str, path: str, origin: bytes, destination: bytes, ts: int, nonce: bytes, body: bytes) -> bytes:
    return REQUEST_SIG_TAG + encode([method.upper(), path, origin, destination, ts, nonce, hashlib.sha256(body).digest()])


def sign_request(identity: Identity, *, method: str, path: str, destination: bytes, body: bytes, now: int, nonce: bytes,
                 version: int = 1) -> RequestAuth:
    """Sign a request; ``nonce`` is 16 random bytes from the caller; ``version`` is sent as ``v=``."""
    if len(nonce) != NONCE_LEN:
        raise RemoteProtocolError(MALFORMED, "nonce must be 16 bytes")
    signature = identity.sign(signed_bytes(method, path, identity.node_id, destination, now, nonce, body))
    return RequestAuth(identity.node_id, destination, now, nonce, signature, version)


def parse_header(value: str | None, supported: Collection[int] = (1,)) -> RequestAuth:
    """Parse the ``Authorization`` header; ``v`` must be one of the ``supported`` versions of this
    endpoint (``unknown-version`` otherwise: only push and pull are negotiated, section 1.1)."""
    if not value:
        raise RemoteProtocolError(MALFORMED, "missing Authorization header")
    if len(value) > MAX_HEADER_LEN:
        raise RemoteProtocolError(MALFORMED, "Authorization header too long")
    if any(not " " <= c <= "~" and c != "\t" for c in value):
        raise RemoteProtocolError(MALFORMED, "Authorization header has a control or non-ASCII character")
    scheme, _, params = value.partition(" ")
    if scheme != SCHEME:
        raise RemoteProtocolError(MALFORMED, f"Authorization scheme must be {SCHEME}")
    fields: dict[str, str] = {}
    for part in params.split(","):
        key, sep, val = part.strip(" \t").partition("=")
        if not sep or key in fields:
            raise RemoteProtocolError(MALFORMED, "malformed Authorization parameters")
        fields[key] = val
    version = _version(fields.get("v"), supported)
    try:
        origin = parse_hex(fields["origin"], 32)
        destination = parse_hex(fields["dest"], 32)
        ts = parse_decimal(fields["ts"])
        nonce = parse_hex(fields["nonce"], NONCE_LEN)
        signature = decode_base64url(fields["sig"])
    except KeyError as exc:
        raise RemoteProtocolError(MALFORMED, f"Authorization lacks the parameter {exc.args[0]}") from exc
    except TextFormatError as exc:
        raise RemoteProtocolError(MALFORMED, f"malformed Authorization parameter: {exc}") from exc
    if len(signature) != 64:
        raise RemoteProtocolError(MALFORMED, "Authorization sig must be 64 bytes")
    return RequestAuth(origin, destination, ts, nonce, signature, version)


def _version(value: str | None, supported: Collection[int]) -> int:
    try:
        version = parse_decimal(value or "", 255)
    except TextFormatError:
        version = None
    if version is None or version not in supported:
        raise RemoteProtocolError(UNKNOWN_VERSION, f"request auth version {(value or '')[:8]!r} is not supported "
                                  f"(this endpoint speaks {', '.join(str(v) for v in sorted(supported))})")
    return version


def verify_request(
    auth: RequestAuth, *, method: str, path: str, body: bytes, me: bytes, origin_key: bytes, now: int
) -> None:
    """Check destination, freshness and signature. Replay (nonce reuse) is the caller's seen-cache."""
    if auth.destination != me:
        raise RemoteProtocolError(WRONG_RECIPIENT, "request was signed for another node")
    if abs(now - auth.ts) > FRESHNESS_MS:
        raise RemoteProtocolError(STALE, f"request timestamp is more than {FRESHNESS_MS // 1000} s from this node's clock")
    verify_ed25519(origin_key, signed_bytes(method, path, auth.origin, auth.destination, auth.ts, auth.nonce, body), auth.signature)


class SeenNonces:
    """Remembers (origin, nonce) pairs for twice the freshness window; pure, ``now`` passed in.

    Expired pairs are swept at most once per freshness window (and whenever the cache is full), so
    it holds about the last two windows' requests. Sweeping only when full (before issue 15's soak)
    let a node at a steady 1.6 requests/s grow by ~1 MB an hour (~200 bytes a pair) for the ~17
    hours it took to reach ``max_entries``."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._seen: dict[tuple[bytes, bytes], int] = {}
        self._max = max_entries
        self._next_sweep: int | None = None

    def __len__(self) -> int:
        return len(self._seen)

    def check_and_add(self, auth: RequestAuth, now: int) -> None:
        key = (auth.origin, auth.nonce)
        if key in self._seen:
            raise RemoteProtocolError(REPLAY, "this request was already received")
        if len(self._seen) >= self._max or (self._next_sweep is not None and now >= self._next_sweep):
            self.expire(now)
        if self._next_sweep is None:
            self._next_sweep = now + FRESHNESS_MS
        self._seen[key] = auth.ts + 2 * FRESHNESS_MS

    def expire(self, now: int) -> None:
        self._next_sweep = now + FRESHNESS_MS
        self._seen = {k: exp for k, exp in self._seen.items() if exp > now}
        if len(self._seen) >= self._max:
            # Still full of fresh entries: drop the oldest half (a flood; stale ones are refused anyway).
            keep = sorted(self._seen.items(), key=lambda kv: kv[1])[len(self._seen) // 2 :]
            self._seen = dict(keep)
