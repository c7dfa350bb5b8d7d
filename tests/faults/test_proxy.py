"""The fault proxy itself (tests/faults/proxy.py), against a real TCP echo server: each fault does
what its name says, and with no fault the link is a faithful pipe (the positive control)."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.proxy import FaultProxy
from tests.node.federation_helpers import wait_until


async def echo_server() -> asyncio.Server:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with_data = True
        while with_data:
            data = await reader.read(4096)
            with_data = bool(data)
            writer.write(data)
            await writer.drain()
        writer.close()

    return await asyncio.start_server(echo, "127.0.0.1", 0)


async def round_trip(proxy: FaultProxy, payload: bytes) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(payload)
        await writer.drain()
        return await reader.readexactly(len(payload))
    finally:
        writer.close()


async def test_faults_do_what_they_say():
    server = await echo_server()
    async with FaultProxy(server.sockets[0].getsockname()[1]) as proxy:
        assert await round_trip(proxy, b"x" * 20_000) == b"x" * 20_000  # no fault: a faithful pipe

        proxy.cut_after_bytes = 8192
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await round_trip(proxy, b"y" * 20_000)
        assert await round_trip(proxy, b"small") == b"small"  # a new connection, a fresh allowance
        assert proxy.stats.resets >= 1
        proxy.cut_after_bytes = None

        proxy.drop = True
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
            await round_trip(proxy, b"dropped")
        proxy.drop = False

        proxy.delay = 0.2
        started = time.monotonic()
        assert await round_trip(proxy, b"slow") == b"slow"
        assert time.monotonic() - started >= 0.4  # one chunk each way, each delayed
        proxy.delay = 0.0

        proxy.flap(up=0.05, down=30)
        await wait_until(lambda: proxy.drop, 5, what="flap to take the link down")
        proxy.stop_flapping()
        assert not proxy.drop and await round_trip(proxy, b"back") == b"back"
    server.close()
    await server.wait_closed()
