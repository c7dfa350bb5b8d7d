"""``python -m bench.memory [--quick]``: the resident memory of real ``orgnode run`` processes
(VmRSS from /proc/PID/status) and the database's size.

1. Idle: a node paired with one partner, syncing every 0.5 s; RSS after start and after a few sync
   rounds. Goal ≤ 80 MB.
2. Loaded: a node holding 100,000 own jobs and 100,000 candidates (``--quick``: 10,000 each),
   written in bulk through the node's own code for setup (jobs signed and appended by
   ``Federation.append`` in one transaction; candidate rows through ``TalentStore``); then typical
   operations through the CLI — status, job list (a page and ``--all``), candidate list, a local
   match (``job match-candidate``) — and RSS after each. Goal: the peak (VmHWM) over all of them
   ≤ 250 MB.
3. Database bytes per 1,000 jobs and per 1,000 candidates (file + WAL after a checkpoint).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from bench.common import Goal, figure, load_average, parser, report
from bench.nodeproc import RunningNode, init_home, orgnode, running, temp_home

IDLE_GOAL_MB = 80.0
LOADED_GOAL_MB = 250.0
SKILLS = ["driving", "forklift", "excel", "welding", "customer service", "python", "bookkeeping", "cooking",
          "carpentry", "nursing", "teaching", "plumbing", "painting", "cleaning", "project management", "sales"]


def mb(kb: int) -> float:
    return kb / 1024


def hwm_kb(node: RunningNode) -> int:
    for line in Path(f"/proc/{node.proc.pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise RuntimeError("no VmHWM")


def interpreter_floor_mb() -> float:
    """RSS of a bare Python interpreter that has imported what every node needs (the runtime's
    libraries: aiohttp, cryptography, sqlite3), measured in this run: the floor a node's memory is
    compared with (what no orgnode change can remove)."""
    code = "import aiohttp, cryptography.hazmat.primitives.asymmetric.ed25519, sqlite3, sys; sys.stdout.write('ok\\n'); sys.stdout.flush(); sys.stdin.read()"
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ok"
        for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")
    finally:
        proc.communicate("")


def db_bytes(home: Path) -> int:
    return sum(p.stat().st_size for p in home.glob("orgnode.db*") if p.name.endswith((".db", "-wal")))


def idle() -> list[Goal]:
    from tests.config_files import update_config

    with temp_home() as a, temp_home() as b_root:
        b = b_root.parent / "partner"
        for home, name in ((a, "Idle Org"), (b, "Partner Org")):
            init_home(home, name)
            update_config(home, sync_interval=0.5)  # LAN discovery on, as by default
        with running(a) as node, running(b):
            started = node.rss_kb()
            token = json.loads(orgnode(a, "invite", "--expires", "1h", "--json").stdout)["token"]
            orgnode(b, "trust", "accept", token, "--json")
            time.sleep(4)  # a benchmark, not a test: eight sync rounds of 0.5 s
            synced = node.rss_kb()
            figure("idle node RSS after start", mb(started), "MB")
            figure("idle node RSS after ~8 sync rounds with a partner", mb(synced), "MB")
    floor = interpreter_floor_mb()
    figure("floor: a bare interpreter with aiohttp, cryptography and sqlite3 imported", floor, "MB")
    return [Goal("idle_rss_mb", mb(max(started, synced)), IDLE_GOAL_MB, upper=True, unit="MB", limit=floor)]


def populate(home: Path, jobs: int, candidates: int) -> tuple[int, int, bytes]:
    """Write ``jobs`` own jobs and ``candidates`` candidates; the db bytes after each, and one candidate id."""
    from node.core.federation import Federation
    from node.core.relay import Relays
    from node.core.service import NodeService
    from node.core.talent import Talent
    from node.runtime import load_vocabulary
    from storage.talent import TalentStore
    from storage.talent_rows import Candidate

    service = NodeService.open(home)
    try:
        fed = Federation(service)
        talent = Talent(fed, load_vocabulary, Relays(fed))
        base = db_bytes(home)
        with service.db.atomic():
            for i in range(jobs):
                talent.post_job(title=f"Job {i} warehouse operative", skills=[SKILLS[i % 16], SKILLS[(i * 7 + 3) % 16]])
        service.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after_jobs = db_bytes(home)
        store = TalentStore(service.db)
        now = service.clock()
        first = b""
        with service.db.atomic():
            for i in range(candidates):
                cid = i.to_bytes(16, "big")
                first = first or cid
                store.add_candidate(Candidate(cid, (i + 1).to_bytes(16, "big"), f"Person {i} Example", f"p{i}@example.org",
                                              "+44 20 7946 0000", "Leeds", (SKILLS[i % 16], SKILLS[(i * 5 + 1) % 16], SKILLS[(i * 3 + 2) % 16]),
                                              None, None, now + i))
        service.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        after_candidates = db_bytes(home)
        card_reads(service)
    finally:
        service.close()
    return after_jobs - base, after_candidates - after_jobs, first


def card_latency_ms(home: Path) -> float:
    """The unauthenticated card endpoint's answer time (it read the whole own log before issue 11)."""
    import statistics
    import urllib.request

    from tests.config_files import read_config

    url = f"http://{read_config(home)['listen_host']}:{read_config(home)['listen_port']}/.well-known/orgnode"
    times = []
    for _ in range(5):
        t = time.perf_counter()
        with urllib.request.urlopen(url, timeout=60) as resp:
            resp.read()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def card_reads(service: object) -> None:
    """The card's statements read as before issue 11 (the whole own log, then chosen) and by index,
    in this process on the populated database."""
    from protocol.card_bundle import card_statements
    from storage.log_store import LogStore

    log, me = LogStore(service.db), service.node_id  # type: ignore[attr-defined]
    t = time.perf_counter()
    before = card_statements(log.statements(me))
    whole = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    after = log.card_statements(me)
    indexed = (time.perf_counter() - t) * 1000
    assert [s.id for s in before] == [s.id for s in after]
    figure("card statements: whole own log read, then chosen (before)", whole, "ms")
    figure("card statements: indexed query (after)", indexed, "ms")


