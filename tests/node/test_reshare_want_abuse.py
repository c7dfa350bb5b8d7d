"""Wants abused by a hostile peer (docs/protocol.md 14.2, quota rule; docs/security.md).

The diamond of tests/node/test_reshare_want.py (A's note reaches D through B and through C, both
offer it). D's clock is a ``FakeClock``, so D asks only when a test moves it. A hostile offerer is a
real aiohttp server at the address of a halted B or C that answers D's want with a batch the test
chose, built from that node's real keys and log: it must not be able to make D store anything it did
not ask for, nor more than its quotas allow, and D must ask the honest offerer next. On the serving
side, a partner's wants cannot make a node send more than a day's quota of bodies.
"""

from __future__ import annotations

import asyncio
import logging
import os

import pytest

from node.core.limits import DailyBytes
from protocol.page_seal import SealedPage
from protocol.reshare_want import WantRequest
from protocol.statement import Envelope, sign_statement
from protocol.sync import Batch
from storage import peers as P
from storage.quotas import PeerQuota
from tests.node.federation_helpers import FakeClock, health, next_notes, signed_post, wait_until
from tests.node.want_helpers import (
    WANT,
    Offerer,
    bodies,
    diamond,
    genuine_answer,
    holds_root,
    own_reshare_seq,
    post_note,
    reshares_at,
)

DAY_MS = 86_400_000


async def offered_twice(fed_net, text: str):
    """The diamond with both offers of A's note at D, nothing asked yet: (a, b, c, d, clock, root,
    the offerer D asks first, the other)."""
    a, b, c, d = await diamond(fed_net)
    clock = FakeClock()
    d.service.clock = clock
    root = await post_note(a, text)
    await wait_until(lambda: len(reshares_at(d, b, c)) == 2, 10, what="both offers at D")
    state = d.federation.wants.tracker.roots[root.id]
    assert len(state.offers) == 2 and bodies(d, b, c) == 0 and d.federation.wants.asked == 0
    first = next(x for x in (b, c) if x.service.node_id == state.offers[0][1])
    other = c if first is b else b
    return a, b, c, d, clock, root, first, other


def stored_of(d, author) -> list[tuple[int, bool]]:
    """(seq, body held) of every statement of ``author`` D holds, forks included."""
    rows = d.service.db.query("SELECT seq, body IS NOT NULL AS b FROM entries WHERE author = ? ORDER BY seq",
                              [author.service.node_id])
    forks = d.service.db.query("SELECT seq FROM forks WHERE author = ?", [author.service.node_id])
    return [(r["seq"], bool(r["b"])) for r in rows] + [(r["seq"], True) for r in forks]


def forged_answers(first, d) -> dict[str, bytes]:
    genuine = genuine_answer(first, d)
    seq = own_reshare_seq(first)
    held = first.service.log.get(first.service.log.id_at(first.service.node_id, seq))
    assert held is not None and held.header.prev is not None
    unasked = next_notes(first, ["MARKER-pushed-through-a-want"])[0]  # the next statement of its log, valid
    fork = sign_statement(first.service.identity, kind="note", seq=seq, prev=held.header.prev, now=held.header.ts,
                          body={"text": "MARKER-forked-through-a-want", "hops": 1}, private=True, salt=os.urandom(32))
    junk_page = SealedPage(1, d.service.node_id, os.urandom(16), os.urandom(1200), (os.urandom(64),))
    withheld = Envelope(held.header_bytes, held.signature, None).encode()
    return {
        "an unasked statement": Batch((Envelope.of(unasked).encode(),)).encode(),
        "a forged statement at the asked seq": Batch((Envelope.of(fork).encode(),)).encode(),
        "the body and an unasked statement": Batch((*genuine.envelopes, Envelope.of(unasked).encode())).encode(),
        "a garbled sealed page": Batch((withheld,), page=junk_page).encode(),
        "the body with more to come": Batch(genuine.envelopes, more=True).encode(),
    }


@pytest.mark.parametrize("case", ["an unasked statement", "a forged statement at the asked seq",
                                  "the body and an unasked statement", "a garbled sealed page",
                                  "the body with more to come"])
async def test_a_want_answered_with_what_was_not_asked_stores_nothing_and_d_asks_the_next(fed_net, caplog, case):
    a, b, c, d, clock, root, first, other = await offered_twice(fed_net, f"MARKER-want-liar {case}")
    before = stored_of(d, first)
    port = first.port
    await fed_net.halt(first)
    with caplog.at_level(logging.WARNING, logger="orgnode"):
        async with Offerer(port, forged_answers(first, d)[case]) as liar:
            clock.advance(1_000)
            d.sync.timers_changed()
            await asyncio.wait_for(liar.asked.wait(), 10)
            # The honest offerer is asked next and its body is taken: D's want logic survived the liar.
            await wait_until(lambda: holds_root(d, root.id), 10, what="the body from the honest offerer")
    assert d.federation.wants.asked == 2
    assert stored_of(d, first) == before  # nothing of the liar's answer was stored: no statement, body or fork
    assert dict(reshares_at(d, b, c)) == {first.service.node_id: False, other.service.node_id: True}
    refused = [r for r in caplog.records if r.getMessage() == "reshare.want-answer-refused"]
    assert refused and all("MARKER" not in str(r.__dict__) for r in caplog.records)  # no personal data logged
    assert await health(d)


