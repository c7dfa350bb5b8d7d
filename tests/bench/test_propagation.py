"""The federation simulator (bench/propagation, issue 15 item 1) in CI: a seeded 100-node run.

It must show the lazy rule (docs/protocol.md 14.2) converging within the goals, and the positive
control: on the same world, naive flooding and the eager version-1 rule exceed the copies bound,
so the bound is one a strategy can fail. Same seed, same figures.
"""

from __future__ import annotations

import math

import pytest

from bench.propagation import Figures, simulate


@pytest.fixture(scope="module")
def run100() -> dict[str, Figures]:
    return simulate(100, seed=7, jobs=4)


def test_lazy_reaches_every_reachable_node_within_the_goals(run100: dict[str, Figures]) -> None:
    lazy = run100["lazy"]
    assert lazy.reach == 1.0
    assert lazy.all_s < 60
    assert lazy.rounds <= math.ceil(math.log2(100)) + 2
    assert lazy.copies_run <= 1.5
    assert lazy.p99_s <= 10
    assert 0 < lazy.catchup_s < 60 and 0 < lazy.catchup_copies <= 1.5  # > 0: a catch-up happened at all


def test_positive_control_flooding_and_eager_exceed_the_copies_bound(run100: dict[str, Figures]) -> None:
    assert run100["flood"].copies_run > 1.5
    assert run100["eager"].copies_run > 1.5
    assert run100["flood"].catchup_copies > 1.5
    # the same world: flooding reaches everyone too, so the difference is the rule, not the graph
    assert run100["flood"].reach == 1.0


def test_same_seed_same_figures(run100: dict[str, Figures]) -> None:
    assert simulate(100, seed=7, jobs=4) == run100
    assert simulate(100, seed=8, jobs=4) != run100


def test_partners_without_the_feature_still_get_every_job() -> None:
    """Half the nodes predate reshare-want: they are sent bodies as in version 1 and reached all the same."""
    mixed = simulate(100, seed=7, jobs=4, strategies=("lazy",), legacy_share=0.5)["lazy"]
    assert mixed.reach == 1.0
    assert mixed.all_s < 60


def test_a_peer_back_during_a_failing_push_gets_the_next_job_at_once() -> None:
    """The 1,000-node miss (docs/performance.md): P's push to X was sent while X was down (after
    many failures), X came back and contacted P while it was in flight, and the push's failure then
    backed P off for up to the cap: P's next job reached X 1,100 s late. The contact now applies
    after that failure (protocol.sync.PeerDelivery), so the next job goes to X at once."""
    from bench.propagation.federation import SimFederation
    from bench.propagation.world import CONNECT_TIMEOUT_MS

    fed = SimFederation("lazy", 100, 7)
    x = next(node for node in fed.nodes.values() if node.peers)
    p = fed.nodes[x.peers[0]]
    x.online = False
    delivery = p.delivery_of(x.nid)
    delivery.attempts = 8  # X has been down for hours: the next failure would back off ~1-2 h
    p.post_job(b"job-a", 8, 6000)  # pushed to X at once; fails after the connect timeout
    assert delivery.state.value == "in_flight"
    fed.loop.at(CONNECT_TIMEOUT_MS / 2, x.come_back)  # X is back while that push is failing
    fed.loop.run_until(CONNECT_TIMEOUT_MS + 2_000)
    assert b"job-a" in x.holds  # by its pull on the way back
    posted = fed.loop.now
    fed.loop.at(posted, p.post_job, b"job-b", 8, 6000)
    fed.loop.run_until(posted + 2_000)  # two seconds: one push over a WAN link of at most 200 ms
    assert b"job-b" in x.holds and x.holds[b"job-b"][0] - posted < 2_000
