"""Lazy re-sharing (docs/protocol.md 14.2, ``protocol/reshare_want.py``): the want tracker's rules,
the re-share-again rule, and the wire forms with what they reject."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.reshare import reshare_path, worth_wanting
from protocol.reshare_want import (
    AUTHOR_GRACE_MS,
    COLLECT_MS,
    MAX_WANT,
    WANT_TIMEOUT_MS,
    Offer,
    Want,
    WantRequest,
    WantTracker,
    offers_from_value,
)

A, B, C, D, ME = (bytes([i]) * 32 for i in range(1, 6))
ROOT = b"\x09" * 32


def test_reshare_path_follows_the_hop_limit() -> None:
    assert reshare_path(ME, A, hops=2) == (ME,)
    assert reshare_path(ME, A, hops=1) is None  # direct partners only
    assert reshare_path(ME, A, hops=3, path=(B,)) == (B, ME)
    assert reshare_path(ME, A, hops=2, path=(B,)) is None  # distance 2: no further
    assert reshare_path(A, A, hops=8) is None  # never one's own root
    assert reshare_path(ME, A, hops=8, path=(ME, B)) is None  # never twice on a path


def test_reshare_again_only_from_a_smaller_distance() -> None:
    assert reshare_path(ME, A, hops=8, path=(B, C), reshared_at=4) == (B, C, ME)  # distance 3 < 4
    assert reshare_path(ME, A, hops=8, path=(B, C), reshared_at=3) is None
    assert reshare_path(ME, A, hops=8, path=(B, C, D), reshared_at=3) is None


def test_worth_wanting() -> None:
    assert worth_wanting(None, 8, hops=8)  # missing: always
    assert worth_wanting(5, 3, hops=8)
    assert not worth_wanting(3, 3, hops=8)
    assert not worth_wanting(5, 8, hops=8)  # nearer, but could not re-share from there anyway


def test_asks_one_offerer_and_the_next_after_a_timeout() -> None:
    t = WantTracker(collect_ms=0)
    assert t.offered(ROOT, B, 4, 3, now=0) == Want(B, 4, ROOT)
    assert t.offered(ROOT, C, 9, 3, now=10) is None  # one ask at a time: C's body never travels
    assert t.due(WANT_TIMEOUT_MS - 1) == []
    assert t.due(WANT_TIMEOUT_MS) == [Want(C, 9, ROOT)]
    assert t.obtained(ROOT, 3, WANT_TIMEOUT_MS + 5) is None
    assert t.roots == {}


def test_a_failed_offerer_is_replaced_at_once_and_retried_later() -> None:
    t = WantTracker(collect_ms=0)
    t.offered(ROOT, B, 4, 3, now=0)
    t.offered(ROOT, C, 9, 4, now=0)
    assert t.failed(ROOT, C, now=1) is None  # not the one asked: nothing changes
    assert t.failed(ROOT, B, now=1) == Want(C, 9, ROOT)
    assert t.failed(ROOT, C, now=2) is None  # every offerer failed: start over later, not at once
    deadline = t.next_deadline()
    assert deadline is not None and deadline > 2
    assert t.due(deadline) == [Want(B, 4, ROOT)]  # nearest first


def test_nearest_offer_first_and_a_nearer_one_after_a_body() -> None:
    t = WantTracker(collect_ms=0)
    assert t.offered(ROOT, B, 4, 6, now=0) == Want(B, 4, ROOT)
    t.offered(ROOT, C, 2, 5, now=1)
    t.offered(ROOT, D, 7, 3, now=2)
    # B's body puts us at 6: D's offer (3) is nearer and is asked next, C's (5) too if D fails
    assert t.obtained(ROOT, 6, now=3) == Want(D, 7, ROOT)
    assert t.obtained(ROOT, 3, now=4) is None
    assert t.roots == {}


def test_a_repeated_offer_keeps_its_place_and_a_nearer_one_replaces_it() -> None:
    """Before, the same offer arriving again (a retried push) went to the back of its distance, and a
    farther one from the same peer replaced its nearer one; an offer from the peer being asked was
    added a second time."""
    t = WantTracker()
    t.offered(ROOT, B, 4, 3, now=0)
    t.offered(ROOT, C, 9, 3, now=1)
    t.offered(ROOT, B, 4, 3, now=2)  # B's offer again
    t.offered(ROOT, C, 9, 5, now=3)  # C from farther: no change
    assert [o[1:] for o in t.roots[ROOT].offers] == [(B, 4), (C, 9)]
    assert t.due(COLLECT_MS) == [Want(B, 4, ROOT)]
    t.offered(ROOT, B, 4, 3, now=COLLECT_MS + 1)  # the asked one again: not queued twice
    assert [o[1:] for o in t.roots[ROOT].offers] == [(C, 9)]
    assert t.failed(ROOT, B, now=COLLECT_MS + 2) == Want(C, 9, ROOT)
    t.offered(ROOT, B, 11, 2, now=COLLECT_MS + 3)  # B, failed at 3, now offers from 2: waits again
    assert t.roots[ROOT].offers == [(2, B, 11)] and t.roots[ROOT].tried == []


def test_the_first_offer_waits_for_nearer_ones() -> None:
    t = WantTracker()
    assert t.offered(ROOT, B, 4, 6, now=0) is None
    assert t.offered(ROOT, C, 2, 4, now=COLLECT_MS - 1) is None
    assert t.next_deadline() == COLLECT_MS
    assert t.due(COLLECT_MS) == [Want(C, 2, ROOT)]  # the nearest of what came in the window


def test_a_partner_authors_root_waits_for_the_authors_own_copy() -> None:
    t = WantTracker()
    assert t.offered(ROOT, B, 4, 2, now=0, author_is_partner=True) is None
    assert t.due(AUTHOR_GRACE_MS - 1) == []
    assert t.due(AUTHOR_GRACE_MS) == [Want(B, 4, ROOT)]


def test_want_request_round_trip_and_rejections() -> None:
    assert WantRequest.decode(WantRequest((4, 9)).encode()) == WantRequest((4, 9))
    assert WantRequest((4, 9)).encode().hex() == "92019204" "09"
    for bad in ("920190", "92019204" "04", "9202910" "4", "93019104c0", "920191a161", "92019100"):
        with pytest.raises(RemoteProtocolError) as err:
            WantRequest.decode(bytes.fromhex(bad))
        assert err.value.code in (MALFORMED, "unknown-version", "too-large")


def test_offers_decode_and_rejections() -> None:
    offers = offers_from_value([[0, ROOT, A, 2], [3, ROOT, B, 8]], envelopes=4)
    assert offers == (Offer(0, ROOT, A, 2), Offer(3, ROOT, B, 8))
    assert offers_from_value([o.to_value() for o in offers], 4) == offers
    for bad in ([[4, ROOT, A, 2]], [[1, ROOT, A, 2], [1, ROOT, A, 2]], [[1, ROOT, A, 2], [0, ROOT, A, 2]],
                [[0, ROOT, A, 1]], [[0, ROOT, A, 9]], [[0, ROOT[:31], A, 2]], [[0, ROOT, A]], "x"):
        with pytest.raises(RemoteProtocolError) as err:
            offers_from_value(bad, 4)
        assert err.value.code == MALFORMED


@given(st.binary(max_size=200))
def test_want_request_decoder_only_raises_typed_errors(data: bytes) -> None:
    try:
        WantRequest.decode(data)
    except RemoteProtocolError:
        pass


@given(st.lists(st.integers(1, 2**40), min_size=1, max_size=MAX_WANT, unique=True))
def test_want_request_round_trips(seqs: list[int]) -> None:
    request = WantRequest(tuple(seqs))
    assert WantRequest.decode(request.encode()) == request


@given(st.integers(1, 16).flatmap(lambda n: st.tuples(
    st.just(n), st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True),
    st.binary(min_size=32, max_size=32), st.integers(2, 8), st.booleans())))
def test_batch_with_offers_round_trips(case: tuple[int, list[int], bytes, int, bool]) -> None:
    from protocol.sync import Batch

    n, indexes, root, distance, more = case
    offers = tuple(Offer(i, root, A, distance) for i in sorted(indexes))
    batch = Batch(tuple(bytes([i]) * 8 for i in range(n)), more, None, offers)
    assert Batch.decode(batch.encode()) == batch
    assert Batch.decode(Batch(batch.envelopes, more).encode()).offers == ()  # the 3-element form has none


def test_batch_with_an_empty_offers_element_is_malformed() -> None:
    from protocol.codec import encode
    from protocol.sync import Batch

    with pytest.raises(RemoteProtocolError) as err:
        Batch.decode(encode([1, [b"x"], False, None, []]))
    assert err.value.code == MALFORMED
