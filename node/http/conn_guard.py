"""Connection-level limits of the federation server (issue 8 item 11: slowloris and exhaustion).

aiohttp has no header-read timeout, so each connection gets a small watchdog: a connection that has
not delivered a complete request head within ``read_timeout`` seconds (counted from connect, and again
after each answered request) is aborted. Bodies get the same bound in ``federation_api.guard``.
A connection whose answers the client does not read is aborted too: once its transport has paused
writing (unsent data above the high-water mark) for ``read_timeout`` seconds, it is dropped, so a
client that pipelines requests and never reads cannot hold a connection (docs/protocol.md §12.1).
One source may hold at most ``max_per_address`` open connections and the whole node at most
``max_connections``; extra ones are aborted at once, so one host cannot take every slot. A source is
an IPv4 address, or the /64 of a global IPv6 address (one host gets a whole /64 and can use as many
addresses in it as it likes); other IPv6 addresses (link-local, ULA) count one by one, since every
host on a LAN shares their prefix. Out of file descriptors (EMFILE and kin), asyncio's accept loop
removes the listening socket from the selector and tries again 1 s later, but first it keeps calling
``accept`` up to its backlog (100) times, logging and scheduling a retry each time; the listening
socket here (``BackoffSocket``) ends such a burst after the first failure, so an exhausted node
makes one accept attempt and one log line (JSON, rate-limited, ``node/logs.py``) per second.
With TLS (``tls_cert``), a connection is counted against both caps when it is accepted, before its
handshake (``TlsAcceptor``), and the handshake must finish within ``read_timeout``: asyncio's own TLS
server would hand the connection to the handler only after the handshake and give it 60 s, so a
client stalling handshakes could hold sockets beyond every cap.
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import ContentEncodingError
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_request import BaseRequest

from node.http.errors import error_response
from protocol import errors as E


@dataclass(frozen=True)
class ConnectionPolicy:
    read_timeout: float = 10.0  # seconds to deliver a request head (and, in the middleware, its body)
    max_per_address: int = 32  # open connections one source (IPv4 address, global IPv6 /64) may hold
    max_connections: int = 1024  # open connections the whole node holds
    # Headers every answer of this port carries, added to the server's own error answers too (a request
    # the HTTP parser refuses never reaches the app's middleware): the dashboard's CSP and kin.
    error_headers: tuple[tuple[str, str], ...] = ()


IPV6_SOURCE_PREFIX = 64


def source_of(address: str) -> str:
    """The key the per-source cap counts ``address`` under: an IPv4 address as is (an IPv4-mapped
    IPv6 one unwrapped), the /64 of a global IPv6 address, any other address as is."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        if ip.is_global:
            return str(ipaddress.IPv6Network((ip, IPV6_SOURCE_PREFIX), strict=False))
    return str(ip)


@dataclass
class ConnectionGuard:
    policy: ConnectionPolicy
    open: Counter[str] = field(default_factory=Counter)  # source -> open connections
    total: int = 0
    handshakes: set[asyncio.Future[None]] = field(default_factory=set)  # TLS handshakes under way (TlsAcceptor)

    def admit(self, source: str) -> bool:
        """Count a new connection from ``source`` (see ``source_of``), or False if a cap is reached."""
        if self.total >= self.policy.max_connections or self.open[source] >= self.policy.max_per_address:
            return False
        self.open[source] += 1
        self.total += 1
        return True

    def release(self, source: str) -> None:
        self.total -= 1
        self.open[source] -= 1
        if self.open[source] <= 0:
            del self.open[source]


