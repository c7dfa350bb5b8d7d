"""Faulty network links between node processes: a small TCP proxy the test steers while it runs.

Every node publishes (in its org card, so in every partner's trust list) the address of its
``LinkHub``, not its own listen address: partners reach it only through the hub. The hub reads the
head of the first request on each connection, takes the sender from the ``Authorization: OrgNode
...,origin=<hex>,...`` header (a node's pooled connection carries that node's requests only), and
runs the connection through the directed ``Link`` sender -> this node. So one hub per node still
gives a separately controllable link per ordered pair: partitioning A|B leaves A<->C alone.
Connections whose first request is unauthenticated (card fetch, pairing) use the hub's ``default``
link; ``LinkHub.reset()`` after pairing makes every later connection classify itself afresh.

A ``Link``'s faults, set at any time from the test's thread:
``partition()`` / ``heal()`` (new connections reset at once, open ones aborted), ``cut_after(n)``
(each connection is reset after n bytes in either direction), ``delay(ms)`` (each chunk waits),
``drop(p)`` (each new connection is reset with probability p), ``flap(period)`` (down and up in
turn, ``period`` seconds each; ``heal()`` ends it).

All hubs share one asyncio loop in a daemon thread (``Network``); the test never sleeps on it.
"""

from __future__ import annotations

import asyncio
import random
import re
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any

ORIGIN = re.compile(rb"\r\nauthorization: *orgnode [^\r\n]*origin=([0-9a-f]{64})", re.IGNORECASE)
HEAD_LIMIT = 16 * 1024
HEAD_TIMEOUT_S = 10.0
CHUNK = 4096


@dataclass
class Link:
    """One direction of traffic into a node (its requests and their answers), with its faults."""

    name: str
    network: Network
    down: bool = False
    cut_bytes: int | None = None
    delay_ms: float = 0.0
    drop_p: float = 0.0
    flap_period: float | None = None
    connections: int = 0  # accepted on this link since it was made (a positive control: traffic flowed)
    refused: int = 0  # reset by a partition, a drop or a cut
    bytes: int = 0  # forwarded, both directions
    _open: set[asyncio.StreamWriter] = field(default_factory=set)
    _flapper: asyncio.Task[None] | None = None
    _rng: random.Random = field(default_factory=lambda: random.Random(0))

    @property
    def in_flight(self) -> int:
        """Connections open on this link now (each has two ends in ``_open``)."""
        return len(self._open) // 2

    def partition(self) -> None:
        """Down: open connections are aborted, new ones reset (a peer sees 'connection reset')."""
        self.down = True
        self.network.call(self._abort_open)

    def heal(self) -> None:
        """Up again, with every fault cleared (flapping too)."""
        self.down = False
        self.cut_bytes = None
        self.delay_ms = 0.0
        self.drop_p = 0.0
        self.flap_period = None
        self.network.call(self._stop_flapping)

    def cut_after(self, n: int | None) -> None:
        self.cut_bytes = n

    def delay(self, ms: float) -> None:
        self.delay_ms = ms

    def drop(self, p: float) -> None:
        self.drop_p = p

    def flap(self, period: float) -> None:
        """Down for ``period`` s, up for ``period`` s, and so on until ``heal()``."""
        self.flap_period = period
        self.network.call(self._start_flapping)

    # --- inside the loop ------------------------------------------------------------------------

    def _abort_open(self) -> None:
        for writer in list(self._open):
            writer.transport.abort()

    def _stop_flapping(self) -> None:
        if self._flapper is not None:
            self._flapper.cancel()
            self._flapper = None

    def _start_flapping(self) -> None:
        self._stop_flapping()
        self._flapper = asyncio.get_running_loop().create_task(self._flap_loop())

    async def _flap_loop(self) -> None:
        while self.flap_period is not None:
            self.down = True
            self._abort_open()
            await asyncio.sleep(self.flap_period)
            self.down = False
            await asyncio.sleep(self.flap_period or 0)

    def _refuses(self) -> bool:
        return self.down or (self.drop_p > 0 and self._rng.random() < self.drop_p)


