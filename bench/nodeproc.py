"""A real ``orgnode run`` process in a temporary home, for the benchmarks that measure a whole node
from outside (bench.startup, bench.memory): started with the CLI, waited for through ``status``,
stopped with SIGTERM."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ORGNODE = [sys.executable, "-m", "node.cli.main"]
REPO = Path(__file__).resolve().parents[1]


def env() -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ORGNODE_")}
    e["PYTHONPATH"] = str(REPO)
    return e


def orgnode(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([*ORGNODE, "--home", str(home), *args], capture_output=True, text=True, env=env(),
                            stdin=subprocess.DEVNULL, timeout=600)
    if check and result.returncode:
        raise RuntimeError(f"orgnode {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def init_home(home: Path, name: str = "Bench Org") -> None:
    orgnode(home, "init", "--name", name, "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}",
            "--allow-private-peers", "--json")


@dataclass
class RunningNode:
    home: Path
    proc: subprocess.Popen[str]

    def rss_kb(self) -> int:
        """The node process's resident set (VmRSS in /proc/PID/status), in KiB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")


@contextlib.contextmanager
def running(home: Path, timeout: float = 60) -> Iterator[RunningNode]:
    """``orgnode run`` on ``home`` until the block ends (SIGTERM, then a kill if it does not stop)."""
    proc = subprocess.Popen([*ORGNODE, "--home", str(home), "run"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, env=env(), stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"node exited: {proc.stderr.read() if proc.stderr else ''}")
            status = orgnode(home, "status", "--json", check=False)
            if status.returncode == 0 and json.loads(status.stdout)["running"]:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("node did not start")
            time.sleep(0.2)
        yield RunningNode(home, proc)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def temp_home() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="orgnode-bench-") as tmp:
        yield Path(tmp) / "home"


def wall_ms(cmd: list[str], environ: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=environ or env(), stdin=subprocess.DEVNULL,
                   check=True)
    return (time.perf_counter() - start) * 1000