def loaded(n: int) -> list[Goal]:
    with temp_home() as home:
        init_home(home)
        start = time.perf_counter()
        job_bytes, candidate_bytes, cid = populate(home, n, n)
        figure(f"setup: {n:,} jobs + {n:,} candidates written", time.perf_counter() - start, "s")
        figure("database bytes per 1,000 jobs", job_bytes / n * 1000 / 1024, "KiB")
        figure("database bytes per 1,000 candidates", candidate_bytes / n * 1000 / 1024, "KiB")
        with running(home, timeout=120) as node:
            figure("loaded node RSS after start", mb(node.rss_kb()), "MB")
            ops = {"status": ["status"], "job list (a page)": ["job", "list"], "job list --all --json": ["job", "list", "--all", "--json"],
                   "candidate list (a page)": ["candidate", "list"], "job match-candidate (a local match)": ["job", "match-candidate", cid.hex()]}
            for label, args in ops.items():
                t = time.perf_counter()
                orgnode(home, *args)
                figure(f"after {label} ({time.perf_counter() - t:.2f} s)", mb(node.rss_kb()), "MB RSS")
            card_ms = card_latency_ms(home)
            figure(f"GET /.well-known/orgnode with {n:,} own statements (median of 5)", card_ms, "ms")
            peak = hwm_kb(node)
            figure("loaded node peak RSS (VmHWM) over all of them", mb(peak), "MB")
    return [Goal("loaded_peak_rss_mb", mb(peak), LOADED_GOAL_MB, upper=True, unit="MB", limit=interpreter_floor_mb())]


def main() -> bool:
    args = parser(__doc__).parse_args()
    n = 10_000 if args.quick else 100_000
    print(f"memory: load average {load_average()}")
    goals = idle() + loaded(n)
    return report("memory", goals)


if __name__ == "__main__":
    raise SystemExit(0 if main() else 1)
