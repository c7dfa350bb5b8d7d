"""sec10 finding: `orgnode backup` of a node run by the generated systemd unit fails (PrivateTmp=yes).

The CLI makes ``tempfile.mkdtemp()`` in *its* /tmp and asks the running node (admin ``POST /backup``)
to write the database snapshot there; the unit `orgnode service install` writes has
``PrivateTmp=yes`` (and ``ProtectSystem=strict`` with only the home writable), so the node's /tmp is
another directory and the snapshot fails: "internal error (OperationalError)". An admin whose backup
fails is pushed towards copying orgnode.db by hand, the rollback hazard issue 10 guards against.
Reproduced with a mount namespace that gives the node a /tmp of its own, as PrivateTmp does (the
CLI's TMPDIR is hidden from the node by a tmpfs). Expected: the snapshot is made inside the home
(the one place the unit lets the node write), or the CLI says plainly what to do.
"""

from __future__ import annotations

import os
import shutil
import signal

import pytest

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None, reason="needs root and unshare")


def test_backup_of_a_running_node_with_a_private_tmp_works(tmp_path):
    home = tmp_path / "a"
    orgnode_json("--home", str(home), "init", "--name", "Sec Ten", "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")
    cli_tmp = tmp_path / "cli-tmp"
    cli_tmp.mkdir()
    script = f"mount -t tmpfs tmpfs {cli_tmp} && exec \"$@\""
    proc = start_node(home, wrap=["unshare", "-m", "--propagation", "private", "sh", "-c", script, "sh"],
                      extra_env={"TMPDIR": str(tmp_path)})
    try:
        made = orgnode("--home", str(home), "backup", str(tmp_path / "a.bak"), check=False, extra_env={"TMPDIR": str(cli_tmp)})
        assert made.returncode == 0, made.stderr
        assert (tmp_path / "a.bak").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
