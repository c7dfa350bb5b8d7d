"""`--json` before the command (`orgnode --home A --json status`) means the same as after it (issue 12:
it was refused with a misleading hint); a command with no JSON output says so. The positive control is
the same command without `--json`, which prints text."""

from __future__ import annotations

import json

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode


def test_json_before_the_command_is_the_same_as_after(tmp_path):
    home = str(tmp_path / "a")
    orgnode("--home", home, "init", "--name", "Global Json Org", "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")
    text = orgnode("--home", home, "status").stdout
    assert text.startswith("Global Json Org") and not text.lstrip().startswith("{")  # control: text without --json
    before = json.loads(orgnode("--home", home, "--json", "status").stdout)
    first = json.loads(orgnode("--json", "--home", home, "status").stdout)
    after = json.loads(orgnode("--home", home, "status", "--json").stdout)
    assert before["node_id"] == first["node_id"] == after["node_id"] and before["name"] == "Global Json Org"
    # an error under a leading --json is the JSON error object, as after the command
    failed = orgnode("--home", str(tmp_path / "missing"), "--json", "job", "list", check=False)
    assert failed.returncode != 0 and json.loads(failed.stdout)["error"]["code"] == "user-error"
