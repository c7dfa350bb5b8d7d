"""Five real ``orgnode run`` processes for the soak (bench/soak.py): each in its own home, paired
with every other through the CLI (``invite`` / ``trust accept``), driven afterwards through the admin
API on its Unix socket with the CLI's own client (``node.http.admin_client.AdminClient``), and
restarted with SIGTERM as an admin's ``systemctl restart`` would.

A node's stderr goes to a file in its home (a pipe nobody reads for an hour would fill and block
the node).
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from bench.nodeproc import ORGNODE, env, free_port, orgnode
from node.core.errors import NodeNotRunning, UserError
from node.home import Home
from node.http.admin_client import AdminClient


@dataclass
class SoakNode:
    name: str
    home: Path
    port: int
    node_id: str = ""
    proc: subprocess.Popen[bytes] | None = None
    metrics_url: str | None = None
    starts: int = 0
    _stderr: IO[bytes] | None = field(default=None, repr=False)

    @property
    def admin(self) -> AdminClient:
        return AdminClient(Home(self.home).admin_socket, timeout=60)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None and self.proc.poll() is None else None

    @property
    def health_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/health"

    def call(self, method: str, path: str, body: Any = None, timeout: float | None = None) -> Any:
        return self.admin.call(method, path, body, timeout=timeout)

    def start(self, timeout: float = 90) -> None:
        self._stderr = open(self.home / "node-stderr.log", "ab")  # closed in stop()
        self.proc = subprocess.Popen([*ORGNODE, "--home", str(self.home), "run"], stdout=subprocess.DEVNULL,
                                     stderr=self._stderr, env=env(), stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start: see {self.home / 'node-stderr.log'}")
            try:
                status = self.call("GET", "/status", timeout=3)
                if status.get("running"):
                    self.metrics_url = status.get("metrics_url")
                    self.starts += 1
                    return
            except (NodeNotRunning, UserError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} did not start within {timeout} s")
            time.sleep(0.2)  # polling the admin socket until the node answers

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def restart(self) -> float:
        """SIGTERM, then ``orgnode run`` again; returns the seconds until it answered."""
        began = time.monotonic()
        self.stop()
        self.start()
        return time.monotonic() - began

    def metrics_text(self, timeout: float = 5) -> str | None:
        if not self.metrics_url:
            return None
        with urllib.request.urlopen(self.metrics_url, timeout=timeout) as response:
            return str(response.read().decode())


def make_cluster(root: Path, count: int, sync_interval: float) -> list[SoakNode]:
    """``count`` nodes, initialised, started and paired with each other (a full mesh)."""
    from tests.config_files import update_config

    nodes = []
    for i in range(count):
        name = f"soak{i}"
        home = root / name
        port = free_port()
        data = json.loads(orgnode(home, "init", "--name", f"Soak Org {i}", "--sector", "nonprofit", "--listen",
                                  f"127.0.0.1:{port}", "--allow-private-peers", "--json").stdout)
        update_config(home, sync_interval=sync_interval, lan_discovery=False)
        nodes.append(SoakNode(name, home, port, str(data["node_id"])))
    for node in nodes:
        node.start()
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            token = json.loads(orgnode(a.home, "invite", "--expires", "1h", "--json").stdout)["token"]
            orgnode(b.home, "trust", "accept", token, "--json")
    return nodes
