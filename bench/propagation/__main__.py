"""``python -m bench.propagation [--quick] [--seed S]``: the figures, then the RESULT lines.

Goals (issue 15 item 1), for the strategy the reference node speaks (``lazy``): at most
⌈log₂N⌉+2 rounds, at most 1.5 full payloads per node per job, p99 ≤ 10 s of simulated WAN time.
``limit`` is naive flooding's figure in the same run (bench/common.py's RESULT rule).
"""

from __future__ import annotations

import sys
import time

from bench.common import Goal, figure, parser, report
from bench.propagation import STRATEGIES, Figures, simulate


def show(f: Figures) -> None:
    print(f"{f.strategy} (N={f.n}, {f.jobs} jobs, {f.events} events, {f.requests} requests)")
    figure("reachable (node, job) pairs reached within 60 s", 100 * f.reach, "%")
    figure(f"rounds (trust links of the longest first copy; goal ≤ {f.rounds_goal})", f.rounds)
    figure("p50 until a reachable node holds the job", f.p50_s, "s")
    figure("p99 until a reachable node holds the job", f.p99_s, "s")
    figure("until every reachable node holds it (worst job)", f.all_s, "s")
    figure("full payloads per holding node per job (60 s window)", f.copies)
    figure("full payloads per holding node per job (whole run)", f.copies_run)
    figure("catch-up after a day offline, p99", f.catchup_s, "s")
    figure("catch-up: full payloads per job received", f.catchup_copies)


def main() -> int:
    p = parser(__doc__)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()
    sizes = (100, 1000) if args.quick else (100, 1000, 5000)
    goals: list[Goal] = []
    for n in sizes:
        start = time.perf_counter()
        figs = simulate(n, args.seed, jobs=4 if args.quick else 8)
        for strategy in STRATEGIES:
            show(figs[strategy])
        print(f"  (N={n} simulated in {time.perf_counter() - start:.1f} s of wall time)\n")
        lazy, flood = figs["lazy"], figs["flood"]
        goals += [
            Goal(f"n{n}.rounds", lazy.rounds, lazy.rounds_goal, upper=True, limit=flood.rounds),
            Goal(f"n{n}.copies", lazy.copies_run, 1.5, upper=True, limit=flood.copies_run),
            Goal(f"n{n}.p99", lazy.p99_s, 10.0, upper=True, unit="s", limit=flood.p99_s),
            Goal(f"n{n}.reach", lazy.reach, 1.0, upper=False, limit=flood.reach),
        ]
    return 0 if report("propagation", goals) else 1


if __name__ == "__main__":
    sys.exit(main())
