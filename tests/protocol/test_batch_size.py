"""Issue 10 item 7: batch sizes that shrink after cut transfers, and the pull request's ``max_items``."""

from __future__ import annotations

import pytest

from protocol.codec import encode
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.sync import MAX_BATCH, BatchSize, PullRequest

AUTHOR = b"\x01" * 32


def test_the_size_halves_to_one_and_doubles_back_to_a_full_batch():
    size = BatchSize()
    assert [size.failed() for _ in range(8)] == [32, 16, 8, 4, 2, 1, 1, 1]
    assert [size.succeeded() for _ in range(8)] == [2, 4, 8, 16, 32, 64, 64, 64]
    assert size.size == MAX_BATCH


def test_max_items_round_trips_and_the_old_form_stays_the_default():
    assert PullRequest.decode(PullRequest(((AUTHOR, 3),), 8).encode()) == PullRequest(((AUTHOR, 3),), 8)
    # Without a limit, or at a full batch, the 2-element form every version-1 node reads.
    assert PullRequest(((AUTHOR, 3),)).encode() == encode([1, [[AUTHOR, 3]]])
    assert PullRequest(((AUTHOR, 3),), MAX_BATCH).encode() == encode([1, [[AUTHOR, 3]]])
    assert PullRequest.decode(encode([1, [[AUTHOR, 3]]])).max_items is None


@pytest.mark.parametrize("bad", [0, MAX_BATCH + 1, -1, "8", True])
def test_max_items_out_of_range_is_malformed(bad):
    with pytest.raises(RemoteProtocolError) as err:
        PullRequest.decode(encode([1, [[AUTHOR, 3]], bad]))
    assert err.value.code == MALFORMED


def test_a_fourth_element_is_malformed():
    with pytest.raises(RemoteProtocolError):
        PullRequest.decode(encode([1, [[AUTHOR, 3]], 8, 1]))
