"""Seeing exactly what crosses the wire between real nodes, without touching the nodes.

``WireTap`` is a plain TCP relay in front of one node's federation port. The node's *public* URL
(its ``Config.url``, carried in its signed org card and in its invites) points at the relay, while
the node listens on the port behind it; so every peer that talks to the node — pairing, card
fetches, pushes, pulls, match queries — goes through the relay, which records every byte of every
connection in both directions (request lines, headers, bodies; responses likewise). Nothing in
orgnode is replaced or patched. ``http_exchanges`` splits a recorded connection back into HTTP/1.1
messages so a test can look at one endpoint's raw response bytes.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from dataclasses import dataclass, field
from typing import Any

from node.core.service import NodeService
from node.home import Config, Home
from node.runtime import NodeRuntime
from protocol.identity import Identity
from tests.conftest import free_port


@dataclass
class Conversation:
    """One TCP connection through the tap: every byte the client sent and every byte it got back."""

    sent: bytearray = field(default_factory=bytearray)
    received: bytearray = field(default_factory=bytearray)


class WireTap:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.conversations: list[Conversation] = []
        self.port: int | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self.port

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conversation = Conversation()
        self.conversations.append(conversation)
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.close()
            return

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter, record: bytearray) -> None:
            try:
                while data := await src.read(65536):
                    record.extend(data)
                    dst.write(data)
                    await dst.drain()
            except (ConnectionError, OSError):
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        tasks = [asyncio.ensure_future(pump(reader, up_writer, conversation.sent)),
                 asyncio.ensure_future(pump(up_reader, writer, conversation.received))]
        self._tasks.update(tasks)
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            self._tasks.difference_update(tasks)

    def all_bytes(self) -> bytes:
        return b"".join(bytes(c.sent) + b"\n" + bytes(c.received) + b"\n" for c in self.conversations)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)


@dataclass(frozen=True)
class HttpMessage:
    start_line: str
    headers: dict[str, str]  # lower-cased names
    body: bytes
    raw: bytes  # the exact bytes of the whole message


def _read_message(data: bytes, pos: int, is_response: bool, request_method: str | None = None) -> tuple[HttpMessage, int] | None:
    end = data.find(b"\r\n\r\n", pos)
    if end < 0:
        return None
    head = data[pos:end].decode("latin-1").split("\r\n")
    headers: dict[str, str] = {}
    for line in head[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    cursor = end + 4
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = bytearray()
        while True:
            line_end = data.index(b"\r\n", cursor)
            size = int(data[cursor:line_end].split(b";")[0], 16)
            cursor = line_end + 2
            body.extend(data[cursor:cursor + size])
            cursor += size + 2
            if size == 0:
                break
        payload = bytes(body)
    elif "content-length" in headers:
        length = int(headers["content-length"])
        payload = data[cursor:cursor + length]
        cursor += length
    elif is_response and request_method != "HEAD":
        payload = data[cursor:]  # body until the connection closed
        cursor = len(data)
    else:
        payload = b""
    return HttpMessage(head[0], headers, payload, data[pos:cursor]), cursor


def http_exchanges(conversation: Conversation) -> list[tuple[HttpMessage, HttpMessage | None]]:
    """The (request, response) pairs of one keep-alive connection, in order."""
    requests: list[HttpMessage] = []
    pos = 0
    sent = bytes(conversation.sent)
    while pos < len(sent):
        parsed = _read_message(sent, pos, is_response=False)
        if parsed is None:
            break
        message, pos = parsed
        requests.append(message)
    out: list[tuple[HttpMessage, HttpMessage | None]] = []
    received = bytes(conversation.received)
    pos = 0
    for request in requests:
        parsed = _read_message(received, pos, is_response=True, request_method=request.start_line.split(" ")[0])
        if parsed is None:
            out.append((request, None))
            continue
        response, pos = parsed
        out.append((request, response))
    return out


async def start_tapped(net: Any, name: str, sector: str, *, sync_interval: float = 0.3, retry_base: float = 0.2,
                       retry_cap: float = 1.0) -> tuple[NodeRuntime, WireTap]:
    """A real node (as ``Net.start`` makes it) whose public URL is a ``WireTap`` in front of its port."""
    port = free_port()
    tap = WireTap(port)
    public_port = await tap.start()
    home = Home(net.root / name.lower().replace(" ", "-"))
    extra: dict[str, Any] = {"lan_advertise": False, "allow_private_peers": True}  # 127.0.0.x, no mDNS
    config = Config(name, sector, "127.0.0.1", port, f"http://127.0.0.1:{public_port}",
                    sync_interval=sync_interval, retry_base=retry_base, retry_cap=retry_cap, **extra)
    home.create(config, Identity.from_random(os.urandom), None)
    service = NodeService.open(home.path)
    service.publish_org_card()
    runtime: NodeRuntime = await net._run(service)
    return runtime, tap
