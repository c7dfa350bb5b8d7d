"""Regressions found by acceptance testing: each of these once misbehaved for a real user."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

from tests.conftest import free_port
from tests.e2e.cli_helpers import ORGNODE, env, orgnode, orgnode_json, start_node


def test_init_refuses_an_empty_name_and_leaves_nothing_behind(tmp_path):
    home = tmp_path / "h"
    result = orgnode("--home", str(home), "init", "--name", " ", "--sector", "other", "--listen", "127.0.0.1:9", check=False)
    assert result.returncode == 1 and "--name" in result.stderr and "Traceback" not in result.stderr
    assert not home.exists()
    orgnode("--home", str(home), "init", "--name", "Fine", "--sector", "other", "--listen", "127.0.0.1:9")


@pytest.fixture
def node(tmp_path):
    home = tmp_path / "n"
    orgnode("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit", "--listen",
            f"127.0.0.1:{free_port()}")
    proc = start_node(home)
    yield home
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_user_input_edges_on_a_running_node(node, tmp_path):
    home = str(node)
    # hops 0 is refused, not silently changed.
    bad = orgnode("--home", home, "job", "post", "--title", "X", "--skills", "a", "--hops", "0", check=False)
    assert bad.returncode == 1 and "--hops" in bad.stderr
    job = orgnode_json("--home", home, "job", "post", "--title", "Cook", "--skills", "cooking")
    # Ids may be given by a unique prefix (8+ hex characters), as the docs show.
    exported = json.loads(orgnode("--home", home, "job", "export", job["job_id"][:8]).stdout)
    assert exported["title"] == "Cook"
    short = orgnode("--home", home, "job", "export", "abc", check=False)
    assert short.returncode == 1 and "first 8" in short.stderr
    # A consent scope must name a real sector.
    scoped = orgnode("--home", home, "candidate", "add", "--name", "A", "--email", "a@example.org", "--skills", "cooking",
                     "--consent", "match,refer", "--consent-scope", "sector:bogus", "--consent-evidence", "form", check=False)
    assert scoped.returncode == 1 and "sector" in scoped.stderr
    # A scope without a consent is a mistake, not silently ignored.
    loose = orgnode("--home", home, "candidate", "add", "--name", "B", "--email", "b@example.org", "--skills", "cooking",
                    "--consent-scope", "sector:company", check=False)
    assert loose.returncode == 1 and "--consent" in loose.stderr
    # A Windows-1252 CSV (what spreadsheet programs save by default) imports, with a note.
    csv = tmp_path / "latin1.csv"
    csv.write_bytes("name,email,skills\nJos\xe9 Garc\xeda,jose@example.org,cooking\n".encode("cp1252"))
    imported = orgnode("--home", home, "candidate", "import", str(csv))
    assert "Imported 1" in imported.stdout and "Windows-1252" in imported.stderr
    names = [c["name"] for c in orgnode_json("--home", home, "candidate", "list")]
    assert "José García" in names
    # The same person twice is refused.
    again = orgnode("--home", home, "candidate", "add", "--name", "Jose", "--email", "JOSE@example.org", "--skills", "x", check=False)
    assert again.returncode == 1 and "already recorded" in again.stderr
    # An export to a folder that does not exist fails before the node signs anything.
    before = len(orgnode_json("--home", home, "log"))
    failed = orgnode("--home", home, "impact", "--export", str(tmp_path / "missing" / "x.bundle"), check=False)
    assert failed.returncode == 1 and "does not exist" in failed.stderr
    assert len(orgnode_json("--home", home, "log")) == before
    # Nothing pending is said as such.
    assert "No pairing requests" in orgnode("--home", home, "trust", "pending").stdout


def test_demo_keep_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen([*ORGNODE, "demo", "--keep", "--dir", str(tmp_path / "demo")], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=env(), stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    assert proc.stdout is not None
    for line in proc.stdout:
        if "keep running" in line or time.monotonic() > deadline:
            break
    proc.send_signal(signal.SIGTERM)  # the demo installs its handlers before it prints that line
    assert proc.wait(timeout=30) == 0
    assert not list((tmp_path / "demo").rglob("admin.sock")) and not list((tmp_path / "demo").rglob("node.pid"))
