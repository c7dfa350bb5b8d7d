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
