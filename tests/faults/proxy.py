"""A small TCP proxy for fault tests: put it between two real nodes and break the link on purpose.

``FaultProxy(target_port)`` listens on 127.0.0.1 (an ephemeral port unless one is given) and forwards
every accepted connection to the target, byte for byte, in both directions. Faults are attributes a
test may change at any moment; they apply to the bytes forwarded from then on:

- ``cut_after_bytes = N``: reset (TCP RST, not a clean close) each connection once N bytes, counted in
  both directions together since it was opened, have gone through it (a keep-alive connection that
  already carried more is cut at its next byte). A new connection gets a fresh allowance.
- ``drop = True``: accept connections and reset them at once (a black hole that answers); connections
  already open are reset at their next byte.
- ``delay = s``: wait ``s`` seconds before forwarding each chunk (latency, not bandwidth).
- ``flap(up, down)``: alternate ``drop`` off for ``up`` seconds and on for ``down`` seconds until
  ``stop_flapping()`` or ``stop()``.

``stats`` counts connections accepted and reset and bytes forwarded, so a test can check a fault
really happened (a positive control). Use it as ``async with FaultProxy(port) as proxy:`` or call
``start``/``stop``; ``proxy.url`` is the base URL to give a node as its partner's address.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass

CHUNK = 4096


@dataclass
class ProxyStats:
    connections: int = 0
    resets: int = 0
    bytes_forwarded: int = 0


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", listen_host: str = "127.0.0.1",
                 listen_port: int = 0, *, cut_after_bytes: int | None = None, drop: bool = False, delay: float = 0.0) -> None:
        self.target = (target_host, target_port)
        self.listen = (listen_host, listen_port)
        self.cut_after_bytes = cut_after_bytes
        self.drop = drop
        self.delay = delay
        self.stats = ProxyStats()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._flapper: asyncio.Task[None] | None = None

    # --- lifecycle ---------------------------------------------------------------------------------

    async def start(self) -> FaultProxy:
        self._server = await asyncio.start_server(self._serve, *self.listen)
        self.listen = self._server.sockets[0].getsockname()[:2]
        return self

    async def stop(self) -> None:
        self.stop_flapping()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for writer in list(self._writers):  # ends every open connection; its pipes then return
            writer.transport.abort()
        for task in list(self._tasks):
            with contextlib.suppress(Exception):
                await task

    async def __aenter__(self) -> FaultProxy:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        return int(self.listen[1])

    @property
    def url(self) -> str:
        return f"http://{self.listen[0]}:{self.port}"

    # --- faults ------------------------------------------------------------------------------------

    def flap(self, up: float, down: float) -> None:
        """Alternate a working link (``up`` s) and a dropping one (``down`` s), starting up."""
        self.stop_flapping()
        self._flapper = asyncio.create_task(self._flap(up, down))

    def stop_flapping(self) -> None:
        if self._flapper is not None:
            self._flapper.cancel()
            self._flapper = None
        self.drop = False

    async def _flap(self, up: float, down: float) -> None:
        while True:
            self.drop = False
            await asyncio.sleep(up)
            self.drop = True
            await asyncio.sleep(down)

    # --- forwarding --------------------------------------------------------------------------------

    async def _serve(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self.stats.connections += 1
        try:
            if self.drop:
                self._cut((client_w,))
                return
            try:
                target_r, target_w = await asyncio.open_connection(*self.target)
            except OSError:
                self._cut((client_w,))
                return
            used = [0]  # bytes this connection carried, both directions together
            writers = (client_w, target_w)
            self._writers.update(writers)
            await asyncio.gather(self._pipe(client_r, target_w, used, writers), self._pipe(target_r, client_w, used, writers))
        finally:
            self._tasks.discard(task)
            self._writers.discard(client_w)
            if "target_w" in locals():
                self._writers.discard(target_w)

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, used: list[int],
                    writers: tuple[asyncio.StreamWriter, ...]) -> None:
        try:
            while data := await reader.read(CHUNK):
                if self.delay:
                    await asyncio.sleep(self.delay)
                if self.drop:
                    raise ConnectionResetError
                limit = self.cut_after_bytes
                if limit is not None and used[0] + len(data) >= limit:
                    raise ConnectionResetError  # the cut: nothing of this chunk goes through
                used[0] += len(data)
                writer.write(data)
                self.stats.bytes_forwarded += len(data)
                await writer.drain()
            if not writer.transport.is_closing() and writer.can_write_eof():
                writer.write_eof()  # a clean half-close is passed on as one
        except OSError:  # our cut (ConnectionResetError), or either end went away
            self._cut(writers)

    def _cut(self, writers: tuple[asyncio.StreamWriter, ...]) -> None:
        """Close both sides with an RST (SO_LINGER 0), as a middlebox that cuts a connection does."""
        open_writers = [w for w in writers if not w.transport.is_closing()]
        if not open_writers:
            return
        self.stats.resets += 1
        for writer in open_writers:
            sock = writer.get_extra_info("socket")
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
