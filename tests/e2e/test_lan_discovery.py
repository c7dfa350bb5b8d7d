"""LAN discovery and pairing by request, for real: mDNS between `orgnode run` processes on a private LAN.

The LAN is built from Linux network namespaces: one namespace holds a bridge, and each node gets
its own namespace with a veth leg on that bridge and an address in 10.231.0.0/24. Nothing is created
in the host's namespace and no traffic leaves these namespaces (mDNS goes only to the bridge).
The namespaces are removed at the end, whatever happens. Needs root and ``ip``; skipped otherwise.

- A (10.231.0.2) and B (10.231.0.3) are real nodes started with `orgnode run` inside their namespaces.
- E (10.231.0.4) is a hostile LAN host announcing orgnode records whose URLs are 127.0.0.1, 0.0.0.0
  and ``::``; a sentinel listener in A's namespace records any connection A would make to them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from protocol.identity import Identity, fingerprint_for
from tests.e2e.cli_helpers import env, orgnode, start_node

pytestmark = pytest.mark.netns

SUBNET = "10.231.0"
PORT = 8470
SENTINEL_PORT = 9470
HOSTILE_URLS = (f"http://127.0.0.1:{SENTINEL_PORT}", f"http://0.0.0.0:{SENTINEL_PORT}", f"http://[::]:{SENTINEL_PORT}")

ANNOUNCER = r"""
import asyncio, json, sys
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf
from protocol.lan_pairing import SERVICE_TYPE, LanAnnouncement

async def main(address, records):
    zc = AsyncZeroconf(interfaces=[address])
    infos = [AsyncServiceInfo(SERVICE_TYPE, f"evil-{i}.{SERVICE_TYPE}", port=9470, server=f"evil-{i}.local.",
                              properties=LanAnnouncement(bytes.fromhex(r["id"]), "Evil", r["url"]).to_txt(),
                              parsed_addresses=[address]) for i, r in enumerate(records)]
    tasks = await asyncio.gather(*(zc.async_register_service(info) for info in infos))
    await asyncio.gather(*tasks)
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main(sys.argv[1], json.loads(sys.argv[2])))
"""

SENTINEL = r"""
import socket, sys, threading
log = open(sys.argv[1], "a", buffering=1)
def serve(family, address):
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    s.bind((address, int(sys.argv[2]))); s.listen(16)
    while True:
        conn, peer = s.accept(); log.write(f"{peer[0]}\n"); conn.close()
threads = [threading.Thread(target=serve, args=(socket.AF_INET, "0.0.0.0"), daemon=True)]
if socket.has_ipv6:
    try:
        socket.socket(socket.AF_INET6).bind(("::1", 0)); threads.append(threading.Thread(target=serve, args=(socket.AF_INET6, "::"), daemon=True))
    except OSError:
        pass
