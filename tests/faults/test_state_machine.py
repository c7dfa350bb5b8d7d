"""Hypothesis drives the fault operations in random order against three node processes.

Rules: post a job, add a candidate (no consent: it must never leave its node), partition or heal a
pair's links, kill -9 and restart a node, restart a node with its clock skewed (inside or past the
request window). At the end (teardown) everything is healed and every clock put right. After every step the cheap
invariants hold (nothing applied twice, no fork, every acknowledged statement in its author's own log,
no candidate leaked, integrity ok); at the end, convergence within backoff cap + two
sync intervals. CI runs a few short programs; ``--faults-full`` (or FAULTS_FULL=1) runs more and longer.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule, run_state_machine_as_test

from protocol.request_auth import FRESHNESS_MS
from tests.faults import invariants as inv
from tests.faults.cluster import Cluster, Node, StartCheckWaiting
from tests.faults.conftest import full_run

WINDOW_S = FRESHNESS_MS / 1000
SKEWS = (0.0, WINDOW_S - 20, WINDOW_S + 20)  # none, at the window's edge, past it
NODE = st.integers(0, 2)
PAIR = st.sampled_from([(0, 1), (0, 2), (1, 2)])
_counter = itertools.count()


class FaultMachine(RuleBasedStateMachine):
    """Three nodes, pairwise partners through links; the rules are the faults an admin meets."""

    shared: Cluster | None = None  # one cluster for every program of a run (set up by the test)
    markers: dict[int, list[bytes]] = {}

    @initialize()
    def start_cluster(self) -> None:
        """Programs continue on the run's cluster: each ended settled, and the invariants must hold
        for any history, so starting from the last one's state loses nothing and saves ~8 s each."""
        assert FaultMachine.shared is not None
        self.cluster = FaultMachine.shared
        self.nodes: list[Node] = self.cluster.nodes
        self.partitioned: set[tuple[int, int]] = set()

    @rule(i=NODE)
    def post_job(self, i: int) -> None:
        node = self.nodes[i]
        before = len(node.acked)
        try:
            node.post_job(f"Youth worker {next(_counter)}")
        except StartCheckWaiting:
            # Restarted while cut off from every partner: refusing to sign is right (a rollback could
            # fork the log); nothing is acknowledged, and the invariants check nothing was stored.
            assert not any(self._reachable(i, j) for j in range(3) if j != i), \
                f"node {i} refused to sign although a partner could answer it"
            assert len(node.acked) == before
        self._step(f"post_job {i}")

    @rule(i=NODE)
    def add_candidate(self, i: int) -> None:
        marker = f"Canary{next(_counter):04d}Zq"
        self.nodes[i].json("candidate", "add", "--name", marker, "--email", f"{marker.lower()}@example.org",
                           "--skills", "youth work")
        self.markers[i].append(marker.encode())
        self._step(f"add_candidate {i}")

    @precondition(lambda self: len(self.partitioned) < 3)
    @rule(pair=PAIR)
    def partition(self, pair: tuple[int, int]) -> None:
        """Cut both directions of a pair's links (again, if already cut: still cut)."""
        self.cluster.partition(self.nodes[pair[0]], self.nodes[pair[1]])
        self.partitioned.add(pair)
        self._step(f"partition {pair}")

    @precondition(lambda self: bool(self.partitioned))
    @rule(data=st.data())
    def heal(self, data: st.DataObject) -> None:
        pair = data.draw(st.sampled_from(sorted(self.partitioned)))
        self.cluster.heal(self.nodes[pair[0]], self.nodes[pair[1]])
        self.partitioned.discard(pair)
        self._step(f"heal {pair}")

    @rule(i=NODE)
    def kill_and_restart(self, i: int) -> None:
        self.nodes[i].kill()
        self.nodes[i].start()
        self._step(f"kill -9 and restart {i}")

    @rule(i=NODE, skew=st.sampled_from(SKEWS))
    def skew_clock(self, i: int, skew: float) -> None:
        """Restart node i (kill -9) with its clock ``skew`` seconds ahead."""
        node = self.nodes[i]
        node.kill()
        node.clock_offset_s = skew
        node.start()
        self._step(f"skew {i} by {skew} s")

    def _reachable(self, i: int, j: int) -> bool:
        """Whether j can answer i: their link is up and their clocks are within the 300 s request window."""
        cut = (i, j) in self.partitioned or (j, i) in self.partitioned
        return not cut and abs(self.nodes[i].clock_offset_s - self.nodes[j].clock_offset_s) < 300

    def _settle(self) -> None:
        """Heal every link and put every clock right, then everything must converge."""
        for i, j in list(self.partitioned):
            self.cluster.heal(self.nodes[i], self.nodes[j])
        self.partitioned.clear()
        for node in self.nodes:
            if node.clock_offset_s:
                node.stop()
                node.clock_offset_s = 0.0
                node.start()
        inv.all_hold(self.cluster)
        self._step("settle: healed, clocks right, converged")

    def _step(self, step: str) -> None:
        print(f"fault step: {step}")  # shown with `pytest -s`: the program hypothesis ran

    @invariant()
    def nothing_twice_no_fork_intact(self) -> None:
        if not hasattr(self, "cluster"):
            return
        inv.none_applied_twice(self.cluster)
        inv.no_forks(self.cluster)
        inv.integrity_ok(self.cluster)
        for node in self.nodes:
            assert set(node.acked) <= node.held_ids(node.id), f"{node.name} lost an acknowledged statement"

    @invariant()
    def candidates_stay_home(self) -> None:
        """A candidate without consent never reaches another node's database (THREATS row 17)."""
        if not hasattr(self, "cluster"):
            return
        raws = [b"".join(p.read_bytes() for p in node.home.glob("orgnode.db*")) for node in self.nodes]
        for owner, markers in self.markers.items():
            assert all(m in raws[owner] for m in markers), "positive control: the owner's file holds its candidates"
            for other, node in enumerate(self.nodes):
                if other == owner:
                    continue
                leaked = [m for m in markers if m in raws[other]]
                assert not leaked, f"{len(leaked)} of {self.nodes[owner].name}'s candidates found at {node.name}"

    def teardown(self) -> None:
        if hasattr(self, "cluster"):
            self._settle()


def three_node_cluster(root: Path) -> Cluster:
    cluster = Cluster(root)
    nodes = [cluster.add(n) for n in ("A", "B", "C")]
    for node in nodes:
        node.start()
    for i, j in ((0, 1), (0, 2), (1, 2)):
        cluster.pair(nodes[i], nodes[j])
    return cluster


def _settings(full: bool) -> settings:
    return settings(max_examples=6 if full else 3, stateful_step_count=15 if full else 6, deadline=None,
                    database=None, suppress_health_check=list(HealthCheck))


def test_fault_state_machine(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    FaultMachine.shared = three_node_cluster(tmp_path)
    FaultMachine.markers = {0: [], 1: [], 2: []}
    try:
        run_state_machine_as_test(FaultMachine, settings=_settings(full_run(request.config)))  # the scenarios' switch
    finally:
        FaultMachine.shared.close()
        FaultMachine.shared = None

