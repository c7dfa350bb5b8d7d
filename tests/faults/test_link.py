"""The links themselves (link.py): each fault does what it says, on a real TCP echo server."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.e2e.cli_helpers import wait_for
from tests.faults.link import Network

ORIGIN = "ab" * 32
HEAD = f"POST /x HTTP/1.1\r\nHost: h\r\nAuthorization: OrgNode v=1,origin={ORIGIN},dest=00\r\n\r\n".encode()


class Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def hub() -> Iterator:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Echo)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    net = Network()
    try:
        yield net.hub("E", "127.0.0.1", server.server_address)
    finally:
        net.close()
        server.shutdown()
        server.server_close()


def exchange(hub, payload: bytes = b"", head: bytes = HEAD) -> bytes:
    """Send a request head (+ payload) through the hub; return what came back before EOF or reset."""
    got = b""
    with socket.create_connection(("127.0.0.1", hub.port), timeout=5) as s:
        try:
            s.sendall(head + payload)
            s.shutdown(socket.SHUT_WR)
            while chunk := s.recv(65536):
                got += chunk
        except ConnectionResetError:
            pass
    return got


def test_the_sender_picks_its_link_and_partition_heal_cut_drop_work(hub):
    link = hub.link_from(ORIGIN, "X")
    assert exchange(hub, b"hello") == HEAD + b"hello"  # positive control: through, echoed
    assert link.connections == 1 and hub.default.connections == 0
    link.partition()
    assert exchange(hub, b"hello") == b"" and link.refused == 1
    assert exchange(hub, b"hi", head=b"GET /card HTTP/1.1\r\n\r\n") == b"GET /card HTTP/1.1\r\n\r\nhi"  # other senders pass
    link.heal()
    link.cut_after(len(HEAD) + 10)
    assert len(exchange(hub, b"x" * 1000)) <= len(HEAD) + 10  # reset after n bytes
    link.heal()
    link.drop(1.0)
    assert exchange(hub, b"hello") == b""
    link.heal()
    link.delay(100)
    started = time.monotonic()
    assert exchange(hub, b"slow") == HEAD + b"slow" and time.monotonic() - started >= 0.1


def test_flap_goes_down_and_up_until_healed(hub):
    link = hub.link_from(ORIGIN, "X")
    link.flap(0.3)
    wait_for(lambda: link.down, 5, "the flap to go down")
    wait_for(lambda: not link.down, 5, "the flap to come up again")
    link.heal()
    assert not link.down and exchange(hub, b"ok") == HEAD + b"ok"