class GuardedHandler(RequestHandler):
    """aiohttp's request handler plus the connection caps, the request-head watchdog and the write-stall bound."""

    def __init__(self, manager: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        # No decompression in the parser: it would answer an encoding it cannot decode (br, zstd) with
        # its own plain-text 400 naming the missing library, before the middleware's JSON 415 for
        # every Content-Encoding (``federation_api.guard``).
        super().__init__(manager, **{**kwargs, "auto_decompress": False})
        self._guard = guard
        self._address: str | None = None
        self._watchdog: asyncio.TimerHandle | None = None
        self._stall: asyncio.TimerHandle | None = None
        self.admitted_as: str | None = None  # set by TlsAcceptor: already counted at accept, under this source

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        address = self.admitted_as
        if address is None:
            address = peer_source(transport)
            if not self._guard.admit(address):
                transport.abort()  # type: ignore[attr-defined]  # a Transport; over a cap: refused at once
                return
        self._address = address
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._address is None:
            return  # refused in connection_made: aiohttp never saw this connection
        self._disarm()
        self._unstall()
        self._guard.release(self._address)
        self._address = None
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        """The client is not reading our answers: from now on it has ``read_timeout`` to catch up."""
        super().pause_writing()
        if self._address is not None and self._stall is None:
            self._stall = asyncio.get_running_loop().call_later(self._guard.policy.read_timeout, self._stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._unstall()

    def _unstall(self) -> None:
        if self._stall is not None:
            self._stall.cancel()
            self._stall = None

    def _stalled(self) -> None:
        self._stall = None
        if self.transport is not None:
            self.transport.abort()  # answers unread for read_timeout: the connection and its slot are freed

    def _arm(self) -> None:
        self._disarm()
        self._watchdog = asyncio.get_running_loop().call_later(self._guard.policy.read_timeout, self._expire)

    def _disarm(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None

    def _expire(self) -> None:
        if self.transport is not None and not self._request_in_progress:
            self.transport.abort()  # no complete request head in time

    def handle_error(self, request: BaseRequest, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """The server's own error answers (a request the HTTP parser refuses, a handler timeout) in the
        API's JSON form, naming no library, version or parser detail; aiohttp still logs and closes."""
        super().handle_error(request, status, exc, message)  # logs; raises if an answer was already sent
        if isinstance(exc, ContentEncodingError):
            resp = error_response(E.MALFORMED, "Content-Encoding is not accepted on the federation API", 415)
        elif status >= 500:
            resp = error_response("internal", "internal error; the node keeps serving", status)
        else:
            resp = error_response(E.MALFORMED, "the request is not valid HTTP/1.1", status)
        resp.headers.update(self._guard.policy.error_headers)
        resp.force_close()
        return resp

    async def _handle_request(self, request: Any, start_time: Any, request_handler: Any) -> Any:
        self._disarm()
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            if self._address is not None:
                self._arm()


def peer_source(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return source_of(str(peer[0])) if peer else "?"


class TlsAcceptor(asyncio.Protocol):
    """A TLS connection's first protocol: counts it against the caps at accept, runs the handshake
    (``loop.start_tls``, bounded by ``read_timeout``), then hands the TLS transport to a ``GuardedHandler``
    that does not count it again. A refused or failed handshake frees the slot at once."""

    def __init__(self, make_handler: Any, guard: ConnectionGuard, context: ssl.SSLContext) -> None:
        self._make_handler = make_handler
        self._guard = guard
        self._context = context

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        address = peer_source(transport)
        if not self._guard.admit(address):
            transport.abort()  # type: ignore[attr-defined]  # over a cap: refused before any TLS work
            return
        transport.pause_reading()  # type: ignore[attr-defined]  # the ClientHello is for start_tls, not for us
        task = asyncio.ensure_future(self._handshake(transport, address))
        self._guard.handshakes.add(task)
        task.add_done_callback(self._guard.handshakes.discard)

    async def _handshake(self, transport: Any, address: str) -> None:
        handler = self._make_handler()
        handler.admitted_as = address
        try:
            tls_transport = await asyncio.get_running_loop().start_tls(
                transport, handler, self._context, server_side=True, ssl_handshake_timeout=self._guard.policy.read_timeout)
        except Exception:  # timed out, not TLS, or refused by the client: nothing to report, the slot is freed
            transport.abort()
            self._guard.release(address)
            return
        except asyncio.CancelledError:  # the server is shutting down
            transport.abort()
            self._guard.release(address)
            raise
        if tls_transport is None:  # the connection closed during the handshake
            self._guard.release(address)
            return
        handler.connection_made(tls_transport)

    def connection_lost(self, exc: BaseException | None) -> None:
        """Only for a connection refused over a cap: afterwards the TLS layer receives the events."""


def install(runner: web.AppRunner, policy: ConnectionPolicy, tls: ssl.SSLContext | None = None) -> None:
    """Make ``runner``'s sites create guarded handlers (call after ``setup``, before the site starts); with
    ``tls``, each connection starts as a ``TlsAcceptor`` (the site itself is then given no SSL context)."""
    server = runner.server
    assert server is not None
    guard = ConnectionGuard(policy)

    runner._server = _GuardedServer(server, guard, tls)  # type: ignore[assignment]  # TCPSite.start uses runner.server


class _GuardedServer:
    """The runner's ``web.Server``, except that it makes ``GuardedHandler``s (behind a ``TlsAcceptor`` with
    TLS); all else is delegated."""

    def __init__(self, server: web.Server, guard: ConnectionGuard, tls: ssl.SSLContext | None = None) -> None:
        self._inner = server
        self._guard = guard
        self._tls = tls

    def __call__(self) -> asyncio.Protocol:
        if self._tls is not None:
            return TlsAcceptor(self._handler, self._guard, self._tls)
        return self._handler()

    def _handler(self) -> GuardedHandler:
        inner = self._inner
        return GuardedHandler(inner, guard=self._guard, loop=inner._loop, **inner._kwargs)

    async def shutdown(self, timeout: float | None = None) -> None:
        """Handshakes still running are cancelled (their slots freed), then the server shuts down."""
        for task in list(self._guard.handshakes):
            task.cancel()
        await asyncio.gather(*self._guard.handshakes, return_exceptions=True)
        await self._inner.shutdown(timeout)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


class BackoffSocket(socket.socket):
    """A listening socket whose ``accept`` ends asyncio's accept burst after running out of
    descriptors: the first EMFILE goes up (asyncio then unregisters the socket and retries in 1 s);
    further calls in the same burst raise ``ConnectionAbortedError``, which asyncio takes as "nothing
    more to accept" — safe, since the socket is no longer in the selector, so nothing can spin."""

    def accept(self) -> tuple[socket.socket, Any]:
        if getattr(self, "_exhausted", False):
            raise ConnectionAbortedError("out of file descriptors: accepting again after the back-off")
        try:
            return super().accept()
        except OSError as exc:
            if exc.errno in OUT_OF_RESOURCES:
                self._exhausted = True
                asyncio.get_running_loop().call_soon(self._end_burst)
            raise

    def _end_burst(self) -> None:
        self._exhausted = False


def listening_socket(host: str, port: int, backlog: int = 128) -> BackoffSocket:
    """A bound, listening, non-blocking ``BackoffSocket`` for ``host:port`` (raises ``OSError``)."""
    family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    sock = BackoffSocket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
