"""Issue 8 item 11: aiohttp's and asyncio's own log lines are JSON, one a line, and rate-limited."""

from __future__ import annotations

import io
import json
import logging

from node import logs


def test_library_logs_are_json_and_bounded():
    stream = io.StringIO()
    logs.configure("info", stream)
    try:
        server = logging.getLogger("aiohttp.server")
        for _ in range(1000):
            try:
                raise ConnectionResetError("peer reset\\nsecond line")
            except ConnectionResetError:
                server.exception("Error handling request from %s", "127.0.0.1")
        logging.getLogger("asyncio").error("socket.accept() out of system resource")
        logs.log_event("node.ok", items=1)  # positive control: our own events still pass
    finally:
        logs.configure("info")
    lines = stream.getvalue().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert len(lines) <= 20  # 1000 tracebacks became a handful of lines
    assert all("Traceback" not in line for line in lines)
    assert any(r.get("logger") == "aiohttp.server" and r.get("error") == "ConnectionResetError" for r in records)
    assert any(r.get("logger") == "asyncio" for r in records)
    assert any(r["event"] == "node.ok" for r in records)
