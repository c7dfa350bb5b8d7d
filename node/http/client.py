"""Signed HTTP requests to trusted peers (aiohttp client).

Hardening: a total timeout, no redirects, no automatic decompression, bounded response reads, and
only URLs that an admin put on the trust list (or pasted in an invite) are ever contacted: nothing
a peer sends can make this node connect somewhere (THREATS rows 3 and 10). A peer URL is a base URL
(``protocol/peer_url.py``) to which only our own endpoint paths are appended, and the addresses
actually connected to are checked at connect time: unless ``allow_private_peers`` is set, loopback,
private, link-local and other non-public addresses are refused (issue 8 item 10).
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from node.core.clock import now_ms
from node.core.errors import PeerAddressRefused as PeerAddressRefused  # re-exported: raised here, handled in core
from node.core.errors import PeerCertificateRefused as PeerCertificateRefused
from node.core.errors import PeerUnavailable as PeerUnavailable
from node.formats.json_text import loads_or_none
from node.tls import certificate_problem
from protocol.codec import decode
from protocol.errors import ALL_CODES, MALFORMED, RemoteProtocolError
from protocol.identity import Identity
from protocol.peer_url import base_url_problem, endpoint_url
from protocol.request_auth import sign_request
from protocol.versions import BASE_VERSION, FEATURES_HEADER, VERSIONS_HEADER, parse_features, parse_versions

MAX_RESPONSE_BYTES = 512 * 1024
TIMEOUT = aiohttp.ClientTimeout(total=20, connect=5)
MSGPACK = "application/msgpack"


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
    # What the peer advertises in ``OrgNode-Versions`` (absent: {1}, a node from before negotiation).
    versions: frozenset[int] = frozenset({BASE_VERSION})
    # ``Retry-After`` of a refusal, in seconds (whole seconds only; an HTTP date is ignored).
    retry_after: float | None = None
    # What the peer advertises in ``OrgNode-Features`` (absent: none, a node from before the header).
    features: frozenset[str] = frozenset()


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


class _AddressRefused(OSError):
    """Raised inside aiohttp's connector by ``GuardedResolver``; becomes ``PeerAddressRefused``."""


Address = ipaddress.IPv4Address | ipaddress.IPv6Address
PRIVATE_HINT = ("set allow_private_peers = true in config.toml only if partners really are on your LAN, "
                "then restart the node (`orgnode run`) for it to take effect")


# IPv6 ranges that carry or reach an IPv4 address (or are deprecated / not plainly global unicast):
# refused unless ``allow_private_peers``. Python's ``is_global`` lets several of them through.
IPV4_REACHING = (
    (ipaddress.IPv6Network("64:ff9b:1::/48"), "a local-use NAT64 form of an IPv4 address"),
    (ipaddress.IPv6Network("2002::/16"), "a 6to4 form of an IPv4 address"),
    (ipaddress.IPv6Network("2001::/32"), "a Teredo form of an IPv4 address"),
    (ipaddress.IPv6Network("::/96"), "an IPv4-compatible IPv6 address"),
    (ipaddress.IPv6Network("fec0::/10"), "a site-local IPv6 address"),
)
GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
# The well-known NAT64 prefix (RFC 6052): an IPv6-only network behind DNS64 reaches every IPv4-only
# partner through it, so the IPv4 address it embeds is judged instead, like an IPv4-mapped one.
NAT64_WELL_KNOWN = ipaddress.IPv6Network("64:ff9b::/96")


def address_problem(address: Address, allow_private: bool) -> str | None:
    """Why this node must not connect to ``address``, or None.

    Unspecified and multicast addresses are never a node. Without ``allow_private`` every address
    that is not globally routable is refused too: loopback, private (RFC 1918, ULA), link-local
    (including the cloud metadata address 169.254.169.254), CGNAT and reserved ranges, also when
    written as IPv4-mapped IPv6 or in the well-known NAT64 prefix (the embedded IPv4 address is
    judged); and every other IPv6 address that reaches IPv4 space (local-use NAT64, 6to4, Teredo,
    IPv4-compatible) or is not plainly global unicast (outside 2000::/3, site-local).
    """
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    elif isinstance(address, ipaddress.IPv6Address) and address in NAT64_WELL_KNOWN:
        address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.is_unspecified:
        return f"{address} is an unspecified address"
    if address.is_multicast:
        return f"{address} is a multicast address"
    if allow_private:
        return None
    kind = _ipv6_kind(address) if isinstance(address, ipaddress.IPv6Address) else None
    if kind is None and address.is_global:
        return None
    return f"{address} is {kind or _non_global_kind(address)}"


