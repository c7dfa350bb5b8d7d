"""Issue 9 item 8 as an admin meets it: a config.json with a wrong value or a misspelt key stops
`orgnode run` with one line naming the key and the allowed form, before anything is opened."""

from __future__ import annotations

import json

import pytest

from tests.e2e.cli_helpers import orgnode


@pytest.mark.parametrize(("change", "says"), [
    ({"lan_discovery": "no"}, 'config key lan_discovery must be true or false, got "no"'),
    ({"sync_interval": 0}, "config key sync_interval must be a number of seconds from 0.1 to 86400, got 0"),
    ({"sync_intervall": 5}, 'config key "sync_intervall" is not a setting (did you mean sync_interval?)'),
])
def test_run_refuses_a_bad_config_naming_the_key(tmp_path, change, says):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    config = json.loads((home / "config.json").read_text())
    before = (home / "orgnode.db").read_bytes()
    (home / "config.json").write_text(json.dumps({**config, **change}))
    result = orgnode("--home", str(home), "run", check=False, timeout=30)
    assert result.returncode == 1
    assert says in result.stderr and "config.json" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (home / "orgnode.db").read_bytes() == before and not (home / "node.pid").exists()
    (home / "config.json").write_text(json.dumps(config))  # positive control: the file as init wrote it is fine
    assert orgnode("--home", str(home), "log", "--json", check=False).returncode == 0
