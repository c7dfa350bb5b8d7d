"""The CLI as a user runs it: init, run, status, log, clean shutdown, and one-line errors."""

from __future__ import annotations

import signal
import sqlite3
import stat

import pytest

from node.cli.main import COMMANDS, build_parser
from tests.config_files import read_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node


def test_init_run_status_log_and_clean_stop(tmp_path):
    home = tmp_path / "youth"
    port = free_port()
    init = orgnode_json("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit", "--listen", f"127.0.0.1:{port}")
    assert len(init["node_id"]) == 64
    assert init["url"] == f"http://127.0.0.1:{port}"
    for key_file in (home / "keys").iterdir():
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600, key_file
    assert stat.S_IMODE((home / "orgnode.db").stat().st_mode) & 0o077 == 0

    offline = orgnode_json("--home", str(home), "status")
    assert offline["running"] is False
    assert {k: offline[k] for k in ("node_id", "fingerprint", "name", "sector", "url")} == {
        "node_id": init["node_id"], "fingerprint": init["fingerprint"], "name": "Youth Futures",
        "sector": "nonprofit", "url": f"http://127.0.0.1:{port}",
    }

    proc = start_node(home)
    try:
        online = orgnode_json("--home", str(home), "status")
        assert online["running"] is True
        log = orgnode_json("--home", str(home), "log")
        assert [e["kind"] for e in log] == ["org_card"]
        assert log[0]["seq"] == 1 and log[0]["author_node_id"] == init["node_id"]
        human = orgnode("--home", str(home), "log").stdout
        assert "organization card" in human and "1 entry in this node's log" in human
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
    assert orgnode_json("--home", str(home), "status")["running"] is False
    with sqlite3.connect(home / "orgnode.db") as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # stderr holds structured JSON log lines only.
    assert '"event": "node.stopped"' in proc.stderr.read()


def test_init_refuses_to_overwrite(tmp_path):
    args = ["--home", str(tmp_path / "h"), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9"]
    orgnode(*args)
    again = orgnode(*args, check=False)
    assert again.returncode != 0
    assert "refusing to overwrite" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        ("missing-home", "no orgnode home"),
        ("corrupt-key", "corrupt"),
        ("unreadable-config", "is not valid TOML (Invalid value (at line 2, column 10))"),
    ],
)
def test_errors_are_one_clear_line(tmp_path, setup, expected):
    home = tmp_path / "h"
    if setup != "missing-home":
        orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9")
    if setup == "corrupt-key":
        (home / "keys" / "signing.pem").write_bytes(b"-----BEGIN PRIVATE KEY-----\ngarbage\n-----END PRIVATE KEY-----\n")
    if setup == "unreadable-config":
        (home / "config.toml").write_text("name = \"A\"\nsector = nonprofit\n")
    result = orgnode("--home", str(home), "log", check=False)
    assert result.returncode == 1
    assert expected in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_passphrase_protected_keys(tmp_path):
    home = tmp_path / "h"
    pw = {"ORGNODE_PASSPHRASE": "correct horse battery staple"}
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9", extra_env=pw)
    assert b"ENCRYPTED" in (home / "keys" / "signing.pem").read_bytes()
    locked = orgnode("--home", str(home), "log", check=False)
    assert locked.returncode == 1 and "ORGNODE_PASSPHRASE" in locked.stderr
    wrong = orgnode("--home", str(home), "log", check=False, extra_env={"ORGNODE_PASSPHRASE": "nope"})
    assert wrong.returncode == 1 and "wrong passphrase" in wrong.stderr
    assert orgnode("--home", str(home), "log", extra_env=pw).returncode == 0


def test_every_command_has_help():
    build_parser()
    assert {"init", "run", "status", "log"} <= set(COMMANDS)
    for name in COMMANDS:
        result = orgnode(*name.split(), "--help")
        assert "usage:" in result.stdout


def test_second_node_on_the_same_home_is_refused(tmp_path):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", f"127.0.0.1:{free_port()}")
    proc = start_node(home)
    try:
        second = orgnode("--home", str(home), "run", check=False, timeout=30)
        assert second.returncode == 1
        assert "already running" in second.stderr
        assert orgnode_json("--home", str(home), "status")["running"] is True
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0


def test_listening_on_every_interface_needs_a_public_url(tmp_path):
    result = orgnode("--home", str(tmp_path / "h"), "init", "--name", "A", "--sector", "company", "--listen", "0.0.0.0:8470",
                     check=False)
    assert result.returncode == 1 and "--url" in result.stderr
    assert not (tmp_path / "h").exists()


def test_item10_init_refuses_a_url_that_is_not_a_base_url_and_records_allow_private_peers(tmp_path):
    for bad in ("http://user:pw@orgnode.example", "https://orgnode.example/?x=1", "https://orgnode.example/#top"):
        home = tmp_path / "refused"
        result = orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9",
                         "--url", bad, check=False)
        assert result.returncode == 1 and "--url must be a base URL" in result.stderr
        assert not (home / "config.toml").exists()
    ok = tmp_path / "ok"
    orgnode("--home", str(ok), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9",
            "--url", "HTTPS://OrgNode.Example/orgnode/", "--allow-private-peers")
    config = read_config(ok)
    assert config["url"] == "https://orgnode.example/orgnode" and config["allow_private_peers"] is True
    assert config["lan_discovery"] is True and config["lan_advertise"] is True


def test_run_on_a_port_in_use_names_the_config_keys_and_logs_no_stop(tmp_path):
    """Acceptance: the error named a `--listen` flag `run` does not have, and logged node.stopped for a node never started."""
    import socket

    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen(1)
    port = blocker.getsockname()[1]
    try:
        home = str(tmp_path / "h")
        orgnode("--home", home, "init", "--name", "A", "--sector", "company", "--listen", f"127.0.0.1:{port}")
        failed = orgnode("--home", home, "run", check=False)
    finally:
        blocker.close()
    assert failed.returncode != 0
    assert "cannot listen on" in failed.stderr and "listen_host/listen_port" in failed.stderr, failed.stderr
    assert "config.toml" in failed.stderr and "--listen" not in failed.stderr
    assert "node.stopped" not in failed.stderr


def test_main_runs_in_process_like_the_command(tmp_path, capsys):
    """What click's CliRunner would give (docs/architecture.md, "Why argparse"): ``main(argv)`` runs a
    command in-process with its exit code and one-line error, the same as the subprocess does."""
    import os

    from node.cli.main import main

    missing = tmp_path / "nothing.bundle"
    umask = os.umask(0o022)
    try:
        code = main(["audit", "verify", str(missing)])
    finally:
        os.umask(umask)
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("orgnode: error: cannot read ") and err.count("\n") == 1
    command = orgnode("audit", "verify", str(missing), check=False)  # positive control: the real command agrees
    assert (command.returncode, command.stderr) == (code, err)
