"""sec10 finding: the /metrics listener has none of the federation port's connection guards.

``NodeRuntime._start_metrics`` serves the metrics app on a plain ``web.TCPSite``: no request-head
timeout, no per-source or node-wide connection cap, no EMFILE back-off (node/http/conn_guard.py is
installed on the federation runner only). Any local user (the listener is loopback, but shared by
every account on the machine; with ``metrics_allow_remote`` anyone on the network) can hold
half-open connections forever and exhaust the node's file descriptors, after which the federation
port cannot accept partners any more (THREATS row 22 asks: closed within the timeout, node keeps
answering).
"""

from __future__ import annotations

import json
import signal
import socket
import time
import urllib.request
from urllib.parse import urlparse

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node

READ_TIMEOUT = 2.0


def _node(tmp_path, wrap=None):
    home = tmp_path / "a"
    port = free_port()
    orgnode_json("--home", str(home), "init", "--name", "Sec Ten", "--sector", "nonprofit", "--listen", f"127.0.0.1:{port}")
    config = home / "config.toml"
    lines = [ln for ln in config.read_text().splitlines() if not ln.startswith(("read_timeout", "lan_advertise"))]
    config.write_text("\n".join([*lines, f"read_timeout = {READ_TIMEOUT}", "lan_advertise = false", ""]))
    proc = start_node(home, wrap=wrap)
    status = json.loads(orgnode("--home", str(home), "status", "--json").stdout)
    return proc, port, urlparse(status["metrics_url"]).port


def _half_open(port: int, n: int) -> list[socket.socket]:
    out = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # a request head that never ends
        out.append(s)
    return out


def _alive(s: socket.socket) -> bool:
    s.setblocking(False)
    try:
        return s.recv(1) != b""
    except BlockingIOError:
        return True
    except OSError:
        return False


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()


def test_half_open_metrics_connections_are_closed_within_the_read_timeout(tmp_path):
    proc, _, metrics_port = _node(tmp_path)
    socks = []
    try:
        socks = _half_open(metrics_port, 40)
        time.sleep(READ_TIMEOUT * 3 + 2)
        alive = sum(_alive(s) for s in socks)
        assert alive == 0, f"{alive} of {len(socks)} half-open metrics connections still open after {READ_TIMEOUT * 3 + 2} s"
        with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as resp:  # control: it serves
            assert resp.status == 200 and b"orgnode_" in resp.read()
    finally:
        for s in socks:
            s.close()
        _stop(proc)


def test_a_local_user_flooding_the_metrics_port_does_not_stop_the_federation_port(tmp_path):
    proc, fed_port, metrics_port = _node(tmp_path, wrap=["prlimit", "--nofile=256:256", "--"])
    socks = []
    try:
        for _ in range(300):  # more than the node can hold; the kernel keeps completing handshakes into the backlog
            try:
                socks += _half_open(metrics_port, 1)
            except OSError:
                break
        time.sleep(READ_TIMEOUT * 2)
        with urllib.request.urlopen(f"http://127.0.0.1:{fed_port}/health", timeout=5) as resp:
            assert resp.status == 200
    finally:
        for s in socks:
            s.close()
        _stop(proc)
