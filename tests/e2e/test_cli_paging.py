"""Issue 11 (memory): `job list` and `candidate list` show one page by default and say how to see
the rest; `--offset` pages on, `--all` fetches every page; `--json` stays a plain list. Real `orgnode`
processes against a running node."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, start_node


def test_job_and_candidate_lists_page(tmp_path: Path) -> None:
    home = tmp_path / "home"
    orgnode("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit",
            "--listen", f"127.0.0.1:{free_port()}")
    proc = start_node(home)
    try:
        h = ("--home", str(home))
        titles = [f"Driver {i}" for i in range(3)]
        for title in titles:
            orgnode(*h, "job", "post", "--title", title, "--skills", "driving")
        for i in range(2):
            orgnode(*h, "candidate", "add", "--name", f"Person {i}", "--email", f"p{i}@example.org", "--skills", "excel")

        first = orgnode(*h, "job", "list", "--limit", "2").stdout
        assert "Driver 0" in first and "Driver 1" in first and "Driver 2" not in first
        assert "`--offset 2` shows the next page, `--all` every one" in first
        last = orgnode(*h, "job", "list", "--limit", "2", "--offset", "2").stdout
        assert "Driver 2" in last and "Driver 0" not in last and "--offset" not in last  # the last page: no hint
        every = orgnode(*h, "job", "list", "--all").stdout
        assert all(t in every for t in titles) and "--offset" not in every

        page = orgnode(*h, "job", "list", "--limit", "1", "--json")
        assert [j["title"] for j in json.loads(page.stdout)] == ["Driver 0"]  # a plain list, as before
        assert "--offset 1" in page.stderr
        assert [j["title"] for j in json.loads(orgnode(*h, "job", "list", "--all", "--json").stdout)] == titles

        people = orgnode(*h, "candidate", "list", "--limit", "1").stdout
        assert "Person 0" in people and "Person 1" not in people and "--offset 1" in people
        assert len(json.loads(orgnode(*h, "candidate", "list", "--json").stdout)) == 2

        bad = orgnode(*h, "job", "list", "--limit", "0", check=False)
        assert bad.returncode != 0 and "--limit must be 1 to 1000" in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
