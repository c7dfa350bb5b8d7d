"""Connection-level limits of the federation server (issue 8 item 11: slowloris and exhaustion).

aiohttp has no header-read timeout, so each connection gets a small watchdog: a connection that has
not delivered a complete request head within ``read_timeout`` seconds (counted from connect, and again
after each answered request) is aborted. Bodies get the same bound in ``federation_api.guard``.
One address may hold at most ``max_per_address`` open connections; extra ones are aborted at once,
so one host cannot take every slot. (asyncio's accept loop already pauses 1 s on EMFILE; its log
line goes through the rate-limited JSON handler of ``node/logs.py``.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.web_protocol import RequestHandler


@dataclass(frozen=True)
class ConnectionPolicy:
    read_timeout: float = 10.0  # seconds to deliver a request head (and, in the middleware, its body)
    max_per_address: int = 32  # open connections one IP address may hold


@dataclass
class ConnectionGuard:
    policy: ConnectionPolicy
    open: Counter[str] = field(default_factory=Counter)

    def admit(self, address: str) -> bool:
        if self.open[address] >= self.policy.max_per_address:
            return False
        self.open[address] += 1
        return True

    def release(self, address: str) -> None:
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


class GuardedHandler(RequestHandler):
    """aiohttp's request handler plus the per-address cap and the request-head watchdog."""

    def __init__(self, manager: Any, *, guard: ConnectionGuard, **kwargs: Any) -> None:
        super().__init__(manager, **kwargs)
        self._guard = guard
        self._address: str | None = None
        self._watchdog: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peer = transport.get_extra_info("peername")
        address = str(peer[0]) if peer else "?"
        if not self._guard.admit(address):
            transport.abort()  # type: ignore[attr-defined]  # a Transport; over the per-address cap: refused at once
            return
        self._address = address
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._address is None:
            return  # refused in connection_made: aiohttp never saw this connection
        self._disarm()
        self._guard.release(self._address)
        self._address = None
        super().connection_lost(exc)

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

    async def _handle_request(self, request: Any, start_time: Any, request_handler: Any) -> Any:
        self._disarm()
        try:
            return await super()._handle_request(request, start_time, request_handler)
        finally:
            if self._address is not None:
                self._arm()


def install(runner: web.AppRunner, policy: ConnectionPolicy) -> None:
    """Make ``runner``'s sites create guarded handlers (call after ``setup``, before the site starts)."""
    server = runner.server
    assert server is not None
    guard = ConnectionGuard(policy)

    runner._server = _GuardedServer(server, guard)  # type: ignore[assignment]  # TCPSite.start uses runner.server


class _GuardedServer:
    """The runner's ``web.Server``, except that it makes ``GuardedHandler``s; all else is delegated."""

    def __init__(self, server: web.Server, guard: ConnectionGuard) -> None:
        self._inner = server
        self._guard = guard

    def __call__(self) -> RequestHandler:
        inner = self._inner
        return GuardedHandler(inner, guard=self._guard, loop=inner._loop, **inner._kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
