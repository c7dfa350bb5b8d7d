"""Issue 8 item 11: aiohttp's and asyncio's own log lines are JSON, one a line, and rate-limited."""

from __future__ import annotations

import io
import json
import logging
import re

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


BAD_REQUESTS = [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
    b"POST /federation/v1/push HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nAuthorization: X-Orgnode bad\r\n\r\nabc",
    b"GET /" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    b"GET / HTTP/1.1\r\nX: " + b"b" * 20_000 + b"\r\n\r\n",
    b"POST /federation/v1/push HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
    b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 40,  # a TLS hello to a plain-HTTP port
]


def test_a_running_node_flooded_with_bad_requests_writes_only_json_rate_limited_lines(tmp_path):
    """A real `orgnode run`: hundreds of malformed, oversized and unauthenticated requests make
    aiohttp and the node log errors; every line on stderr is one JSON object, no traceback, at most
    MAX_LINES_PER_SECOND a second per kind of line, the rest counted in ``suppressed`` — and the
    node still answers."""
    import socket
    import subprocess
    from collections import Counter

    from tests.conftest import free_port
    from tests.e2e.cli_helpers import ORGNODE, env, orgnode
    from tests.e2e.test_fd_exhaustion import health, wait_for

    home, port = tmp_path / "node", free_port()
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", f"127.0.0.1:{port}")
    from tests.config_files import update_config

    update_config(home, lan_discovery=False)
    log = tmp_path / "node.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen([*ORGNODE, "--home", str(home), "run"], stdout=subprocess.DEVNULL, stderr=stderr, env=env(),
                                stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: health(port), 20, "the node to serve")
        for _ in range(60):
            for request in BAD_REQUESTS:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                        s.sendall(request)
                        s.recv(100)
                except OSError:
                    pass  # a reset is an answer too
        assert health(port) and proc.poll() is None  # still serving after the flood

        def suppressed_reported() -> bool:
            """Once a new second starts, the next line of a kind says how many were dropped."""
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(BAD_REQUESTS[2])  # an unauthenticated push: always logged
                s.recv(100)
            return '"suppressed"' in log.read_text()

        wait_for(suppressed_reported, 5, "a line reporting the suppressed ones")
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    lines = log.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # every line is JSON
    assert all(isinstance(r, dict) and "event" in r and "level" in r for r in records)
    assert all("Traceback" not in line for line in lines)
    # Issue 12 item 3: ``ts`` is RFC 3339 UTC with milliseconds, like every time in the CLI's JSON.
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", r["ts"]) for r in records)
    per_second = Counter((r.get("logger"), r["event"].split("\n")[0], r["ts"][:19]) for r in records)
    # ``ts`` is rounded to the ms, so a line at the very end of a second may be counted in the next.
    assert max(per_second.values()) <= logs.MAX_LINES_PER_SECOND + 1
    # Positive controls: both aiohttp's and the node's own refusals were logged, and far more of them
    # happened than were written.
    assert any(r.get("logger") == "aiohttp.server" for r in records)
    assert any(r["event"] == "federation.refused" for r in records)
    # The bound above holds however fast the machine sent the flood; that lines were really dropped
    # (not just too few sent) shows in the counts the next lines carry.
    assert sum(r.get("suppressed", 0) for r in records) > 0
