"""sec10 finding (hardening): nothing keeps the unlocked keys and the passphrase out of core dumps.

`orgnode run` holds the decrypted private keys (and, from ORGNODE_PASSPHRASE or the credential, the
passphrase) in memory for its whole life. The unit `orgnode service install` writes has no
``LimitCORE=0``, and the process neither lowers ``RLIMIT_CORE`` nor clears ``PR_SET_DUMPABLE``; a
crash (or ``kill -SEGV`` by the node user) writes them into a core file (systemd-coredump keeps it,
readable by the node's user via coredumpctl, and by root; with a plain ``core_pattern`` it lands in the
working directory). Expected: ``LimitCORE=0`` in the unit (and/or ``resource.setrlimit(RLIMIT_CORE, 0)``
at start).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from node.service_unit import UnitSpec, render_unit
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode_json, start_node


def test_the_unit_disables_core_dumps():
    unit = render_unit(UnitSpec(user="orgnode", group="orgnode", command=("/usr/bin/orgnode",), home="/var/lib/orgnode",
                                credential="/etc/orgnode/passphrase"))
    assert "LimitCORE=0" in unit.splitlines()


def test_a_running_node_has_core_dumps_off(tmp_path):
    """`orgnode run` lowers RLIMIT_CORE to 0 (seen in /proc/PID/limits) and clears PR_SET_DUMPABLE."""
    home = tmp_path / "a"
    orgnode_json("--home", str(home), "init", "--name", "Sec Ten", "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")
    proc = start_node(home, wrap=["prlimit", "--core=unlimited:unlimited", "--"])  # the control: allowed before start
    try:
        limits = Path(f"/proc/{proc.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_disable_core_dumps_sets_both_in_the_process():
    code = ("import ctypes, resource; from node.hardening import disable_core_dumps; "
            "print(resource.getrlimit(resource.RLIMIT_CORE)); missing = disable_core_dumps(); "
            "libc = ctypes.CDLL(None); print(resource.getrlimit(resource.RLIMIT_CORE), libc.prctl(3, 0, 0, 0, 0), missing)")
    done = subprocess.run(["prlimit", "--core=unlimited:unlimited", "--", sys.executable, "-c", code],
                          capture_output=True, text=True, timeout=60, check=True)
    before, after = done.stdout.splitlines()
    assert before == "(-1, -1)"  # control: the child started with core dumps allowed
    assert after == "(0, 0) 0 []"  # RLIMIT_CORE 0, PR_GET_DUMPABLE 0, nothing missing
