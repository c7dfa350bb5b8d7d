"""The soak's measurements: samples of each node process over time, the event-loop lag probes, and
the figures the goals are judged on (bench/soak.py), and the files the series is written to.

Per node and sample: resident memory (VmRSS), open descriptors (entries of /proc/PID/fd), the
database's bytes (``orgnode.db`` + ``-wal``), the statements it holds (rows of ``entries``, read-only)
and its own log's length. Event-loop lag: ``orgnode_event_loop_lag_seconds`` from the node's
/metrics when it serves that metric; otherwise the latency of ``GET /health`` on the federation
port, probed from outside every ``probe_interval`` — an upper bound on the loop's lag (it adds one
HTTP round trip on loopback), which the report says.

Flatness is judged on the nodes that are never restarted (a restarted process starts from nothing):
after warm-up, the least-squares slope of the series over the run's second half, and the last
sample against the first one after warm-up.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.soak_cluster import SoakNode

LAG_METRIC = "orgnode_event_loop_lag_seconds"


@dataclass(frozen=True)
class Sample:
    t_s: float  # seconds since the workload began
    node: str
    pid: int
    starts: int
    rss_mb: float
    open_fds: int
    db_bytes: int
    wal_bytes: int
    statements: int  # entries held (own and partners')
    own_seq: int
    lag_ms: float | None  # the node's own loop-lag metric, when it serves one


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def counts(home: Path, node_id: str) -> tuple[int, int]:
    conn = sqlite3.connect(f"file:{home / 'orgnode.db'}?mode=ro", uri=True, timeout=10)
    try:
        total = conn.execute("SELECT COUNT(*) FROM entries").fetchone()[0]
        own = conn.execute("SELECT COALESCE(MAX(seq), 0) FROM entries WHERE author = ?", (bytes.fromhex(node_id),)).fetchone()[0]
        return int(total), int(own)
    finally:
        conn.close()


def lag_metric_ms(node: SoakNode) -> float | None:
    """The node's own loop-lag figure in ms, if its /metrics serves ``LAG_METRIC`` (a gauge, or the
    largest of its labelled samples); None when the metric is not there."""
    try:
        text = node.metrics_text()
    except (OSError, urllib.error.URLError):
        return None
    if not text:
        return None
    values = []
    for line in text.splitlines():
        if line.startswith(LAG_METRIC) and not line.startswith("#"):
            name = line.split("{")[0].split(" ")[0]
            if name == LAG_METRIC:
                values.append(float(line.rsplit(" ", 1)[1]))
    return max(values) * 1000 if values else None


def sample(node: SoakNode, t_s: float) -> Sample | None:
    pid = node.pid
    if pid is None:
        return None
    try:
        rss, fds = rss_mb(pid), open_fds(pid)
    except (FileNotFoundError, ProcessLookupError):
        return None  # it stopped between the two reads (a restart)
    db = node.home / "orgnode.db"
    wal = node.home / "orgnode.db-wal"
    total, own = counts(node.home, node.node_id)
    return Sample(round(t_s, 2), node.name, pid, node.starts, round(rss, 2), fds, db.stat().st_size,
                  wal.stat().st_size if wal.exists() else 0, total, own, lag_metric_ms(node))


class HealthProber:
    """Probes ``GET /health`` of every running node, one after another, every ``interval`` seconds,
    in a thread; keeps (t_s, node, ms) per answer and counts the probes that got none."""

    def __init__(self, nodes: list[SoakNode], interval: float, t0: float) -> None:
        self.nodes, self.interval, self.t0 = nodes, interval, t0
        self.latencies: list[tuple[float, str, float]] = []
        self.unanswered = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for node in self.nodes:
                if node.pid is None:
                    continue
                began = time.perf_counter()
                try:
                    with urllib.request.urlopen(node.health_url, timeout=5) as response:
                        response.read()
                    self.latencies.append((time.monotonic() - self.t0, node.name, (time.perf_counter() - began) * 1000))
                except (OSError, urllib.error.URLError):
                    self.unanswered += 1  # a node mid-restart, or one too busy to answer in 5 s


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (seconds, value) points, in value units per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    den = sum((t - mx) ** 2 for t, _ in points)
    return 0.0 if den == 0 else sum((t - mx) * (v - my) for t, v in points) / den * 3600


class SeriesFile:
    """``path``.csv, one row per sample, written as the samples are taken (an interrupted run keeps them)."""

    def __init__(self, path: Path) -> None:
        self.path = path.with_suffix(".csv")
        with open(self.path, "w", newline="") as f:
            csv.DictWriter(f, fieldnames=list(Sample.__dataclass_fields__)).writeheader()

    def add(self, samples: list[Sample]) -> None:
        with open(self.path, "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(Sample.__dataclass_fields__))
            for s in samples:
                writer.writerow(asdict(s))


def write_summary(path: Path, samples: list[Sample], latencies: list[tuple[float, str, float]], summary: dict[str, object]) -> None:
    """``path``.json: the summary, the samples and every /health probe."""
    path.with_suffix(".json").write_text(json.dumps({"summary": summary, "samples": [asdict(s) for s in samples],
                                                     "health_ms": latencies}, indent=1))
