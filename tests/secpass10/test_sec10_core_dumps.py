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

from node.service_unit import UnitSpec, render_unit


def test_the_unit_disables_core_dumps():
    unit = render_unit(UnitSpec(user="orgnode", group="orgnode", command=("/usr/bin/orgnode",), home="/var/lib/orgnode",
                                credential="/etc/orgnode/passphrase"))
    assert "LimitCORE=0" in unit.splitlines()
