"""Signed HTTP requests to trusted peers (aiohttp client).

Hardening: a total timeout, no redirects, no automatic decompression, bounded response reads, and
only URLs that an admin put on the trust list (or pasted in an invite) are ever contacted: nothing
a peer sends can make this node connect somewhere (THREATS rows 3 and 10).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp

from node.clock import now_ms
from node.errors import UserError
from protocol.codec import decode
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.identity import Identity
from protocol.request_auth import sign_request

MAX_RESPONSE_BYTES = 512 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5)
MSGPACK = "application/msgpack"


class PeerUnavailable(Exception):
    """The peer could not be reached or answered with a transport-level failure (retry later)."""


def _why(exc: BaseException) -> str:
    """A short, human reason for a transport failure (no library internals)."""
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return "no answer in time"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror if exc.os_error is not None and exc.os_error.strerror else "connection failed"
        return f"{reason.lower()} ({exc.host}:{exc.port})"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the peer closed the connection"
    return str(exc) or type(exc).__name__


@dataclass(frozen=True)
class PeerAnswer:
    status: int
    body: bytes
    error_code: str | None


async def read_bounded(resp: aiohttp.ClientResponse, limit: int = MAX_RESPONSE_BYTES) -> bytes | None:
    """The whole response body, or None if it is longer than ``limit`` (read no further than that).

    ``StreamReader.read(n)`` returns what has arrived so far, not n bytes: read until end of stream.
    """
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await resp.content.read(64 * 1024)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)


def check_url(url: str) -> str:
    """Refuse URLs that could never be a partner's node: other schemes, unspecified or multicast hosts."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"{url!r} is not an http(s) URL")
    try:
        address = ipaddress.ip_address(parts.hostname)
    except ValueError:
        return url
    if address.is_unspecified or address.is_multicast:
        raise UserError(f"{url!r} points at {address}, which is not a reachable node address")
    return url


class FederationClient:
    """``identity`` is a callable so a key rotation takes effect on the next request."""

    def __init__(self, identity: Callable[[], Identity]) -> None:
        self.identity = identity
        self._session: aiohttp.ClientSession | None = None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def get(self, url: str) -> bytes:
        check_url(url)
        session = await self.session()
        try:
            async with session.get(url, allow_redirects=False) as resp:
                body = await read_bounded(resp)
                if body is None:
                    raise RemoteProtocolError(MALFORMED, "response too large")
                if resp.status != 200:
                    raise PeerUnavailable(f"HTTP {resp.status}")
                return body
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PeerUnavailable(_why(exc)) from exc

    async def post(self, base_url: str, path: str, destination: bytes, body: bytes, identity: Identity | None = None) -> PeerAnswer:
        """POST ``body`` to ``base_url + path``, signed for ``destination``; never raises on HTTP errors."""
        check_url(base_url)
        signer = identity or self.identity()
        # Sign the path exactly as sent, including any path prefix of the peer's URL.
        full_path = urlsplit(base_url).path.rstrip("/") + path
        auth = sign_request(signer, method="POST", path=full_path, destination=destination, body=body, now=now_ms(),
                            nonce=os.urandom(16))
        session = await self.session()
        try:
            async with session.post(
                base_url.rstrip("/") + path,
                data=body,
                headers={"Authorization": auth.header_value(), "Content-Type": MSGPACK},
                allow_redirects=False,
            ) as resp:
                data = await read_bounded(resp)
                if data is None:
                    raise PeerUnavailable("response too large")
                code = None
                if resp.status >= 400:
                    code = _error_code(data)
                return PeerAnswer(resp.status, data, code)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PeerUnavailable(_why(exc)) from exc


def _error_code(data: bytes) -> str | None:
    import json

    try:
        value = json.loads(data)
    except ValueError:
        try:
            value = decode(data)
        except RemoteProtocolError:
            return None
    return value.get("error") if isinstance(value, dict) else None
