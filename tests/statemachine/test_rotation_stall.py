"""The node state machine's first finding (long setting, 2026-12-03), reduced by hand: three peers,
pairwise partners; P0 runs a sync now (``SyncEngine.pull_all`` then ``push_all``, what ``orgnode
sync`` does); then P2 and P1 each rotate their signing key. P1 and P2 never take each other's
rotation in ``CONVERGE_S``: each one's pushes and pulls to the other are refused ``bad-signature``
(401). Without the sync step, or with one rotation, the same program converges (controls below).

Strict xfail until the cause is fixed (then this test fails and the mark comes off). Long setting only:
it waits out the convergence timeout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.statemachine import checks
from tests.statemachine.checks import Model
from tests.statemachine.conftest import long_run
from tests.statemachine.harness import Peers


def run_program(root: Path, steps: list[str]) -> None:
    peers = Peers(root, 3)
    try:
        for step in steps:
            op, i = step.split(":")
            peer = peers.peers[int(i)]
            if op == "sync":
                peers.run(peer.rt.sync.pull_all())
                peers.run(peer.rt.sync.push_all())
            elif op == "rotate":
                before = peer.own_seq()
                peer.rt.federation.rotate_key()
                peer.acknowledge_since(before)
        peers.run(checks.converged(peers, Model()))
    finally:
        peers.close()


@pytest.fixture(autouse=True)
def _long_only(request: pytest.FixtureRequest) -> None:
    if not long_run(request.config):
        pytest.skip("long setting only: pytest tests/statemachine --statemachine-long")


@pytest.mark.xfail(strict=True, reason="known stall: a sync now, then two partners rotate their keys (see module docstring)")
def test_two_rotations_after_a_sync_now_converge(tmp_path: Path) -> None:
    run_program(tmp_path, ["sync:0", "rotate:2", "rotate:1"])


@pytest.mark.parametrize("steps", [["rotate:2", "rotate:1"], ["sync:0", "rotate:1"]])
def test_controls_converge(tmp_path: Path, steps: list[str]) -> None:
    run_program(tmp_path, steps)
