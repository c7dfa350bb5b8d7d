"""Running the real `orgnode` command as a user would, in subprocesses."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ORGNODE = [sys.executable, "-m", "node.cli.main"]
REPO = Path(__file__).resolve().parents[2]


def env(**extra: str) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("ORGNODE_")}
    e["PYTHONPATH"] = str(REPO)
    e.update(extra)
    return e


def orgnode(
    *args: str, check: bool = True, extra_env: dict[str, str] | None = None, timeout: float = 60, wrap: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``orgnode ARGS``; ``wrap`` prefixes the command (e.g. ``["ip", "netns", "exec", NS]``)."""
    result = subprocess.run(
        [*(wrap or []), *ORGNODE, *args], capture_output=True, text=True, env=env(**(extra_env or {})), timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"orgnode {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def orgnode_json(*args: str, extra_env: dict[str, str] | None = None) -> Any:
    return json.loads(orgnode(*args, "--json", extra_env=extra_env).stdout)


def start_node(home: Path, extra_env: dict[str, str] | None = None, wrap: list[str] | None = None) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*(wrap or []), *ORGNODE, "--home", str(home), "run"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env(**(extra_env or {})),
        stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"node exited early: {proc.stderr.read() if proc.stderr else ''}")
        status = orgnode("--home", str(home), "status", "--json", check=False)
        if status.returncode == 0 and json.loads(status.stdout)["running"]:
            return proc
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("node did not start within 20 s")


def query(home: Path, sql: str, params: tuple = ()) -> list[tuple]:
    """Read a node's database read-only (safe while it runs: WAL readers never block it)."""
    conn = sqlite3.connect(f"file:{home / 'orgnode.db'}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def wait_for(cond, timeout: float, what: str):
    """Poll ``cond`` until it returns something truthy (returned), or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
