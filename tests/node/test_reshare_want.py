"""Lazy re-sharing between real nodes (docs/protocol.md 14.2, feature ``reshare-want``).

A diamond A - B, A - C, B - D, C - D (no A - D trust): A's note with hops 2 reaches D through B and
through C. With the feature D receives its body exactly once (one of the two re-shares is filled by
a want, the other stays header-only); without it at D, both re-shares carry it (positive control).
Bodies are counted from D's stored data: B's and C's ``reshare`` entries in D's log with a body.
"""

from __future__ import annotations

import asyncio
import os

from protocol.codec import encode
from protocol.identity import Identity
from protocol.reshare_want import FEATURE, MAX_WANT, WantRequest
from protocol.versions import SUPPORTED, WITHOUT_RESHARE_WANT
from tests.node.federation_helpers import FakeClock, signed_post, wait_until
from tests.node.want_helpers import WANT, Offerer, bodies, diamond, genuine_answer, holds_root, post_note, reshares_at

WITHOUT = WITHOUT_RESHARE_WANT  # a node of the release before the feature (protocol/versions.py)
assert FEATURE in SUPPORTED.features and FEATURE not in WITHOUT.features  # on by default


async def test_diamond_d_receives_the_body_once(fed_net):
    a, b, c, d = await diamond(fed_net)
    root = await post_note(a, "MARKER-want-diamond")
    await wait_until(lambda: holds_root(d, root.id) and len(reshares_at(d, b, c)) == 2, 10, what="the note at D")
    assert bodies(d, b, c) == 1
    assert d.federation.wants.asked == 1
    assert not d.federation.wants.tracker.roots  # nothing left open


async def test_positive_control_without_the_feature_d_gets_two_bodies(fed_net):
    a, b, c, d = await diamond(fed_net, d_versions=WITHOUT)
    root = await post_note(a, "MARKER-want-control")
    await wait_until(lambda: holds_root(d, root.id) and bodies(d, b, c) == 2, 10, what="both bodies at D")
    assert d.federation.wants.asked == 0


async def test_mixed_network_converges_with_one_body(fed_net):
    """B predates the feature: it sends D its body eagerly; C offers. Which of the two reaches D first
    is the network's, but D's clock is held, so D asks nothing before both are in: B's body ends the
    want whichever came first (C's offer is dropped, or ignored as an offer of a held root). Before,
    on D's real clock, C's offer asked C when B's push came more than COLLECT_MS after it (a loaded
    machine), and C's answer then filled a second body: see the next test."""
    a, b, c, d = await diamond(fed_net, b_versions=WITHOUT)
    clock = FakeClock()
    d.service.clock = clock
    root = await post_note(a, "MARKER-want-mixed")
    await wait_until(lambda: holds_root(d, root.id) and len(reshares_at(d, b, c)) == 2, 10, what="the note at D")
    assert dict(reshares_at(d, b, c)) == {b.service.node_id: True, c.service.node_id: False}
    assert not d.federation.wants.tracker.roots and d.federation.wants.tracker.next_deadline() is None  # nothing to ask, ever
    assert d.federation.wants.asked == 0


async def test_an_answer_overtaken_by_an_eager_body_is_dropped(fed_net):
    """The race the previous test holds off, forced: D asks C (B is down, so C's offer is alone), B
    comes back and pushes its body eagerly while C's answer is still on its way. The late answer is
    dropped (``WantTracker.awaits``): D keeps one body, B's."""

    a, b, c, d = await diamond(fed_net, b_versions=WITHOUT)
    clock = FakeClock()
    d.service.clock = clock
    b_home = await fed_net.stop(b)
    root = await post_note(a, "MARKER-want-overtaken")
    await wait_until(lambda: len(reshares_at(d, c)) == 1 and root.id in d.federation.wants.tracker.roots, 10,
                     what="C's offer at D")
    answer = genuine_answer(c, d).encode()
    port = c.port
    await fed_net.halt(c)
    async with Offerer(port, answer) as offerer:
        offerer.release.clear()
        clock.advance(1_000)
        d.sync.timers_changed()
        await asyncio.wait_for(offerer.asked.wait(), 10)  # D asked C; the answer is held back
        b = await fed_net.restart(b_home, versions=WITHOUT)
        await wait_until(lambda: holds_root(d, root.id), 10, what="B's eager body at D")
        offerer.release.set()
        await wait_until(lambda: offerer.answered, 10, what="C's answer sent")
        await wait_until(lambda: not d.federation.wants.tracker.roots and d.federation.wants.late == 1, 10,
                         what="the late answer handled")
    assert d.federation.wants.asked == 1
    assert dict(reshares_at(d, b, c)) == {b.service.node_id: True, c.service.node_id: False}


