"""TLS as an admin meets it (issue 10 item 4): `orgnode run` serving HTTPS from config.toml, `orgnode status`.

Real processes: `orgnode init`, certificates from tests/tls_ca.py named in config.toml (relative to the
home), `orgnode run`, `orgnode status` (human and --json), and a start refused for an expired
certificate with one line naming the key and what to do.
"""

from __future__ import annotations

import datetime
import json
import signal
import ssl
import urllib.request

from node.home import Home
from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node
from tests.tls_ca import TestCA


def _init(tmp_path, port: int):
    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit", "--listen",
            f"127.0.0.1:{port}", "--url", f"https://127.0.0.1:{port}", "--allow-private-peers")
    return home


def test_run_serves_https_and_status_shows_tls_and_the_verification_opt_out(tmp_path):
    port = free_port()
    home = _init(tmp_path, port)
    ca = TestCA.create(home / "tls")
    ca.issue("node", ["127.0.0.1"])
    update_config(home, tls_cert="tls/node.pem", tls_key="tls/node.key", tls_verify=False)  # relative to the home
    proc = start_node(home)
    try:
        context = ssl.create_default_context(cafile=str(ca.cert_path))
        with urllib.request.urlopen(f"https://127.0.0.1:{port}/health", context=context, timeout=10) as resp:
            assert resp.status == 200 and json.loads(resp.read())["status"] == "ok"
        human = orgnode("--home", str(home), "status").stdout
        assert "tls:         HTTPS served by this node (tls/node.pem); partners' certificates NOT verified" in human, human
        assert "tls_verify = false: any certificate is accepted" in human and "no problems found" not in human
        data = orgnode_json("--home", str(home), "status")
        assert data["tls_verify"] is False and data["tls"]["serving"] is True and data["refused_peers"] == []
        assert [p["code"] for p in data["problems"]] == ["tls-verify-off"]
    finally:
        proc.send_signal(signal.SIGTERM)
        _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    [warning] = [json.loads(line) for line in err.splitlines() if '"tls.verify-off"' in line]
    assert warning["level"] == "warning", warning
    assert any('"node.started"' in line and '"tls": true' in line for line in err.splitlines()), err
    # Positive control for the warning: with verification on (the default) status has no such line; nor is a
    # certificate valid for 30 days worth a warning, while one about to expire is.
    update_config(home, tls_verify=True)
    human = orgnode("--home", str(home), "status").stdout
    assert "partners' certificates verified" in human and "problem(s)" not in human and "no problems found" in human, human
    ca.issue("node", ["127.0.0.1"], not_after=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3, hours=1))
    human = orgnode("--home", str(home), "status").stdout
    assert "the TLS certificate this node serves expires in 3 day(s), on" in human and "renew it" in human, human
    assert [p["code"] for p in orgnode_json("--home", str(home), "status")["problems"]] == ["cert-expiring"]


def test_run_refuses_an_expired_certificate_in_one_line_and_leaves_nothing_running(tmp_path):
    port = free_port()
    home = _init(tmp_path, port)
    ca = TestCA.create(home / "tls")
    now = datetime.datetime.now(datetime.UTC)
    ca.issue("old", ["127.0.0.1"], not_before=now - datetime.timedelta(days=90), not_after=now - datetime.timedelta(days=2))
    update_config(home, tls_cert="tls/old.pem", tls_key="tls/old.key")
    result = orgnode("--home", str(home), "run", check=False, timeout=30)
    assert result.returncode == 1, result.stderr
    [line] = [x for x in result.stderr.splitlines() if x.startswith("orgnode: error:")]
    assert "config key tls_cert: the certificate" in line and "expired on" in line and "renew it" in line, line
    assert "Traceback" not in result.stderr
    assert not Home(home).admin_socket.exists() and not Home(home).pid_path.exists()
    assert orgnode_json("--home", str(home), "status")["running"] is False
