"""Fault scenarios from THREATS.md against node processes linked through faulty links (README.md here)."""

from __future__ import annotations

import pytest

from tests.faults import invariants as inv
from tests.faults.cluster import Cluster


def three(cluster: Cluster):
    """A, B, C running and pairwise partners, each link through its hub."""
    a, b, c = (cluster.add(n) for n in ("A", "B", "C"))
    for node in (a, b, c):
        node.start()
    cluster.pair(a, b)
    cluster.pair(a, c)
    cluster.pair(b, c)
    return a, b, c


def test_partition_then_heal(cluster):
    """Partition {A} | {B, C}; all three post; B and C exchange meanwhile, A gets nothing; after heal
    everything converges within backoff cap + two sync intervals."""
    a, b, c = three(cluster)
    a.post_note("before")
    inv.converged(cluster)
    cluster.partition(a, b)
    cluster.partition(a, c)
    during = {n.name: n.post_note(f"during {n.name}") for n in (a, b, c)}
    inv.wait_for(lambda: during["B"] in c.held_ids(b.id) and during["C"] in b.held_ids(c.id), inv.CONVERGE_S,
                 "B and C to exchange across their healthy link (positive control)")
    assert during["B"] not in a.held_ids(b.id) and during["A"] not in b.held_ids(a.id)
    assert cluster.link(a, b).refused > 0  # the partition really refused A's attempts
    cluster.heal(a, b)
    cluster.heal(a, c)
    inv.all_hold(cluster)