class LinkHub:
    """The address partners use for one node: forwards to the node's real listen address."""

    def __init__(self, network: Network, name: str, host: str, target: tuple[str, int]) -> None:
        self.network = network
        self.name = name
        self.host = host
        self.target = target
        self.port = 0
        self.default = Link(f"?->{name}", network)
        self.links: dict[str, Link] = {}  # sender's node id (hex) -> link
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def link_from(self, origin_hex: str, name: str = "") -> Link:
        """The directed link from the node ``origin_hex`` into this one (made on first use)."""
        if origin_hex not in self.links:
            self.links[origin_hex] = Link(f"{name or origin_hex[:8]}->{self.name}", self.network)
        return self.links[origin_hex]

    def reset(self) -> None:
        """Abort every open connection (each reconnect is classified by its sender again)."""
        def abort_all() -> None:
            for link in [self.default, *self.links.values()]:
                link._abort_open()
        self.network.call(abort_all)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in [self.default, *self.links.values()]:
            link._stop_flapping()
            link._abort_open()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await asyncio.wait_for(_read_head(reader), HEAD_TIMEOUT_S)
        except (TimeoutError, OSError, asyncio.IncompleteReadError):
            writer.transport.abort()
            return
        match = ORIGIN.search(head)
        link = self.links.get(match.group(1).decode().lower(), self.default) if match else self.default
        if link._refuses():
            link.refused += 1
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()  # the node itself is down: the sender sees a reset, as without a proxy
            return
        link.connections += 1
        link._open.update((writer, up_writer))
        budget = [link.cut_bytes]
        try:
            await asyncio.gather(
                _pump(link, head, reader, up_writer, budget, [writer, up_writer]),
                _pump(link, b"", up_reader, writer, budget, [writer, up_writer]),
            )
        finally:
            link._open.difference_update((writer, up_writer))
            for w in (writer, up_writer):
                w.transport.abort()


async def _read_head(reader: asyncio.StreamReader) -> bytes:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await reader.read(CHUNK)
        if not chunk:
            raise asyncio.IncompleteReadError(head, None)
        head += chunk
        if len(head) > HEAD_LIMIT:
            break
    return head


async def _pump(link: Link, first: bytes, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                budget: list[int | None], both: list[asyncio.StreamWriter]) -> None:
    """Copy ``reader`` to ``writer`` under the link's faults; a cut or partition aborts both sides."""
    data = first
    try:
        while True:
            if not data:
                data = await reader.read(CHUNK)
                if not data:
                    writer.write_eof() if writer.can_write_eof() else None
                    return
            if link.down:
                raise ConnectionResetError
            if link.delay_ms:
                await asyncio.sleep(link.delay_ms / 1000)
            if budget[0] is not None:
                if len(data) >= budget[0]:
                    writer.write(data[: budget[0]])
                    link.refused += 1
                    raise ConnectionResetError
                budget[0] -= len(data)
            writer.write(data)
            link.bytes += len(data)
            await writer.drain()
            data = b""
    except (OSError, ConnectionResetError, asyncio.IncompleteReadError):
        for w in both:
            w.transport.abort()


class Network:
    """The links of one test: a daemon thread running their asyncio loop; ``close()`` ends it."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.hubs: dict[str, LinkHub] = {}
        self._thread = threading.Thread(target=self.loop.run_forever, name="fault-links", daemon=True)
        self._thread.start()

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 10) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], object]) -> None:
        self.loop.call_soon_threadsafe(fn)

    def hub(self, name: str, host: str, target: tuple[str, int]) -> LinkHub:
        hub = LinkHub(self, name, host, target)
        self.run(hub.start())
        self.hubs[name] = hub
        return hub

    def close(self) -> None:
        for hub in self.hubs.values():
            self.run(hub.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
