"""What must hold after every fault scenario (THREATS.md, "Fault scenarios"), as reusable checks.

Each check reads the nodes' SQLite files read-only (they may be running: WAL readers never block
the writer) and raises AssertionError naming the node and what is wrong. ``converged`` waits, time
boxed to backoff cap + two sync intervals (plus start-up room), on a condition; nothing sleeps.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable

from tests.e2e.cli_helpers import wait_for
from tests.faults.cluster import CONVERGE_S, Cluster, Node


def mutual_pairs(cluster: Cluster) -> list[tuple[Node, Node]]:
    """(holder, author) where each trusts the other now: the pairs that must exchange everything."""
    trusts = {(h.name, a.name) for h, a in cluster.trusted_pairs()}
    return [(h, a) for h, a in cluster.trusted_pairs() if (a.name, h.name) in trusts]


def missing(cluster: Cluster) -> dict[str, set[str]]:
    """For each "holder<-author" pair of mutual partners, the author's acknowledged statements the holder lacks."""
    gaps: dict[str, set[str]] = {}
    for holder, author in mutual_pairs(cluster):
        lack = set(author.acked) - holder.held_ids(author.id)
        if lack:
            gaps[f"{holder.name}<-{author.name}"] = lack
    return gaps


def acknowledged_everywhere(cluster: Cluster) -> None:
    """Every acknowledged statement is in its author's own log and at every mutual partner."""
    for node in cluster.nodes:
        lost = set(node.acked) - node.held_ids(node.id)
        assert not lost, f"{node.name} lost {len(lost)} of its own acknowledged statements"
    gaps = missing(cluster)
    assert not gaps, f"acknowledged statements missing: { {k: len(v) for k, v in gaps.items()} }"


def converged(cluster: Cluster, timeout: float = CONVERGE_S) -> None:
    """Wait (time boxed) until every mutual partner holds every acknowledged statement."""
    wait_for(lambda: not missing(cluster), timeout, f"convergence within {timeout} s, still missing "
             f"{ {k: len(v) for k, v in missing(cluster).items()} }")
    acknowledged_everywhere(cluster)


def none_applied_twice(cluster: Cluster) -> None:
    """One row per statement id and per (author, seq); an author's seqs are 1..n without gaps or repeats
    in its own log."""
    for node in cluster.nodes:
        assert node.q("SELECT id FROM entries GROUP BY id HAVING COUNT(*) > 1") == [], f"{node.name}: an id twice"
        assert node.q("SELECT author, seq FROM entries GROUP BY author, seq HAVING COUNT(*) > 1") == [], \
            f"{node.name}: an (author, seq) twice"
        seqs = [r[0] for r in node.q("SELECT seq FROM entries WHERE author = ? ORDER BY seq", (node.id,))]
        assert seqs == list(range(1, len(seqs) + 1)), f"{node.name}: its own log is not 1..n: {seqs}"


def nothing_from(cluster: Cluster, holders: Iterable[Node], author: Node, since_ids: set[str]) -> None:
    """``holders`` store none of ``since_ids`` (statements ``author`` made while not trusted by them)."""
    for holder in holders:
        stored = holder.held_ids(author.id) & since_ids
        assert not stored, f"{holder.name} stored {len(stored)} statements from untrusted {author.name}"


def no_forks(cluster: Cluster) -> None:
    for node in cluster.nodes:
        assert node.q("SELECT COUNT(*) FROM forks")[0][0] == 0, f"{node.name} holds fork evidence"


def integrity_ok(cluster: Cluster) -> None:
    for node in cluster.nodes:
        conn = sqlite3.connect(f"file:{node.home / 'orgnode.db'}?mode=ro", uri=True, timeout=5)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", f"{node.name}: integrity_check failed"
        finally:
            conn.close()


def all_hold(cluster: Cluster) -> None:
    """The invariants that need no scenario knowledge: convergence, no duplicates, no forks, integrity."""
    converged(cluster)
    none_applied_twice(cluster)
    no_forks(cluster)
    integrity_ok(cluster)
