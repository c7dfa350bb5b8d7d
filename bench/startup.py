"""``python -m bench.startup [--quick]``: wall time of ``orgnode --help``, ``orgnode status`` and a
simple admin call (``orgnode job list``) against a running node, each a fresh subprocess, median of N
runs; ``python -c pass`` in the same run is the floor (the interpreter alone). Goal: each ≤ 300 ms."""

from __future__ import annotations

import statistics
import sys

from bench.common import Goal, figure, load_average, parser, report
from bench.nodeproc import ORGNODE, init_home, running, temp_home, wall_ms

GOAL_MS = 300.0


def median_ms(cmd: list[str], runs: int) -> float:
    wall_ms(cmd)  # warm the page cache and the .pyc files: a user's second command, not the first after install
    return statistics.median(wall_ms(cmd) for _ in range(runs))


def main() -> bool:
    args = parser(__doc__).parse_args()
    runs = 5 if args.quick else 15
    print(f"startup: median of {runs} runs each, load average {load_average()}")
    floor = median_ms([sys.executable, "-c", "pass"], runs)
    figure("python -c pass (floor)", floor, "ms")
    goals: list[Goal] = []
    with temp_home() as home:
        init_home(home)
        cmds = {"help": [*ORGNODE, "--help"],
                "status": [*ORGNODE, "--home", str(home), "status"],
                "job_list": [*ORGNODE, "--home", str(home), "job", "list"]}
        with running(home):
            for measure, cmd in cmds.items():
                ms = median_ms(cmd, runs)
                figure(f"orgnode {' '.join(cmd[3:] if measure == 'help' else cmd[5:])}", ms, f"ms ({ms / floor:.1f}x floor)")
                goals.append(Goal(measure, ms, GOAL_MS, upper=True, unit="ms"))
    return report("startup", goals)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
