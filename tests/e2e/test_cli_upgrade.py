"""The current `orgnode` runs homes written by every released schema (issue 10 item 8).

Each fixture home (tests/fixtures/schema/, made by the released code's own CLI) is started with
today's code: its database migrates on start, its config.json becomes config.toml, and the two
nodes, paired by the old code, still show their job, candidate and consent and still federate (a
job posted after the upgrade reaches the partner). A home whose database a newer orgnode wrote is
refused with one clear line and left as it was.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_helpers import REPO, orgnode, start_node, wait_for

FIXTURES = REPO / "tests" / "fixtures" / "schema"
PAIRED = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").exists()
                and json.loads((p / "manifest.json").read_text()).get("paired"))


def js(home: Path, *args: str) -> Any:
    return json.loads(orgnode("--home", str(home), *args, "--json").stdout)


def stop(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


@pytest.mark.parametrize("version", PAIRED)
def test_upgraded_homes_run_and_still_federate(tmp_path, version):
    shutil.copytree(FIXTURES / version, tmp_path / version)
    a, b = tmp_path / version / "a", tmp_path / version / "b"
    manifest = json.loads((tmp_path / version / "manifest.json").read_text())
    # Versions before allow_private_peers existed reached loopback peers without it; today's
    # address rule needs it (docs/deploy.md "Upgrading"), so the test sets it as an admin would.
    loopback = {"ORGNODE_ALLOW_PRIVATE_PEERS": "true"}
    procs = [start_node(a, extra_env=loopback), start_node(b, extra_env=loopback)]
    try:
        assert (a / "config.toml").exists()  # config.json migrated on first open
        assert {p["node_id"] for p in js(a, "trust", "list") if p["state"] == "trusted"} == {manifest["b"]["node_id"]}
        if "job_id" in manifest["a"]:
            assert manifest["a"]["job_id"] in {j["job_id"] for j in js(b, "job", "list")}
            candidates = {c["candidate_id"]: c for c in js(b, "candidate", "list")}
            consents = candidates[manifest["b"]["candidate_id"]]["consents"]
            assert [sorted(c["purposes"]) for c in consents] == [["match", "refer"]]
            assert [c["state"] for c in consents] == ["given"]
        posted = js(a, "job", "post", "--title", "Posted after the upgrade", "--skills", "excel")["job_id"]
        wait_for(lambda: posted in {j["job_id"] for j in js(b, "job", "list")}, 30, "the new job at the partner")
    finally:
        for proc in procs:
            stop(proc)
    with sqlite3.connect(a / "orgnode.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_a_database_from_a_newer_orgnode_is_refused(tmp_path):
    home = tmp_path / "v012d"
    shutil.copytree(FIXTURES / "v012d" / "a", home)
    proc = start_node(home)  # positive control: the home runs (and is upgraded to today's schema)
    stop(proc)
    conn = sqlite3.connect(home / "orgnode.db")
    with conn:
        conn.execute("INSERT INTO migrations (name, applied_at) VALUES ('999_from_the_future', 0)")
    conn.close()  # checkpoints the WAL into the file
    assert not (home / "orgnode.db-wal").exists()
    before = hashlib.sha256((home / "orgnode.db").read_bytes()).hexdigest()
    result = orgnode("--home", str(home), "run", check=False)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("orgnode: error: ") and "newer orgnode" in line and "999_from_the_future" in line
    assert "restore it from a backup" not in line
    assert hashlib.sha256((home / "orgnode.db").read_bytes()).hexdigest() == before
