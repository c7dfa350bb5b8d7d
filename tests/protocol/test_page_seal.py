"""Sealed pages (docs/protocol.md 13.8): the published vector, and what a receiver must refuse:
reordered, truncated, moved (another page) or misaddressed items; the codec under hypothesis."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.page_seal import SealedPage, item_aad, item_key, open_page, page_info, seal_page
from protocol.sync import Batch
from tests.protocol import make_vectors

B = make_vectors.identity("B")
A = make_vectors.identity("A")


@pytest.fixture(scope="module")
def vector() -> dict[str, Any]:
    data = make_vectors.load()
    assert data is not None
    return data["page"]  # type: ignore[no-any-return]


def _page(vector: dict[str, Any]) -> tuple[Batch, SealedPage]:
    batch = Batch.decode(bytes.fromhex(vector["batch"]))
    assert batch.page is not None
    return batch, batch.page


def test_page_vector_opens(vector: dict[str, Any]) -> None:
    batch, page = _page(vector)
    page_id = bytes.fromhex(vector["page_id"])
    assert vector["info"] == (b"orgnode/page/v1\x00" + page_id + B.node_id).hex() == page_info(page_id, B.node_id).hex()
    assert item_key(bytes.fromhex(vector["secret"]), page_id, B.node_id).hex() == vector["item_key"]
    opener = open_page(page, B, len(batch.envelopes))
    for i, (sid, aad, plain, item) in enumerate(zip(vector["statement_ids"], vector["aad"], vector["plaintexts"],
                                                    vector["items"], strict=True)):
        assert item_aad(page_id, 2, i, bytes.fromhex(sid), B.node_id).hex() == aad
        assert page.items[i] is not None and page.items[i].hex() == item
        assert opener.open(i, bytes.fromhex(sid), bytes.fromhex(item)).hex() == plain


def test_reordered_truncated_moved_and_misaddressed_items_do_not_open(vector: dict[str, Any]) -> None:
    batch, page = _page(vector)
    ids = [bytes.fromhex(s) for s in vector["statement_ids"]]
    items = [bytes.fromhex(i) for i in vector["items"]]
    opener = open_page(page, B, 2)
    assert opener.open(1, ids[1], items[1])  # positive control
    with pytest.raises(RemoteProtocolError) as swapped:
        opener.open(0, ids[1], items[1])  # an item (with its statement) moved to another position
    assert swapped.value.code == "decrypt-failed"
    with pytest.raises(RemoteProtocolError) as other_statement:
        opener.open(0, ids[1], items[0])  # the body claimed for another statement
    assert other_statement.value.code == "decrypt-failed"
    # Truncated to one item: the item list must match the envelopes, and the count is in the AAD.
    with pytest.raises(RemoteProtocolError) as short:
        open_page(page, B, 1)
    assert short.value.code == "malformed"
    truncated = SealedPage(page.suite, page.recipient, page.page_id, page.box, page.items[:1])
    with pytest.raises(RemoteProtocolError) as count:
        open_page(truncated, B, 1).open(0, ids[0], items[0])
    assert count.value.code == "decrypt-failed"
    # Another recipient: refused by id, and the box does not open for it either.
    with pytest.raises(RemoteProtocolError) as wrong:
        open_page(page, A, 2)
    assert wrong.value.code == "wrong-recipient"
    readdressed = SealedPage(page.suite, A.node_id, page.page_id, page.box, page.items)
    with pytest.raises(RemoteProtocolError) as not_for_a:
        open_page(readdressed, A, 2)
    assert not_for_a.value.code == "decrypt-failed"


def test_an_item_moved_into_another_page_does_not_open(vector: dict[str, Any]) -> None:
    _, page = _page(vector)
    ids = [bytes.fromhex(s) for s in vector["statement_ids"]]
    other = seal_page([(ids[0], b"x"), (ids[1], b"y")], B.node_id, B.encryption_public, page_id=b"\x01" * 16, secret=b"\x02" * 32)
    opener = open_page(other, B, 2)
    assert opener.open(0, ids[0], other.items[0] or b"") == b"x"  # positive control
    with pytest.raises(RemoteProtocolError) as replay:
        opener.open(0, ids[0], page.items[0] or b"")
    assert replay.value.code == "decrypt-failed"
    # Same secret, another page id: still another key and other associated data.
    moved = seal_page([(ids[0], b"x")], B.node_id, B.encryption_public, page_id=b"\x03" * 16, secret=b"\x02" * 32)
    with pytest.raises(RemoteProtocolError):
        open_page(moved, B, 1).open(0, ids[0], other.items[0] or b"")


def test_batch_with_a_page_must_match_its_envelopes(vector: dict[str, Any]) -> None:
    batch, page = _page(vector)
    with pytest.raises(ProtocolError):
        Batch(batch.envelopes[:1], False, page)
    from protocol.codec import encode

    raw = encode([1, list(batch.envelopes[:1]), False, page.to_value()])
    with pytest.raises(RemoteProtocolError) as bad:
        Batch.decode(raw)
    assert bad.value.code == "malformed"


plaintexts = st.lists(st.one_of(st.none(), st.tuples(st.binary(min_size=32, max_size=32), st.binary(max_size=300))),
                      min_size=1, max_size=8)


@settings(max_examples=25, deadline=None)
@given(plaintexts, st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32), st.booleans())
def test_page_codec_round_trip(items: list[tuple[bytes, bytes] | None], page_id: bytes, secret: bytes, more: bool) -> None:
    page = seal_page(items, B.node_id, B.encryption_public, page_id=page_id, secret=secret)
    envelopes = tuple(bytes([i]) * 10 for i in range(len(items)))
    decoded = Batch.decode(Batch(envelopes, more, page).encode())
    assert decoded == Batch(envelopes, more, page)
    opener = open_page(page, B, len(items))
    for i, item in enumerate(items):
        assert (page.items[i] is None) == (item is None)
        if item is not None:
            assert opener.open(i, item[0], page.items[i] or b"") == item[1]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_batch_decoder_refuses_garbage_with_typed_errors(data: bytes) -> None:
    try:
        Batch.decode(data)
    except RemoteProtocolError:
        pass