def _ipv6_kind(address: ipaddress.IPv6Address) -> str | None:
    """What makes an IPv6 address not plainly global unicast (None: nothing, judge ``is_global``)."""
    if address.is_loopback:
        return None  # ::1 lies in ::/96 but is named for what it is
    for network, kind in IPV4_REACHING:
        if address in network:
            return kind
    if address not in GLOBAL_UNICAST and not (address.is_loopback or address.is_link_local or address.is_private):
        return "not a global unicast IPv6 address"
    return None


def _non_global_kind(address: Address) -> str:
    if address.is_loopback:
        return "a loopback address"
    if address.is_link_local:
        return "a link-local address (e.g. a cloud metadata service)"
    if address.is_private:
        return "a private network address"
    return "not a public internet address"


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that refuses a host name if any address it resolves to is not allowed.

    The check runs on the addresses aiohttp is about to connect to, at connect time, so a name that
    resolves to loopback (``localhost``, DNS rebinding) is refused like the literal would be.
    IP literals never reach a resolver: ``FederationClient`` checks those itself.
    """

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self._inner = DefaultResolver()

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            problem = address_problem(ipaddress.ip_address(result["host"].split("%")[0]), self.allow_private)
            if problem:
                raise _AddressRefused(f"{host} resolves to {problem}")
        return results

    async def close(self) -> None:
        await self._inner.close()


def literal_address_problem(url: str, allow_private: bool) -> str | None:
    """Why the IP literal host of ``url`` must not be contacted, or None (names are judged at connect time)."""
    try:
        address = ipaddress.ip_address(urlsplit(url).hostname or "")
    except ValueError:
        return None
    return address_problem(address, allow_private)


def check_target(url: str, allow_private: bool) -> None:
    """Refuse, before any connection, a URL that is not a base URL or whose host is a forbidden IP literal."""
    problem = _target_problem(url, allow_private)
    if problem:
        raise PeerAddressRefused(problem)


@functools.lru_cache(maxsize=256)
def _target_problem(url: str, allow_private: bool) -> str | None:
    """``check_target``'s refusal for ``url``, or None; a pure function of its arguments, so each
    peer URL is checked once, not at every request (a match fan-out posts to every partner)."""
    problem = base_url_problem(url)
    if problem:
        return f"refusing to contact {url!r}: {problem}"
    problem = literal_address_problem(url, allow_private)  # a name is checked by GuardedResolver once resolved
    return _refusal(url, problem, allow_private) if problem else None


def _refusal(url: str, problem: str, allow_private: bool) -> str:
    return f"refusing to connect to {url}: {problem}" + ("" if allow_private else f" ({PRIVATE_HINT})")


def _transport_failure(url: str, exc: BaseException, allow_private: bool) -> PeerUnavailable:
    if isinstance(exc, aiohttp.ClientConnectorError) and isinstance(exc.os_error, _AddressRefused):
        return PeerAddressRefused(_refusal(url, str(exc.os_error), allow_private))
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        cert_error = exc.certificate_error
        verify_message = getattr(cert_error, "verify_message", None)
        return PeerCertificateRefused(f"{_host_of(url)}: " + certificate_problem(verify_message, getattr(cert_error, "reason", None)))
    if isinstance(exc, aiohttp.ClientConnectorSSLError | aiohttp.ClientSSLError | ssl.SSLError):
        return PeerCertificateRefused(f"{_host_of(url)}: the TLS handshake failed ({_ssl_reason(exc)}): check that the "
                                      "partner serves HTTPS at its https:// URL")
    return PeerUnavailable(_why(exc))


def _host_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _ssl_reason(exc: BaseException) -> str:
    inner = getattr(exc, "os_error", None) or exc
    return str(getattr(inner, "reason", None) or inner).lower()[:200]


class FederationClient:
    """``identity`` is a callable so a key rotation takes effect on the next request."""

    def __init__(self, identity: Callable[[], Identity], allow_private: bool = False,
                 tls: ssl.SSLContext | bool = True) -> None:
        """``tls``: what https:// connections use (``node.tls.client_context``): a verifying context, True for the
        default verification (system trust store), or False for none (``tls_verify = false``)."""
        self.identity = identity
        self.allow_private = allow_private  # config ``allow_private_peers``
        self.tls: ssl.SSLContext | bool = tls
        self._session: aiohttp.ClientSession | None = None
        self._resolver: GuardedResolver | None = None

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            await self._close_resolver()
            self._resolver = GuardedResolver(self.allow_private)
            # ssl: verified by default; the host name checked (and sent as SNI) is the URL's host, while
            # the address actually connected to is still the one GuardedResolver allowed.
            connector = aiohttp.TCPConnector(resolver=self._resolver, ssl=self.tls)
            # trust_env=False: no proxy from the environment, so the checked address is the one connected to.
            self._session = aiohttp.ClientSession(timeout=TIMEOUT, auto_decompress=False, connector=connector, trust_env=False)
        return self._session

    async def _close_resolver(self) -> None:
        """A resolver handed to a connector is not closed with it (aiohttp): close it here."""
        if self._resolver is not None:
            await self._resolver.close()
            self._resolver = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
        await self._close_resolver()

    async def get(self, url: str) -> bytes:
        """GET a full URL (a peer's base URL with one of our endpoints appended, see ``endpoint_url``)."""
        check_target(url, self.allow_private)
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
            raise _transport_failure(url, exc, self.allow_private) from exc

    async def post(self, base_url: str, path: str, destination: bytes, body: bytes, identity: Identity | None = None,
                   version: int = BASE_VERSION, headers: dict[str, str] | None = None) -> PeerAnswer:
        """POST ``body`` to our endpoint ``path`` under the peer's base URL, signed for ``destination``.

        Never raises on HTTP errors; raises ``PeerUnavailable`` (``PeerAddressRefused`` for a refused
        URL or address) when there is no answer.
        """
        check_target(base_url, self.allow_private)
        url = endpoint_url(base_url, path)
        signer = identity or self.identity()
        # Sign the path exactly as sent, including any path prefix of the peer's URL.
        full_path = urlsplit(url).path
        auth = sign_request(signer, method="POST", path=full_path, destination=destination, body=body, now=now_ms(),
                            nonce=os.urandom(16), version=version)
        session = await self.session()
        try:
            async with session.post(
                url,
                data=body,
                headers={"Authorization": auth.header_value(), "Content-Type": MSGPACK, **(headers or {})},
                allow_redirects=False,
            ) as resp:
                data = await read_bounded(resp)
                if data is None:
                    raise PeerUnavailable("response too large")
                code = None
                if resp.status >= 400:
                    code = _error_code(data)
                return PeerAnswer(resp.status, data, code, parse_versions(resp.headers.get(VERSIONS_HEADER)),
                                  _retry_after(resp.headers.get("Retry-After")),
                                  parse_features(resp.headers.get(FEATURES_HEADER)))
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _transport_failure(url, exc, self.allow_private) from exc


def _retry_after(value: str | None) -> float | None:
    """A ``Retry-After`` given in seconds (taken as 1 s to a day: a peer cannot make us spin), or None."""
    text = (value or "").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 6:
        return None
    return min(max(float(text), 1.0), 86_400.0)


def _error_code(data: bytes) -> str | None:
    """The partner's refusal code, only when it is one of the protocol's codes (protocol/errors.py).

    Anything else a partner writes there (free text, half a megabyte, a fake instruction, a non-string)
    is dropped: callers then show and log ``HTTP <status>``, never the partner's words."""

    value = loads_or_none(data)
    if value is None:
        try:
            value = decode(data)
        except RemoteProtocolError:
            return None
    code = value.get("error") if isinstance(value, dict) else None
    return code if isinstance(code, str) and code in ALL_CODES else None
