"""Issue 8 item 11: a node that runs out of file descriptors (EMFILE) backs off instead of spinning
or crashing, logs that in a few JSON lines, and serves again once descriptors are free.

A real `orgnode run` in a subprocess with RLIMIT_NOFILE lowered to a few dozen; the test holds more
connections than the node has descriptors left, so its accept loop hits EMFILE."""

from __future__ import annotations

import json
import resource
import socket
import subprocess
import time
from pathlib import Path

from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import ORGNODE, env, orgnode, wait_for

FD_LIMIT = 40  # the node needs about a dozen descriptors of its own


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s on Linux


def health(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return s.recv(64).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def emfile_lines(log: Path) -> list[dict]:
    records = [json.loads(line) for line in log.read_text().splitlines() if line.strip()]
    return [r for r in records if r.get("logger") == "asyncio" and "out of system resource" in r["event"]]


def test_out_of_file_descriptors_the_node_backs_off_and_serves_again(tmp_path):
    home, port = tmp_path / "node", free_port()
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", f"127.0.0.1:{port}")
    # No per-address cap or read timeout in the way: this test is about the descriptor limit itself.
    update_config(home, lan_discovery=False, max_connections_per_address=10_000, read_timeout=120)
    log = tmp_path / "node.log"
    with log.open("w") as stderr:
        proc = subprocess.Popen([*ORGNODE, "--home", str(home), "run"], stdout=subprocess.DEVNULL, stderr=stderr, env=env(),
                                stdin=subprocess.DEVNULL,
                                preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, FD_LIMIT)))
    held: list[socket.socket] = []
    try:
        wait_for(lambda: health(port), 20, "the node to serve")
        for _ in range(FD_LIMIT + 10):  # more than the node can accept: the kernel queues the rest
            held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        wait_for(lambda: len(emfile_lines(log)) >= 1, 10, "the node to hit EMFILE")
        cpu_before, seen = cpu_seconds(proc.pid), time.monotonic()
        wait_for(lambda: len(emfile_lines(log)) >= 3, 10, "two more accept retries")  # about 2 s of back-off
        elapsed, cpu = time.monotonic() - seen, cpu_seconds(proc.pid) - cpu_before
        assert proc.poll() is None, "the node crashed"
        assert elapsed >= 1.5  # the retries are spaced by the back-off, not back to back
        assert cpu < 0.5 * elapsed, f"the node spun: {cpu:.2f} s CPU in {elapsed:.2f} s"
        for s in held:
            s.close()
        held.clear()
        wait_for(lambda: health(port), 10, "the node to serve again once descriptors are free")
        assert proc.poll() is None
    finally:
        for s in held:
            s.close()
        proc.terminate()
        proc.wait(timeout=15)
    lines = log.read_text().splitlines()
    assert all(isinstance(json.loads(line), dict) for line in lines if line.strip())  # every line JSON
    assert all("Traceback" not in line for line in lines)
    assert len(lines) < 60  # a few lines, not one per failed accept
