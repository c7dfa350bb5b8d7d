"""Time and randomness are injected into the core (issue 9 item 3).

Real nodes over real HTTP and SQLite, with the node's clock (``NodeService.clock``) and random
source (``NodeService.random``) replaced: moving the clock makes a timer fire with no sleep of the
test's own, the maintenance loop sleeps until the earliest timer (not a fixed interval), and a seeded
source makes ids and keys deterministic.
"""

from __future__ import annotations

from node.core.clock import Timer
from protocol.identity import Identity
from protocol.provenance import Checkpoint
from tests.node.federation_helpers import (
    FakeClock,
    Net,
    batch_of,
    next_notes,
    pair,
    seeded_random,
    signed_post,
    synced,
    wait_until,
)

PUSH = "/federation/v1/push"
LONG_INTERVAL = 60.0  # s: far longer than any wait below, so only a timer's own wake-up can explain a run


def held_count(runtime) -> int:
    return int(next(runtime.service.db.query("SELECT COUNT(*) AS n FROM held"))["n"])


def probe(runtime) -> list[int]:
    """A timer that records the node-clock time of every run of the node's timers (the loop's heartbeat)."""
    runs: list[int] = []
    runtime.federation.timers.append(Timer("probe", runs.append))
    return runs


async def held_pair(net: Net, clock: FakeClock):
    holder = await net.start("Holder", sync_interval=LONG_INTERVAL)
    peer = await net.start("Partner", sync_interval=LONG_INTERVAL)
    await pair(holder, peer)
    await synced(holder, peer)
    await net.halt(peer)  # nothing more comes from the peer
    holder.service.clock = clock
    _, n2, n3 = next_notes(peer, ["one", "two", "three"])
    assert (await signed_post(holder, PUSH, batch_of(n2, n3), peer.service.identity)).results() == ["held", "held"]
    return holder


async def test_advancing_the_fake_clock_fires_the_expiry_timer_without_waiting_for_the_interval(net: Net):
    clock = FakeClock()
    holder = await held_pair(net, clock)
    runs = probe(holder)
    assert holder.federation.clock() == clock() and holder.talent.clock() == clock()  # one clock for every use case
    ttl = holder.service.log.quota.held_ttl_ms
    assert holder.service.log.next_held_expiry(clock()) == clock() + ttl + 1  # dropped once older than the expiry

    # Half the expiry: the loop runs its timers at once (no interval wait) and nothing is dropped.
    clock.advance(ttl // 2)
    holder.sync.timers_changed()
    await wait_until(lambda: clock() in runs, what="the timers run at the advanced time")
    assert held_count(holder) == 2, "positive control: not expired yet at half the expiry"
    assert holder.sync.timer_delay() == LONG_INTERVAL  # next due in half a day of node time: bounded by the interval

    clock.advance(ttl // 2 + 1)
    holder.sync.timers_changed()
    await wait_until(lambda: held_count(holder) == 0, timeout=5, what="held statements expired by the timer")


async def test_the_maintenance_loop_sleeps_until_the_earliest_timer_is_due(net: Net):
    """With a 60 s interval, a timer due 0.4 s from now (on the node's clock) runs within a few seconds:
    the loop slept until ``next_wakeup``, not the interval. Nothing pokes the loop after the clock is set."""
    clock = FakeClock(follow_wall=True)
    holder = await held_pair(net, clock)
    ttl = holder.service.log.quota.held_ttl_ms
    clock.advance(ttl - 400)  # the held statements expire 0.4 s from now on the node's clock
    runs = probe(holder)
    holder.sync.timers_changed()  # the clock jumped: recompute the sleep once
    await wait_until(lambda: runs, what="a run of the timers after the jump")
    assert held_count(holder) == 2, "positive control: not yet expired right after the jump"
    assert 0 < holder.sync.timer_delay() <= 0.4
    await wait_until(lambda: held_count(holder) == 0, timeout=5, what="the expiry timer due 0.4 s later")


async def test_a_seeded_random_source_makes_ids_and_keys_deterministic(net: Net):
    first, second, other = [await net.start(name) for name in ("First Org", "Second Org", "Other Org")]
    for runtime, seed in ((first, b"seed-1"), (second, b"seed-1"), (other, b"seed-2")):
        runtime.service.random = seeded_random(seed)

    def draw(runtime) -> tuple[bytes, bytes, bytes]:
        job = runtime.talent.post_job(title="Driver", skills=["driving"])
        candidate, _ = runtime.talent.add_candidate(name="Test Person", email="tp@example.org", skills=["driving"],
                                                   consent=["match"], consent_scope="all", consent_evidence="form")
        invite = runtime.federation.create_invite(600_000)
        return job.job_id, candidate.candidate_id, invite.invite_id

    same, again, different = draw(first), draw(second), draw(other)
    assert same == again, "the same seed gives the same job, candidate and invite ids on two nodes"
    assert all(a != b for a, b in zip(same, different, strict=True)), "positive control: another seed, other ids"
    assert Identity.from_random(seeded_random(b"k")).node_id == Identity.from_random(seeded_random(b"k")).node_id
    assert Identity.from_random(seeded_random(b"k")).node_id != Identity.from_random(seeded_random(b"j")).node_id
    # The node still works with its injected source: pairing uses the seeded invite secret.
    await pair(first, other)


async def test_checkpoints_are_due_on_the_nodes_clock(net: Net):
    """The checkpoint timer (every ``checkpoint_interval`` of the node's clock) fires when the clock
    is moved past it, though an hour of wall time never passes."""
    clock = FakeClock()
    node = await net.start("Signer", sync_interval=LONG_INTERVAL, checkpoint_interval=3600.0)
    node.service.clock = clock
    runs = probe(node)

    def checkpoints() -> int:
        return sum(1 for s in node.service.log.statements(node.service.node_id) if s.kind == Checkpoint.KIND)

    clock.advance(1_800_000)  # half an hour: not due
    node.sync.timers_changed()
    await wait_until(lambda: clock() in runs, what="the timers run at the advanced time")
    assert checkpoints() == 0, "positive control: no checkpoint before the interval has passed"
    clock.advance(1_800_000 + 1_000)
    node.sync.timers_changed()
    await wait_until(checkpoints, timeout=5, what="a checkpoint signed once the node's clock passed the interval")
