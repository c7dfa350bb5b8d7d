"""Process hardening at ``orgnode run`` start (security pass 10, item 8): no core dumps.

The running node holds its unlocked private keys (and perhaps the passphrase) in memory for its whole
life; a crash or a ``kill -SEGV`` must not write them into a core file (systemd-coredump keeps those,
readable by the node's user and root). ``RLIMIT_CORE`` = 0 stops the kernel writing one;
``PR_SET_DUMPABLE`` = 0 also keeps other processes of the same user from attaching a debugger or
reading ``/proc/<pid>/mem``. Both are best effort: where unavailable, it is logged and the node runs.
The generated systemd unit adds ``LimitCORE=0`` as well (node/service_unit.py).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

log = logging.getLogger("orgnode.hardening")

PR_SET_DUMPABLE = 4  # <linux/prctl.h>


def disable_core_dumps() -> list[str]:
    """Apply both protections; return what could not be applied (also logged at warning)."""
    missing = [name for name, ok in (("RLIMIT_CORE=0", _no_core_limit()), ("PR_SET_DUMPABLE=0", _not_dumpable())) if not ok]
    if missing:
        log.warning("could not disable core dumps (%s): a crash may write the unlocked keys to a core file", ", ".join(missing))
    return missing


def _no_core_limit() -> bool:
    try:
        import resource

        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        return True
    except (ImportError, ValueError, OSError):
        return False


def _not_dumpable() -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False
