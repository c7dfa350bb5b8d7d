"""``python -m bench.startup [--quick]``: wall time of ``orgnode --help``, ``orgnode status`` and a
simple admin call (``orgnode job list``) against a running node, each a fresh subprocess, median of N
runs; ``python -c pass`` in the same run is the floor (the interpreter alone). Goal: each ≤ 300 ms.

Measured as installed: an installed package has its ``.pyc`` files (pip compiles them at install),
so the commands run with bytecode caching on (``PYTHONPYCACHEPREFIX`` in a temporary directory,
``PYTHONDONTWRITEBYTECODE`` removed; the warm-up run writes the cache). The same commands compiled
from source at every run (a checkout with ``PYTHONDONTWRITEBYTECODE=1``) are printed beside them."""

from __future__ import annotations

import statistics
import sys
import tempfile

from bench.common import Goal, figure, load_average, parser, report
from bench.nodeproc import ORGNODE, env, init_home, running, temp_home, wall_ms

GOAL_MS = 300.0


def median_ms(cmd: list[str], runs: int, environ: dict[str, str]) -> float:
    wall_ms(cmd, environ)  # warm the page cache and the .pyc files: a user's second command, not the first after install
    return statistics.median(wall_ms(cmd, environ) for _ in range(runs))


def environments(cache: str) -> tuple[dict[str, str], dict[str, str]]:
    """(as installed: bytecode cached, from source: nothing cached)."""
    installed = {k: v for k, v in env().items() if k != "PYTHONDONTWRITEBYTECODE"}
    installed["PYTHONPYCACHEPREFIX"] = cache
    return installed, {**env(), "PYTHONDONTWRITEBYTECODE": "1"}


def main() -> bool:
    args = parser(__doc__).parse_args()
    runs = 5 if args.quick else 15
    print(f"startup: median of {runs} runs each, load average {load_average()}")
    cache = tempfile.TemporaryDirectory(prefix="orgnode-pycache-")
    installed, source = environments(cache.name)
    floor = median_ms([sys.executable, "-c", "pass"], runs, installed)
    figure("python -c pass (floor)", floor, "ms")
    goals: list[Goal] = []
    with cache, temp_home() as home:
        init_home(home)
        cmds = {"help": [*ORGNODE, "--help"],
                "status": [*ORGNODE, "--home", str(home), "status"],
                "job_list": [*ORGNODE, "--home", str(home), "job", "list"]}
        with running(home):
            for measure, cmd in cmds.items():
                words = " ".join(cmd[3:] if measure == "help" else cmd[5:])
                ms = median_ms(cmd, runs, installed)
                figure(f"orgnode {words}", ms, f"ms ({ms / floor:.1f}x floor)")
                figure(f"orgnode {words}, compiled from source every run", median_ms(cmd, runs, source), "ms")
                goals.append(Goal(measure, ms, GOAL_MS, upper=True, unit="ms", limit=floor))
    return report("startup", goals)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
