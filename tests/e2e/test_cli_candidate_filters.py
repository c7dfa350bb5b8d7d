"""Issue 12 item 4: `candidate list --skill/--medal/--consent/--search`, filtered by the node in SQL,
paged like every long list, `--json` a plain list. Real `orgnode` processes against a running node."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, start_node


def names(home: Path, *filters: str) -> list[str]:
    out = orgnode("--home", str(home), "candidate", "list", "--all", "--json", *filters).stdout
    return [c["name"] for c in json.loads(out)]


def test_candidate_list_filters_and_pages(tmp_path: Path) -> None:
    home = tmp_path / "home"
    orgnode("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit",
            "--listen", f"127.0.0.1:{free_port()}")
    proc = start_node(home)
    try:
        h = ("--home", str(home))
        consent = ("--consent-scope", "all", "--consent-evidence", "signed form")
        orgnode(*h, "candidate", "add", "--name", "Amina Diallo", "--email", "amina@example.org",
                "--skills", "forklift, team leadership", "--medal", "silver", "--consent", "match,refer", *consent)
        orgnode(*h, "candidate", "add", "--name", "Bo Lindqvist", "--email", "bo@example.org",
                "--skills", "forklift", "--consent", "match", *consent)
        orgnode(*h, "candidate", "add", "--name", "Chidi Okafor", "--email", "chidi@DIALLO.example",
                "--skills", "excel", "--medal", "bronze")

        assert names(home) == ["Amina Diallo", "Bo Lindqvist", "Chidi Okafor"]  # control: no filter, all of them
        assert names(home, "--skill", "forklift") == ["Amina Diallo", "Bo Lindqvist"]
        assert names(home, "--skill", "Forklift", "--skill", "team leadership") == ["Amina Diallo"]
        assert names(home, "--skill", "welding") == []
        assert names(home, "--medal", "silver") == ["Amina Diallo"]
        assert names(home, "--consent", "refer") == ["Amina Diallo"]
        assert names(home, "--consent", "match") == ["Amina Diallo", "Bo Lindqvist"]
        assert names(home, "--consent", "none") == ["Chidi Okafor"]
        assert names(home, "--search", "diallo") == ["Amina Diallo", "Chidi Okafor"]  # name or email, any case
        assert names(home, "--search", "diallo", "--medal", "bronze") == ["Chidi Okafor"]

        page = orgnode(*h, "candidate", "list", "--skill", "forklift", "--limit", "1").stdout
        assert "Amina Diallo" in page and "Bo Lindqvist" not in page and "--offset 1" in page
        rest = orgnode(*h, "candidate", "list", "--skill", "forklift", "--limit", "1", "--offset", "1").stdout
        assert "Bo Lindqvist" in rest and "Amina Diallo" not in rest and "--offset" not in rest
        none = orgnode(*h, "candidate", "list", "--search", "nobody-like-this").stdout
        assert "No candidate fits these filters." in none

        bad = orgnode(*h, "candidate", "list", "--consent", "maybe", check=False)
        assert bad.returncode != 0 and "maybe" in bad.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