async def test_a_failed_offerer_makes_d_ask_the_next(fed_net):
    a, b, c, d = await diamond(fed_net)
    clock = FakeClock()
    d.service.clock = clock  # D's tracker waits on its own clock: nothing is asked until it moves
    root = await post_note(a, "MARKER-want-failover")
    await wait_until(lambda: len(reshares_at(d, b, c)) == 2, 10, what="both offers at D")
    state = d.federation.wants.tracker.roots[root.id]
    assert len(state.offers) == 2 and bodies(d, b, c) == 0
    first = next(x for x in (b, c) if x.service.node_id == state.offers[0][1])
    await fed_net.halt(first)  # the offerer D would ask first no longer answers
    clock.advance(1_000)
    d.sync.timers_changed()
    await wait_until(lambda: holds_root(d, root.id), 10, what="the body from the second offerer")
    assert d.federation.wants.asked == 2
    assert bodies(d, b, c) == 1
    assert dict(reshares_at(d, b, c))[first.service.node_id] is False


async def test_hostile_wants_are_refused_and_change_nothing(fed_net):
    a, b, c, d = await diamond(fed_net)
    root = await post_note(a, "MARKER-want-hostile")
    await wait_until(lambda: holds_root(d, root.id), 10, what="the note at D")
    reshare_seq = next(r["seq"] for r in b.service.db.query(
        "SELECT seq FROM entries WHERE author = ? AND kind = 'reshare'", [b.service.node_id]))
    head = b.service.log.head(b.service.node_id).seq
    cases = [
        (d, WantRequest((head + 5,)).encode(), 404, "not-offered"),  # beyond B's log
        (d, WantRequest((1,)).encode(), 404, "not-offered"),  # B's org card: not a re-share
        (a, WantRequest((reshare_seq,)).encode(), 404, "not-offered"),  # the root's author is excluded
        (d, encode([1, list(range(1, MAX_WANT + 2))]), 413, "too-large"),  # too many seqs
        (d, encode([1, []]), 400, "malformed"),
        (Identity.from_random(os.urandom), WantRequest((reshare_seq,)).encode(), 403, "untrusted-sender"),
    ]
    for asker, body, status, code in cases:
        identity = asker if isinstance(asker, Identity) else asker.service.identity
        answer = await signed_post(b, WANT, body, identity)
        assert (answer.status, answer.error) == (status, code), (status, code, answer.body[:200])
    assert b.service.log.head(b.service.node_id).seq == head  # nothing was appended or changed
    # Positive control: the same asker's valid want for that seq is answered with the sealed body.
    answer = await signed_post(b, WANT, WantRequest((reshare_seq,)).encode(), d.service.identity)
    assert answer.status == 200


async def test_wants_over_the_request_rate_are_refused(fed_net):
    from node.core.limits import PeerLimits

    a, b, c, d = await diamond(fed_net)
    await fed_net.halt(d)  # D's own pulls no longer spend its tokens at B: only this test's requests do
    b.fed_state.limits = PeerLimits(rate=0.001, burst=1.0)  # one request, then none for a long while
    first = await signed_post(b, WANT, WantRequest((1,)).encode(), d.service.identity)
    assert first.error == "not-offered"  # the one token: answered (seq 1 is B's org card)
    second = await signed_post(b, WANT, WantRequest((1,)).encode(), d.service.identity)
    assert (second.status, second.error) == (429, "rate-limited")