async def test_an_answer_arriving_after_trust_was_removed_fails_the_offerer_not_the_node(fed_net, caplog):
    """The lost fix: ``take_batch`` refuses the (genuine) answer with ``untrusted-sender`` because D's
    admin removed the offerer while the want was in flight; the error is caught, logged, and the
    other offerer asked (before, it escaped the want's task and D asked nobody until the timeout)."""
    a, b, c, d, clock, root, first, other = await offered_twice(fed_net, "MARKER-want-untrusted")
    answer = genuine_answer(first, d).encode()
    port = first.port
    await fed_net.halt(first)
    with caplog.at_level(logging.WARNING, logger="orgnode"):
        async with Offerer(port, answer) as offerer:
            offerer.release.clear()
            clock.advance(1_000)
            d.sync.timers_changed()
            await asyncio.wait_for(offerer.asked.wait(), 10)
            d.federation.set_state(first.service.node_id, P.REMOVED)
            offerer.release.set()
            await wait_until(lambda: holds_root(d, root.id), 10, what="the body from the other offerer")
    assert d.federation.wants.asked == 2
    assert dict(reshares_at(d, b, c)) == {first.service.node_id: False, other.service.node_id: True}
    assert [r.__dict__["fields"]["code"] for r in caplog.records
            if r.getMessage() == "reshare.want-answer-refused"] == ["untrusted-sender"]


@pytest.mark.parametrize("quota", ["stored_bytes", "reshare_bytes_per_day"])
async def test_a_want_filled_body_over_the_offerers_quota_is_not_stored(fed_net, quota):
    """Both offerers have used up the quota (set at what their headers already cost): each answer's
    body is refused ``over-quota``, counted in the trust list, the re-shares stay header-only and D
    waits to ask again. Positive control: with room again, the retry takes the body."""
    a, b, c, d, clock, root, first, other = await offered_twice(fed_net, f"MARKER-want-quota {quota}")
    now = clock()
    used = {x: d.service.log.peer_usage(x.service.node_id, now) for x in (b, c)}
    cap = max(u.stored_bytes if quota == "stored_bytes" else u.reshare_bytes_today for u in used.values())
    d.service.log.quota = PeerQuota(**{quota: cap})
    clock.advance(1_000)
    d.sync.timers_changed()
    await wait_until(lambda: d.federation.wants.tracker.roots[root.id].rounds == 1, 10,
                     what="both offerers asked and failed")
    assert d.federation.wants.asked == 2 and bodies(d, b, c) == 0 and not holds_root(d, root.id)
    for x in (b, c):
        assert d.service.log.peer_usage(x.service.node_id, clock()).refused >= 1  # shown in `trust list`
        assert d.service.log.peer_usage(x.service.node_id, clock()).stored_bytes == used[x].stored_bytes
    d.service.log.quota = PeerQuota()
    clock.advance(7_000)  # past the first retry (3 s x 2)
    d.sync.timers_changed()
    await wait_until(lambda: holds_root(d, root.id), 10, what="the body once the quota has room")
    assert d.federation.wants.asked == 3 and bodies(d, b, c) == 1
    taker = next(x for x in (b, c) if dict(reshares_at(d, b, c))[x.service.node_id])
    assert d.service.log.peer_usage(taker.service.node_id, clock()).stored_bytes > used[taker].stored_bytes  # charged


async def test_wants_past_the_daily_bytes_a_node_answers_are_refused(fed_net):
    a, b, c, d = await diamond(fed_net)
    root = await post_note(a, "MARKER-want-served-budget")
    await wait_until(lambda: holds_root(d, root.id), 10, what="the note at D")
    clock = FakeClock()
    b.service.clock = clock
    seq = own_reshare_seq(b)
    size = len(genuine_answer(b, d).envelopes[0])
    b.federation.wants.served = DailyBytes(cap=2 * size)  # two answers a day
    head = b.service.log.head(b.service.node_id).seq
    answers = [await signed_post(b, WANT, WantRequest((seq,)).encode(), d.service.identity) for _ in range(3)]
    assert [(x.status, x.error) for x in answers] == [(200, None), (200, None), (507, "over-quota")]
    assert b.service.log.head(b.service.node_id).seq == head  # nothing changed
    clock.advance(DAY_MS)  # positive control: the next UTC day answers again
    again = await signed_post(b, WANT, WantRequest((seq,)).encode(), d.service.identity)
    assert again.status == 200
    assert await health(b)