for t in threads: t.start()
print("ready", flush=True)
threading.Event().wait()
"""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=20)


def in_ns(ns: str) -> list[str]:
    return ["ip", "netns", "exec", ns]


@dataclass
class Lan:
    tmp: Path
    prefix: str
    namespaces: list[str] = field(default_factory=list)
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    homes: dict[str, Path] = field(default_factory=dict)
    info: dict[str, dict[str, Any]] = field(default_factory=dict)
    hostile_ids: list[str] = field(default_factory=list)
    sentinel_log: Path | None = None

    def ns(self, name: str) -> str:
        return f"{self.prefix}-{name}"

    def build(self, members: dict[str, int]) -> None:
        sw = self.ns("sw")
        ip("netns", "add", sw)
        self.namespaces.append(sw)
        ip("-n", sw, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0")
        ip("-n", sw, "link", "set", "br0", "up")
        for name, host in members.items():
            ns = self.ns(name)
            ip("netns", "add", ns)
            self.namespaces.append(ns)
            ip("-n", sw, "link", "add", f"v{name}", "type", "veth", "peer", "name", "eth0", "netns", ns)
            ip("-n", sw, "link", "set", f"v{name}", "master", "br0")
            ip("-n", sw, "link", "set", f"v{name}", "up")
            ip("-n", ns, "addr", "add", f"{SUBNET}.{host}/24", "dev", "eth0")
            ip("-n", ns, "link", "set", "eth0", "up")
            ip("-n", ns, "link", "set", "lo", "up")

    def spawn(self, ns: str, code: str, *args: str) -> subprocess.Popen[str]:
        proc = subprocess.Popen([*in_ns(self.ns(ns)), sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env(), stdin=subprocess.DEVNULL)
        self.procs.append(proc)
        line = proc.stdout.readline() if proc.stdout else ""
        if line.strip() != "ready":
            raise AssertionError(f"helper in {ns} did not start: {line} {proc.stderr.read() if proc.stderr else ''}")
        return proc

    def init_and_run(self, name: str, org: str, host: int) -> None:
        home = self.tmp / name
        self.homes[name] = home
        self.info[name] = json.loads(orgnode("--home", str(home), "init", "--name", org, "--sector", "nonprofit",
                                             "--listen", f"{SUBNET}.{host}:{PORT}", "--allow-private-peers", "--json").stdout)
        self.procs.append(start_node(home, wrap=in_ns(self.ns(name))))

    def cli(self, name: str, *args: str, check: bool = True, ns: bool = False) -> subprocess.CompletedProcess[str]:
        return orgnode("--home", str(self.homes[name]), *args, check=check, wrap=in_ns(self.ns(name)) if ns else None)

    def cli_json(self, name: str, *args: str) -> Any:
        return json.loads(self.cli(name, *args, "--json").stdout)

    def sentinel_hits(self) -> list[str]:
        assert self.sentinel_log is not None
        return self.sentinel_log.read_text().split()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
            for stream in (proc.stdout, proc.stderr):
                if stream:
                    stream.close()
        for ns in reversed(self.namespaces):
            ip("netns", "del", ns, check=False)


def netns_unavailable() -> str | None:
    if sys.platform != "linux":
        return "network namespaces are Linux-only"
    if os.geteuid() != 0:
        return "creating network namespaces needs root"
    if shutil.which("ip") is None:
        return "the `ip` command (iproute2) is not installed"
    probe = f"ogt{uuid.uuid4().hex[:6]}-probe"
    made = ip("netns", "add", probe, check=False)
    if made.returncode != 0:
        return f"cannot create a network namespace here: {made.stderr.strip()}"
    try:
        veth = ip("-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1", check=False)
        bridge = ip("-n", probe, "link", "add", "b0", "type", "bridge", check=False)
        if veth.returncode or bridge.returncode:
            return f"cannot create veth/bridge devices here: {(veth.stderr or bridge.stderr).strip()}"
    finally:
        ip("netns", "del", probe, check=False)
    return None


@pytest.fixture(scope="module")
def lan(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lan]:
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    net = Lan(tmp_path_factory.mktemp("lan"), f"ogt{uuid.uuid4().hex[:6]}")
    try:
        net.build({"a": 2, "b": 3, "e": 4})
        net.sentinel_log = net.tmp / "sentinel.log"
        net.sentinel_log.touch()
        net.spawn("a", SENTINEL, str(net.sentinel_log), str(SENTINEL_PORT))
        net.hostile_ids = [Identity.from_random(os.urandom).node_id.hex() for _ in HOSTILE_URLS]
        records = [{"id": i, "url": u} for i, u in zip(net.hostile_ids, HOSTILE_URLS, strict=True)]
        net.spawn("e", ANNOUNCER, f"{SUBNET}.4", json.dumps(records))
        net.init_and_run("a", "Youth Futures", 2)
        net.init_and_run("b", "Green Works", 3)
        yield net
    finally:
        net.close()


def test_discover_lists_the_other_node_with_its_fingerprint_and_no_personal_data(lan):
    nodes = json.loads(lan.cli("a", "discover", "--json", ns=True).stdout)
    by_id = {n["node_id"]: n for n in nodes}
    b = lan.info["b"]
    assert b["node_id"] in by_id, nodes
    seen = by_id[b["node_id"]]
    assert seen["fingerprint"] == b["fingerprint"] == fingerprint_for(bytes.fromhex(b["node_id"]))
    assert seen["url"] == f"http://{SUBNET}.3:{PORT}" and seen["name"] == "Green Works"
    # The TXT record holds exactly the public card facts; names are derived from the node id, not the machine.
    assert seen["txt"] == {"v": "1", "id": b["node_id"], "fp": b["fingerprint"], "name": "Green Works", "url": seen["url"]}
    assert seen["instance"] == f"orgnode-{b['node_id'][:16]}._orgnode._tcp.local."
    assert socket.gethostname() not in json.dumps(seen)
    # The hostile records are listed (discovery only lists), and listing contacted nothing.
    assert set(lan.hostile_ids) <= set(by_id)
    assert lan.sentinel_hits() == []
    human = lan.cli("a", "discover", "--seconds", "1.5", ns=True).stdout
    assert "Green Works" in human and b["fingerprint"] in human


def test_announcements_of_loopback_or_unspecified_urls_cause_no_connection(lan):
    for node_id, url in zip(lan.hostile_ids, HOSTILE_URLS, strict=True):
        result = lan.cli("a", "trust", "request", node_id, check=False)
        assert result.returncode != 0
        assert result.stderr.startswith("orgnode: error: refusing to contact") and url in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert lan.sentinel_hits() == []
    assert lan.cli_json("a", "trust", "list") == []
    # Control: the sentinel does see a connection to those addresses from A's namespace.
    probe = subprocess.run([*in_ns(lan.ns("a")), sys.executable, "-c",
                            f"import socket; socket.create_connection(('127.0.0.1', {SENTINEL_PORT}), timeout=5).close()"],
                           capture_output=True, text=True, timeout=20)
    assert probe.returncode == 0, probe.stderr
    deadline = time.monotonic() + 5
    while not lan.sentinel_hits() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert lan.sentinel_hits() == ["127.0.0.1"]
    lan.sentinel_log.write_text("")


def test_request_pending_approve_then_trusted_and_a_note_syncs(lan):
    a, b = lan.info["a"], lan.info["b"]
    requested = lan.cli_json("a", "trust", "request", b["node_id"])
    assert requested["state"] == "pending_out" and requested["fingerprint"] == b["fingerprint"]

    pending = lan.cli_json("b", "trust", "pending")
    assert [(p["node_id"], p["fingerprint"], p["name"]) for p in pending] == [(a["node_id"], a["fingerprint"], "Youth Futures")]
    assert "pending_in" in lan.cli("b", "trust", "pending").stdout

    # A cannot approve its own outgoing request; nor can B approve a node that never asked.
    refused = lan.cli("a", "trust", "approve", b["node_id"], check=False)
    assert refused.returncode != 0 and "not waiting for approval" in refused.stderr and len(refused.stderr.splitlines()) == 1

    approved = lan.cli("b", "trust", "approve", a["node_id"][:16])
    assert "Now trusting Youth Futures" in approved.stdout
    assert [(p["node_id"], p["state"], p["via"]) for p in lan.cli_json("b", "trust", "list")] == [(a["node_id"], "trusted", "lan")]
    assert [(p["node_id"], p["state"], p["via"]) for p in lan.cli_json("a", "trust", "list")] == [(b["node_id"], "trusted", "lan")]

    again = lan.cli("b", "trust", "approve", a["node_id"], check=False)
    assert again.returncode != 0 and "not waiting for approval (state trusted)" in again.stderr

    lan.cli("b", "note", "post", "Hello across the LAN")
    deadline = time.monotonic() + 15
    while True:
        texts = [n["body"]["text"] for n in lan.cli_json("a", "note", "list") if n.get("body")]
        if "Hello across the LAN" in texts:
            break
        assert time.monotonic() < deadline, texts
        time.sleep(0.2)
    assert lan.sentinel_hits() == []
