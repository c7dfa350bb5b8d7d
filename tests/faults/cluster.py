"""Node processes for the fault suite: the real ``orgnode run``, each with its own home and 127.0.0.x
address, reachable by its partners only through its ``LinkHub`` (tests/faults/link.py).

Built on tests/e2e/cli_helpers.py (``orgnode``, ``start_node``, ``query``, ``wait_for``): a node is
driven through the CLI as its admin would, and read through its SQLite file opened read-only.
Timers are short (``SYNC_INTERVAL``, ``RETRY_CAP``) so "converged within backoff cap + two sync
intervals" is a few seconds.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.config_files import update_config
from tests.e2e.cli_helpers import orgnode, orgnode_json, query, start_node, wait_for
from tests.faults.link import Link, LinkHub, Network

SYNC_INTERVAL = 0.5
RETRY_BASE = 0.3
RETRY_CAP = 2.0
# After every start a node confirms its own head with its partners before it signs (issue 10 item 2,
# any rollback); an unreachable partner is waited for this long once another one answered.
OWN_LOG_CONFIRM_S = 3.0
START_CHECK_REFUSAL = "waiting to confirm its own log"
# Backoff cap + two sync intervals, plus room for process start-up and a loaded 2-core machine.
CONVERGE_S = RETRY_CAP + 2 * SYNC_INTERVAL + 20.0


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class StartCheckWaiting(Exception):
    """A node that was (re)started with every partner cut off cannot sign yet: a correct refusal."""


@dataclass
class Node:
    """One node process: ``home`` on disk, real listen address ``host:port``, published URL ``hub.url``."""

    name: str
    home: Path
    host: str
    port: int
    hub: LinkHub
    node_id: str = ""
    clock_offset_s: float = 0.0
    proc: subprocess.Popen[str] | None = None
    logs: list[str] = field(default_factory=list)  # stderr of every finished process
    acked: list[str] = field(default_factory=list)  # ids of the statements the CLI acknowledged

    @property
    def id(self) -> bytes:
        return bytes.fromhex(self.node_id)

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return orgnode("--home", str(self.home), *args, check=check)

    def json(self, *args: str):
        return orgnode_json("--home", str(self.home), *args)

    def env(self) -> dict[str, str]:
        return {"ORGNODE_CLOCK_OFFSET": str(self.clock_offset_s)} if self.clock_offset_s else {}

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def start(self) -> None:
        assert not self.running
        self.proc = start_node(self.home, extra_env=self.env())

    def kill(self) -> None:
        """kill -9: no clean shutdown, nothing flushed beyond what SQLite already made durable."""
        assert self.proc is not None
        self.proc.kill()
        self._reap(-signal.SIGKILL)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self._reap(0)

    def _reap(self, expected: int) -> None:
        assert self.proc is not None
        code = self.proc.wait(timeout=30)
        _, err = self.proc.communicate(timeout=10)
        self.logs.append(err)
        self.proc = None
        assert code == expected, f"{self.name} exited {code}, expected {expected}:\n{err[-2000:]}"

    def signing(self, *args: str) -> Any:
        """An own append through the CLI. Right after a start the node refuses to sign until its partners
        confirmed its own log (or, once one did, for ``OWN_LOG_CONFIRM_S``); the call is repeated while
        it says so, as an admin would, for at most CONVERGE_S. ``StartCheckWaiting`` when no partner
        answered in that time (all of them cut off): the post is refused, so nothing is acknowledged."""
        deadline = time.monotonic() + CONVERGE_S
        while True:
            result = self.cli(*args, "--json", check=False)
            if result.returncode == 0:
                return json.loads(result.stdout)
            if START_CHECK_REFUSAL not in result.stdout:
                raise AssertionError(f"orgnode {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
            if time.monotonic() > deadline:
                raise StartCheckWaiting(f"{self.name} still waits for its partners to confirm its own log")
            time.sleep(0.2)  # polling the refusal, which is the condition waited on

    def post_note(self, text: str) -> str:
        """Post a note; once the CLI answers with its id, the statement is acknowledged."""
        sid = str(self.signing("note", "post", text)["statement_id"])
        self.acked.append(sid)
        return sid

    def post_job(self, title: str) -> str:
        """Post a job; its answer names the job, so the acknowledged statement is the newest in the
        own log (this test is the node's only writer)."""
        before = self.q("SELECT MAX(seq) FROM entries WHERE author = ?", (self.id,))[0][0]
        self.signing("job", "post", "--title", title, "--skills", "youth work")
        rows = self.q("SELECT id, seq FROM entries WHERE author = ? AND kind = 'job' ORDER BY seq DESC LIMIT 1", (self.id,))
        assert rows and rows[0][1] > before, f"{self.name}: the job post left no statement in the own log"
        sid = bytes(rows[0][0]).hex()
        self.acked.append(sid)
        return sid

    def q(self, sql: str, params: tuple = ()) -> list[tuple]:
        return query(self.home, sql, params)

    def held_ids(self, author: bytes) -> set[str]:
        return {bytes(r[0]).hex() for r in self.q("SELECT id FROM entries WHERE author = ?", (author,))}

    def all_logs(self) -> str:
        return "".join(self.logs)


class Cluster:
    """Nodes on 127.0.0.2, .3, ... and the links between them; ``close()`` kills what is left."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.net = Network()
        self.nodes: list[Node] = []

    def add(self, name: str, clock_offset_s: float = 0.0, home: Path | None = None) -> Node:
        host = f"127.0.0.{len(self.nodes) + 2}"
        port = free_port(host)
        hub = self.net.hub(name, host, (host, port))
        home = home or self.root / name
        data = orgnode_json("--home", str(home), "init", "--name", f"{name} Org", "--sector", "nonprofit",
                            "--listen", f"{host}:{port}", "--url", hub.url, "--allow-private-peers")
        update_config(home, sync_interval=SYNC_INTERVAL, retry_base=RETRY_BASE, retry_cap=RETRY_CAP, lan_discovery=False,
                      own_log_confirm_timeout=OWN_LOG_CONFIRM_S)
        node = Node(name, home, host, port, hub, str(data["node_id"]), clock_offset_s)
        self.nodes.append(node)
        return node

    def pair(self, a: Node, b: Node) -> None:
        """``a`` invites, ``b`` accepts (both running), through the links; then each has the other's card."""
        token = a.json("invite", "--expires", "1h")["token"]
        assert b.json("trust", "accept", token)["state"] == "trusted"
        a.hub.link_from(b.node_id, b.name)
        b.hub.link_from(a.node_id, a.name)
        a.hub.reset()  # the pairing connections were unclassified: let every sender reconnect as itself
        b.hub.reset()
        wait_for(lambda: b.id in {bytes(r[0]) for r in a.q("SELECT node_id FROM peers WHERE state = 'trusted'")},
                 CONVERGE_S, f"{a.name} to trust {b.name}")

    def link(self, src: Node, dst: Node) -> Link:
        """The directed link carrying ``src``'s requests (pushes and pulls) into ``dst``."""
        return dst.hub.link_from(src.node_id, src.name)

    def partition(self, a: Node, b: Node) -> None:
        self.link(a, b).partition()
        self.link(b, a).partition()

    def heal(self, a: Node, b: Node) -> None:
        self.link(a, b).heal()
        self.link(b, a).heal()

    def trusted_pairs(self) -> list[tuple[Node, Node]]:
        """(holder, author) for every node and every author it trusts now."""
        pairs = []
        for holder in self.nodes:
            trusted = {bytes(r[0]) for r in holder.q("SELECT node_id FROM peers WHERE state = 'trusted'")}
            pairs += [(holder, author) for author in self.nodes if author.id in trusted]
        return pairs

    def close(self) -> None:
        for node in self.nodes:
            if node.running:
                assert node.proc is not None
                node.proc.kill()
                node.proc.wait(timeout=10)
        self.net.close()
