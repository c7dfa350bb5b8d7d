"""Issue 9 item 8 and issue 10 item 1 as an admin meets them: a config.toml with a wrong value, a
misspelt key or a TOML syntax error, or a bad ``ORGNODE_<KEY>`` variable, stops `orgnode run` with one
line naming the key (or variable) and the allowed form, before anything is opened; an old config.json
home is migrated and runs with its settings; a variable overrides the file."""

from __future__ import annotations

import json
import signal

import pytest

from tests.config_files import read_config, write_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node


def refused(home, says: str, extra_env: dict[str, str] | None = None) -> None:
    before = (home / "orgnode.db").read_bytes()
    result = orgnode("--home", str(home), "run", check=False, timeout=30, extra_env=extra_env)
    assert result.returncode == 1
    assert says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (home / "orgnode.db").read_bytes() == before and not (home / "node.pid").exists()


@pytest.mark.parametrize(("change", "says"), [
    ({"lan_discovery": "no"}, 'config key lan_discovery must be true or false, got "no"'),
    ({"sync_interval": 0}, "config key sync_interval must be a number of seconds from 0.1 to 86400, got 0"),
    ({"sync_intervall": 5}, 'config key "sync_intervall" is not a setting (did you mean sync_interval?)'),
])
def test_run_refuses_a_bad_config_naming_the_key(tmp_path, change, says):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    config = read_config(home)
    write_config(home, {**config, **change})
    refused(home, says)
    write_config(home, config)  # positive control: the file as init wrote it is fine
    assert orgnode("--home", str(home), "log", "--json", check=False).returncode == 0


def test_run_reports_a_toml_syntax_error_with_its_line(tmp_path):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    text = (home / "config.toml").read_text()
    (home / "config.toml").write_text(text + "lan_discovery = no\n")
    line = len(text.splitlines()) + 1
    refused(home, f"config.toml is not valid TOML (Invalid value (at line {line}, column 17))")
    (home / "config.toml").write_text(text)  # positive control
    assert orgnode("--home", str(home), "log", "--json", check=False).returncode == 0


def test_a_bad_environment_override_is_refused_naming_the_variable(tmp_path):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    refused(home, 'environment variable ORGNODE_LAN_DISCOVERY must be true or false, got "no"',
            {"ORGNODE_LAN_DISCOVERY": "no"})
    refused(home, "environment variable ORGNODE_LISTEN_PORT must be a whole number from 0 to 65535",
            {"ORGNODE_LISTEN_PORT": "http"})


def test_an_old_config_json_home_is_migrated_and_runs_with_an_env_override(tmp_path):
    """A home as the previous release made it (config.json, no config.toml) starts: its settings are
    kept in a 0600 config.toml, the old file is kept as config.json.migrated (logged), and an
    ``ORGNODE_LISTEN_PORT`` variable wins over the file's port."""
    home, port, env_port = tmp_path / "h", free_port(), free_port()
    orgnode("--home", str(home), "init", "--name", "Old Home", "--sector", "company", "--listen", f"127.0.0.1:{port}")
    old = {**read_config(home), "sync_interval": 7.5, "lan_discovery": False, "lan_interface": None}
    (home / "config.json").write_text(json.dumps(old, indent=2))
    (home / "config.toml").unlink()
    proc = start_node(home, extra_env={"ORGNODE_LISTEN_PORT": str(env_port)})
    try:
        status = orgnode_json("--home", str(home), "status", extra_env={"ORGNODE_LISTEN_PORT": str(env_port)})
        assert str(env_port) in json.dumps(status), status  # the variable's port, not the file's
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    # `run` or the concurrent `status` of start_node migrated it (the unit test checks the log line): once.
    assert err.count('"config.migrated"') <= 1
    assert not (home / "config.json").exists()
    assert json.loads((home / "config.json.migrated").read_text()) == old
    assert (home / "config.toml").stat().st_mode & 0o777 == 0o600
    kept = read_config(home)
    assert kept == {k: v for k, v in old.items() if v is not None}  # values kept; the file's port, not the variable's
    assert orgnode("--home", str(home), "log", "--json", check=False).returncode == 0  # and opens from config.toml


def test_a_misspelt_or_unknown_orgnode_variable_is_warned_about_by_name(tmp_path):
    """acc10: `ORGNODE_SYNC_INTERVALL=3` / `ORGNODE_FOO=1` were silently ignored. Now one stderr warning
    line each, naming the variable (and the setting it resembles); the command still runs. The
    variables read on purpose give none (control)."""
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    result = orgnode("--home", str(home), "log", "--json", extra_env={"ORGNODE_SYNC_INTERVALL": "3", "ORGNODE_FOO": "1"})
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 2, result.stderr
    assert "ORGNODE_SYNC_INTERVALL is not an orgnode setting" in lines[1] and "did you mean ORGNODE_SYNC_INTERVAL?" in lines[1]
    assert "ORGNODE_FOO is not an orgnode setting" in lines[0] and "docs/config.md" in lines[0]
    json.loads(result.stdout)  # stdout stays clean JSON
    quiet = orgnode("--home", str(home), "log", "--json", extra_env={
        "ORGNODE_HOME": str(home), "ORGNODE_CLOCK_OFFSET": "0", "ORGNODE_DEBUG": "1", "ORGNODE_SYNC_INTERVAL": "3",
        "ORGNODE_ALLOW_PY_PARSER": "1"})
    assert "warning" not in quiet.stderr, quiet.stderr


def test_orgnode_run_logs_an_unknown_variable_as_a_warning_event(tmp_path):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", f"127.0.0.1:{free_port()}")
    proc = start_node(home, extra_env={"ORGNODE_SYNC_INTERVALL": "3"})
    try:
        orgnode_json("--home", str(home), "status")
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    events = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    warned = [e for e in events if e.get("event") == "config.unknown-env"]
    assert warned and warned[0]["variable"] == "ORGNODE_SYNC_INTERVALL", err
    assert warned[0]["did_you_mean"] == "ORGNODE_SYNC_INTERVAL" and warned[0]["level"] in ("WARNING", "warning")
    assert any(e.get("event") == "node.started" for e in events)  # the node started anyway
