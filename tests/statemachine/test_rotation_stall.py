"""The node state machine's first finding (long setting, 2026-12-03), reduced by hand: three peers,
pairwise partners; P0 runs a sync now (``SyncEngine.pull_all`` then ``push_all``, what ``orgnode
sync`` does); then P2 and P1 each rotate their signing key. P1 and P2 never took each other's
rotation: each one's pushes and pulls to the other were refused ``bad-signature`` (401).

The cause: a partner learnt a rotation only from the rotating node's log, over requests it
authenticated with its own key; once both had rotated, neither could authenticate to the other, so
neither could ever fetch the other's rotation. The controls (no sync step, or one rotation) only
converged because a request signed with an old key before the rotations was still in flight when
they happened (the loop stops between rules); the sync step let those finish first. Fixed by
``node/core/key_refresh.py`` (docs/protocol.md 12.3): a request that fails its signature check
makes the receiver fetch the sender's card bundle and adopt a key history that carries its own on.

The last test is the control that this test detects the old failure: the same program with the
card refresh switched off stalls as the machine found it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from protocol.bodies import KeyRotation
from tests.statemachine import checks
from tests.statemachine.checks import Model
from tests.statemachine.harness import Peers


def run_steps(peers: Peers, steps: list[str]) -> None:
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


def run_program(root: Path, steps: list[str]) -> None:
    peers = Peers(root, 3)
    try:
        run_steps(peers, steps)
        peers.run(checks.converged(peers, Model()))
    finally:
        peers.close()


def test_two_rotations_after_a_sync_now_converge(tmp_path: Path) -> None:
    run_program(tmp_path, ["sync:0", "rotate:2", "rotate:1"])


@pytest.mark.parametrize("steps", [["rotate:2", "rotate:1"], ["sync:0", "rotate:1"], ["sync:0", "rotate:2", "rotate:1", "sync:1", "rotate:1", "rotate:2"]])
def test_controls_converge(tmp_path: Path, steps: list[str]) -> None:
    run_program(tmp_path, steps)


def test_control_without_the_card_refresh_the_program_stalls_as_found(tmp_path: Path) -> None:
    """The old code (no ``learn_rotations``): P1 and P2 each try to push to the other at least three
    times, all refused, while P0 (which rotated nothing) takes both rotations; they never take each
    other's. Waited on those conditions, not on a timeout."""
    peers = Peers(tmp_path, 3)
    try:
        for peer in peers.peers:
            peer.rt.fed_state.learn_rotations = None
        run_steps(peers, ["sync:0", "rotate:2", "rotate:1"])
        p0, p1, p2 = peers.peers

        def rotations_at_p0() -> int:
            return sum(1 for p in (p1, p2) for s in p0.rt.service.log.statements(p.node_id) if s.kind == KeyRotation.KIND)

        peers.run(peers.wait(lambda: rotations_at_p0() == 2 and p1.rt.sync.delivery(p2.node_id).attempts >= 3
                             and p2.rt.sync.delivery(p1.node_id).attempts >= 3, what="three refused pushes each way"))
        assert checks.missing(peers) == {"P1<-P2": 1, "P2<-P1": 1}
    finally:
        peers.close()
