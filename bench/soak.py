"""``python -m bench.soak [--quick | --minutes N] [--out PATH]``: five real ``orgnode run`` processes
for an hour (``--quick``: five minutes) under a steady mixed workload (bench/soak_workload.py),
one node restarted every few minutes, each node's memory, open files, database size and
event-loop lag sampled over time (bench/soak_series.py). Issue 15 item 3.

Goals, judged after warm-up (the first sixth of the run, at least one minute) on the nodes never
restarted (soak0, soak1; soak2..4 take turns being restarted):

- memory flat: the RSS slope over the run's second half ≤ ``RSS_SLOPE_MB_H`` MB/hour, and the
  median of the last tenth of samples ≤ 1.1 × the median of the first tenth after warm-up;
- open files flat: the same end-to-warm-up ratio ≤ 1.1 for /proc/PID/fd;
- database growth proportional to statements: bytes of ``orgnode.db`` per statement held, over all
  five nodes, in the second half ≤ 1.5 × in the first half after warm-up (the WAL is reported, not
  judged: its file is reused, so its size is its high-water mark);
- loop lag p99 ≤ 100 ms (all nodes, after warm-up): ``orgnode_event_loop_lag_seconds`` if the nodes
  serve it, else ``GET /health`` latency from outside (said in the output).

The time series goes to ``PATH.csv`` (one row per node and sample) and ``PATH.json`` (summary,
samples, every /health probe); ``PATH`` defaults to ``soak-<minutes>min-<UTC time>`` in the
current directory.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.common import Goal, figure, load_average, parser, percentile, report
from bench.soak_cluster import SoakNode, make_cluster
from bench.soak_series import HealthProber, Sample, SeriesFile, sample, slope_per_hour, write_summary
from bench.soak_workload import Workload

NODES = 5
STEADY = ("soak0", "soak1")  # never restarted: the nodes flatness is judged on
RSS_SLOPE_MB_H = 5.0
END_RATIO = 1.1
BYTES_RATIO = 1.5
LAG_P99_MS = 100.0
OP_INTERVAL_S = 0.5
OK_FRACTION = 0.99  # operations answered without an unexpected error (refusals the rules call for count as answered)


def plan(minutes: float) -> dict[str, float]:
    quick = minutes <= 10
    return {"minutes": minutes, "warmup_s": max(60.0, minutes * 60 / 6), "sample_s": 5.0 if quick else 15.0,
            "restart_s": 60.0 if quick else 240.0, "rotate_s": 90.0 if quick else 300.0, "sync_s": 5.0}


def series(samples: list[Sample], node: str, attr: str, since: float) -> list[tuple[float, float]]:
    return [(s.t_s, float(getattr(s, attr))) for s in samples if s.node == node and s.t_s >= since]


def end_ratio(points: list[tuple[float, float]]) -> tuple[float, float, float]:
    """(median of the first tenth, median of the last tenth, their ratio) of ``points``."""
    k = max(1, len(points) // 10)
    first = statistics.median(v for _, v in points[:k])
    last = statistics.median(v for _, v in points[-k:])
    return first, last, last / first if first else 0.0


def bytes_per_statement(samples: list[Sample], t_from: float, t_to: float) -> float:
    """Δ(bytes of every node's orgnode.db) / Δ(statements they hold) between the samples nearest
    ``t_from`` and ``t_to``."""
    def totals(t: float) -> tuple[int, int]:
        b = s = 0
        for name in {x.node for x in samples}:
            nearest = min((x for x in samples if x.node == name), key=lambda x: abs(x.t_s - t))
            b += nearest.db_bytes
            s += nearest.statements
        return b, s
    b0, s0 = totals(t_from)
    b1, s1 = totals(t_to)
    return (b1 - b0) / (s1 - s0) if s1 > s0 else float("nan")


def drive(nodes: list[SoakNode], p: dict[str, float], out: SeriesFile) -> tuple[list[Sample], HealthProber, Workload, list[float]]:
    work = Workload(nodes, seed=15)
    t0 = time.monotonic()
    prober = HealthProber(nodes, 1.0, t0)
    prober.start()
    samples: list[Sample] = []
    restart_times: list[float] = []
    restartable = [n for n in nodes if n.name not in STEADY]
    end = t0 + p["minutes"] * 60
    next_op = next_sample = t0
    next_restart, next_rotate = t0 + p["restart_s"], t0 + p["rotate_s"]
    restarts = 0
    while (now := time.monotonic()) < end:
        if now >= next_sample:
            taken = [s for n in nodes if (s := sample(n, now - t0)) is not None]
            out.add(taken)
            samples += taken
            next_sample += p["sample_s"]
        if now >= next_restart:
            node = restartable[restarts % len(restartable)]
            restart_times.append(node.restart())
            restarts += 1
            next_restart += p["restart_s"]
        if now >= next_rotate:
            work.rotate_key(work.rng.choice(nodes))
            next_rotate += p["rotate_s"]
        if now >= next_op:
            work.step([n for n in nodes if n.pid is not None])
            next_op = max(time.monotonic(), next_op + OP_INTERVAL_S)
        time.sleep(max(0.0, min(next_op, next_sample, next_restart, end) - time.monotonic()))  # the schedule's next tick
    prober.stop()
    taken = [s for n in nodes if (s := sample(n, time.monotonic() - t0)) is not None]
    out.add(taken)
    samples += taken
    return samples, prober, work, restart_times


def judge(samples: list[Sample], prober: HealthProber, p: dict[str, float]) -> tuple[list[Goal], dict[str, object]]:
    warm = p["warmup_s"]
    t_end = max(s.t_s for s in samples)
    half = warm + (t_end - warm) / 2
    summary: dict[str, object] = {}
    slopes, rss_ratios, fd_ratios = [], [], []
    for name in STEADY:
        rss = series(samples, name, "rss_mb", warm)
        fds = series(samples, name, "open_fds", warm)
        slope = slope_per_hour([pt for pt in rss if pt[0] >= half])
        r0, r1, rr = end_ratio(rss)
        f0, f1, fr = end_ratio(fds)
        slopes.append(slope)
        rss_ratios.append(rr)
        fd_ratios.append(fr)
        figure(f"{name}: RSS after warm-up → at the end", r0, f"→ {r1:.1f} MB")
        figure(f"{name}: RSS slope over the second half", slope, "MB/hour")
        figure(f"{name}: open files after warm-up → at the end", f0, f"→ {f1:.0f}")
        figure(f"{name}: open-files slope over the second half", slope_per_hour([pt for pt in fds if pt[0] >= half]), "/hour")
        summary[name] = {"rss_warm_mb": r0, "rss_end_mb": r1, "rss_slope_mb_h": slope, "fds_warm": f0, "fds_end": f1}
    for name in sorted({s.node for s in samples} - set(STEADY)):
        peak = max(s.rss_mb for s in samples if s.node == name)
        figure(f"{name} (restarted): peak RSS over all its processes", peak, "MB")
    first_half = bytes_per_statement(samples, warm, half)
    second_half = bytes_per_statement(samples, half, t_end)
    overall = sum(max(s.db_bytes for s in samples if s.node == n) for n in {x.node for x in samples}) / \
        max(1, sum(max(s.statements for s in samples if s.node == n) for n in {x.node for x in samples}))
    figure("database bytes per statement held, whole run (5 nodes)", overall, "B")
    figure("  marginal, first half after warm-up", first_half, "B/statement")
    figure("  marginal, second half", second_half, "B/statement")
    figure("largest WAL file seen", max(s.wal_bytes for s in samples) / 1e6, "MB")
    own = {n: max(s.own_seq for s in samples if s.node == n) for n in {x.node for x in samples}}
    held = {n: max(s.statements for s in samples if s.node == n) for n in {x.node for x in samples}}
    figure("own statements made (all nodes, incl. set-up)", sum(own.values()))
    figure("statements held at the end (all nodes)", sum(held.values()))
    metric_lags = [s.lag_ms for s in samples if s.lag_ms is not None and s.t_s >= warm]
    health = [ms for t, _, ms in prober.latencies if t >= warm]
    source = "orgnode_event_loop_lag_seconds (the nodes' /metrics)" if metric_lags else "GET /health latency from outside"
    lags = metric_lags or health
    lag_p99 = percentile(lags, 99)
    figure(f"loop lag p50 ({source})", percentile(lags, 50), "ms")
    figure(f"loop lag p99 ({source})", lag_p99, "ms")
    figure("GET /health latency p99 (from outside, after warm-up)", percentile(health, 99), "ms")
    figure("/health probes unanswered in 5 s (nodes mid-restart included)", prober.unanswered)
    summary.update({"bytes_per_statement_first_half": first_half, "bytes_per_statement_second_half": second_half,
                    "bytes_per_statement_overall": overall, "lag_source": source, "lag_p99_ms": lag_p99,
                    "own_statements": own, "statements_held": held})
    ratio = second_half / first_half if first_half and first_half == first_half and first_half > 0 else float("inf")
    goals = [Goal("rss_slope", max(slopes), RSS_SLOPE_MB_H, upper=True, unit="MB/hour"),
             Goal("rss_end_ratio", max(rss_ratios), END_RATIO, upper=True),
             Goal("open_files_end_ratio", max(fd_ratios), END_RATIO, upper=True),
             Goal("db_bytes_per_statement_ratio", ratio, BYTES_RATIO, upper=True),
             Goal("loop_lag_p99", lag_p99, LAG_P99_MS, upper=True, unit="ms")]
    return goals, summary


def main() -> None:
    ap = parser(__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, help="how long the workload runs (default 60; --quick: 5)")
    ap.add_argument("--out", type=Path, help="where the time series goes (PATH.csv, PATH.json)")
    args = ap.parse_args()
    p = plan(args.minutes or (5.0 if args.quick else 60.0))
    out = args.out or Path(f"soak-{p['minutes']:g}min-{datetime.now(UTC):%Y%m%dT%H%M%SZ}")
    print(f"soak: {NODES} nodes, {p['minutes']:g} min, warm-up {p['warmup_s']:.0f} s, a restart every {p['restart_s']:.0f} s, "
          f"a key rotation every {p['rotate_s']:.0f} s, one operation every {OP_INTERVAL_S} s; load average {load_average()}")
    with tempfile.TemporaryDirectory(prefix="orgnode-soak-") as tmp:
        nodes = make_cluster(Path(tmp), NODES, p["sync_s"])
        try:
            samples, prober, work, restart_s = drive(nodes, p, SeriesFile(out))
        finally:
            for node in nodes:
                node.stop()
    print(f"load average at the end {load_average()}")
    figure("operations done", sum(work.tally.done.values()))
    for key, n in sorted(work.tally.done.items()):
        figure(f"  {key}", n)
    for key, n in sorted(work.tally.refused.items()):
        figure(f"  refused as the rules say: {key}", n)
    for key, n in sorted(work.tally.failed.items()):
        figure(f"  FAILED: {key}", n)
    for line in work.tally.failures:
        print(f"    {line}")
    figure("restarts (SIGTERM, then run until it answers)", len(restart_s))
    if restart_s:
        figure("  restart time, longest", max(restart_s), "s")
    goals, summary = judge(samples, prober, p)
    done, failed_ops = sum(work.tally.done.values()), sum(work.tally.failed.values())
    goals.append(Goal("operations_ok_fraction", done / max(1, done + failed_ops), OK_FRACTION, upper=False))
    summary.update({"plan": p, "done": dict(work.tally.done), "refused": dict(work.tally.refused),
                    "failed": dict(work.tally.failed), "restart_s": restart_s, "load_average_end": load_average()})
    write_summary(out, samples, prober.latencies, summary)
    print(f"time series: {out.with_suffix('.csv')} and {out.with_suffix('.json')}")
    raise SystemExit(0 if report("soak", goals) else 1)


if __name__ == "__main__":
    main()
