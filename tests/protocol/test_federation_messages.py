"""Federation messages (protocol.md sections 12-14): hypothesis round-trips, and decoder fuzz.

Every decoder, fed anything at all, either returns a message or raises ``RemoteProtocolError`` with a
code from ``protocol.errors.ALL_CODES``; nothing else may escape (THREATS row 9).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from protocol.codec import decode, encode
from protocol.errors import ALL_CODES, BAD_INVITE, RemoteProtocolError
from protocol.invite import InviteToken, PairRequest
from protocol.request_auth import MAX_HEADER_LEN, RequestAuth, parse_header
from protocol.reshare_body import Reshare
from protocol.statement import BODY_LIMITS
from protocol.sync import MAX_BATCH, MAX_HAVE, Batch, ItemResult, PullRequest, PushResults
from tests.protocol.helpers import base_urls

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

ids = st.binary(min_size=32, max_size=32)
seqs = st.integers(min_value=0, max_value=2**63 - 1)
outcomes = st.sampled_from(["appended", "duplicate", "held", "fork", *sorted(ALL_CODES)])


def assert_typed(decoder: Callable[[Any], Any], data: Any) -> None:
    try:
        decoder(data)
    except RemoteProtocolError as exc:
        assert exc.code in ALL_CODES, exc.code
    # Any other exception propagates and fails the test.


# msgpack-able values of every shape a hostile peer could send (no floats: the codec refuses them).
values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=40) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def mutations(valid: bytes) -> st.SearchStrategy[bytes]:
    """Valid bytes with one byte changed, truncated, or extended."""
    return st.one_of(
        st.integers(0, max(0, len(valid) - 1)).flatmap(
            lambda i: st.integers(0, 255).map(lambda b: valid[:i] + bytes([b]) + valid[i + 1 :])
        ),
        st.integers(0, len(valid)).map(lambda n: valid[:n]),
        st.binary(min_size=1, max_size=8).map(lambda tail: valid + tail),
    )


# --- round trips ------------------------------------------------------------------------------------


@FAST
@given(st.lists(st.tuples(ids, seqs), max_size=MAX_HAVE, unique_by=lambda pair: pair[0]))
def test_pull_request_roundtrip(have: list[tuple[bytes, int]]) -> None:
    request = PullRequest(tuple(have))
    assert PullRequest.decode(request.encode()) == request


@FAST
@given(st.lists(st.binary(max_size=300), max_size=MAX_BATCH), st.booleans())
def test_batch_roundtrip(envelopes: list[bytes], more: bool) -> None:
    batch = Batch(tuple(envelopes), more)
    assert Batch.decode(batch.encode()) == batch


@FAST
@given(st.lists(st.builds(ItemResult, ids, outcomes), max_size=MAX_BATCH))
def test_push_results_roundtrip(results: list[ItemResult]) -> None:
    message = PushResults(tuple(results))
    assert PushResults.decode(message.encode()) == message


@FAST
@given(st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32), st.binary(max_size=2000))
def test_pair_request_roundtrip(invite_id: bytes, proof: bytes, bundle: bytes) -> None:
    request = PairRequest(invite_id, proof, bundle)
    assert PairRequest.decode(request.encode()) == request


@FAST
@given(
    base_urls,
    ids,
    st.binary(min_size=16, max_size=16),
    st.binary(min_size=32, max_size=32),
    seqs,
)
def test_invite_token_roundtrip(url: str, node_id: bytes, invite_id: bytes, secret: bytes, expires_at: int) -> None:
    token = InviteToken(url, node_id, invite_id, secret, expires_at)
    text = token.encode()
    assert text.startswith("orgnode1:") and "=" not in text
    assert InviteToken.decode(text) == token
    assert InviteToken.decode(f"  {text}\n") == token  # pasted with whitespace around it


@FAST
@given(st.binary(max_size=3000), st.binary(max_size=3000), st.lists(ids, min_size=1, max_size=8, unique=True))
def test_reshare_body_roundtrip(root: bytes, card: bytes, path: list[bytes]) -> None:
    reshare = Reshare(root, card, tuple(path))
    assert Reshare.from_value(decode(encode(reshare.to_value()), BODY_LIMITS)) == reshare


@FAST
@given(ids, ids, st.integers(0, 2**63 - 1), st.binary(min_size=16, max_size=16), st.binary(min_size=64, max_size=64))
def test_request_auth_header_roundtrip(origin: bytes, dest: bytes, ts: int, nonce: bytes, signature: bytes) -> None:
    auth = RequestAuth(origin, dest, ts, nonce, signature)
    header = auth.header_value()
    assert len(header) <= MAX_HEADER_LEN
    assert parse_header(header) == auth


# --- decoder fuzz -----------------------------------------------------------------------------------

BYTE_DECODERS: dict[str, Callable[[bytes], Any]] = {
    "PullRequest": PullRequest.decode,
    "Batch": Batch.decode,
    "PushResults": PushResults.decode,
    "PairRequest": PairRequest.decode,
}

VALID: dict[str, bytes] = {
    "PullRequest": PullRequest(((b"\x01" * 32, 5), (b"\x02" * 32, 0))).encode(),
    "Batch": Batch((b"\x94\x01", b"abc"), True).encode(),
    "PushResults": PushResults((ItemResult(b"\x03" * 32, "appended"), ItemResult(b"\x00" * 32, "malformed"))).encode(),
    "PairRequest": PairRequest(b"\x55" * 16, b"\x66" * 32, b"\x92\x01\x90").encode(),
}

HOSTILE = [
    b"",
    b"\xc1",
    b"\xdd\xff\xff\xff\xff",  # array32 of 4 G items
    b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
    b"\x91" * 5000 + b"\xc0",  # deep nesting
    b"\x93\x02\x90\xc2",  # version 2
    b"\x93\xff\x90\xc2",  # version out of range
    b"\x93\x01\x90\x01",  # int where a bool belongs
    b"\x92\x01\x91\x92\xc4\x20" + b"\x01" * 32 + b"\xcb" + b"\x00" * 8,  # float seq
    b"\x00" * 300_000,
]


@pytest.mark.parametrize("name", BYTE_DECODERS)
@pytest.mark.parametrize("data", HOSTILE, ids=lambda d: d[:6].hex() or "empty")
def test_hostile_message_bytes(name: str, data: bytes) -> None:
    assert_typed(BYTE_DECODERS[name], data)


@pytest.mark.parametrize("name", BYTE_DECODERS)
@FAST
@given(data=st.binary(max_size=200))
def test_random_message_bytes(name: str, data: bytes) -> None:
    assert_typed(BYTE_DECODERS[name], data)


@pytest.mark.parametrize("name", BYTE_DECODERS)
@FAST
@given(value=values)
def test_random_message_values(name: str, value: Any) -> None:
    assert_typed(BYTE_DECODERS[name], encode(value))
    assert_typed(BYTE_DECODERS[name], encode([1, value]))
    assert_typed(BYTE_DECODERS[name], encode([1, [value], value]))


@pytest.mark.parametrize("name", BYTE_DECODERS)
@FAST
@given(data=st.data())
def test_mutated_message_bytes(name: str, data: st.DataObject) -> None:
    assert_typed(BYTE_DECODERS[name], data.draw(mutations(VALID[name])))


@FAST
@given(st.text(max_size=300))
@example("orgnode1:")
@example("orgnode1:=")
@example("orgnode1:a")
@example("orgnode1:é")
@example("orgnode1:kgI")  # [2]: a future version
def test_invite_token_decode_fuzz(text: str) -> None:
    assert_typed(InviteToken.decode, text)
    assert_typed(InviteToken.decode, "orgnode1:" + text)


_TOKEN = InviteToken("https://youth.example", b"\x01" * 32, b"\x55" * 16, b"\x66" * 32, 1767830400000).encode()


@FAST
@given(st.integers(0, len(_TOKEN) - 1), st.characters(codec="ascii") | st.characters())
def test_invite_token_mutation(index: int, char: str) -> None:
    mutated = _TOKEN[:index] + char + _TOKEN[index + 1 :]
    try:
        InviteToken.decode(mutated)
    except RemoteProtocolError as exc:
        assert exc.code in {BAD_INVITE, "unknown-version"}


@FAST
@given(values)
def test_reshare_from_value_fuzz(value: Any) -> None:
    assert_typed(Reshare.from_value, value)
    assert_typed(Reshare.from_value, {"root": value, "card": b"", "path": [value]})
    assert_typed(Reshare.from_value, {"root": b"", "card": b"", "path": value})


_HEADER = RequestAuth(b"\x01" * 32, b"\x02" * 32, 1767225600000, b"\x44" * 16, b"\x07" * 64).header_value()
header_pieces = st.sampled_from(["OrgNode", " ", ",", "=", "v=1", "v=2", "origin=", "dest=", "ts=", "nonce=", "sig=",
                                 "01" * 32, "44" * 16, "-1", "1e3", "AA", "__", "é", "\x00"])


@FAST
@given(st.text(max_size=600) | st.lists(header_pieces, max_size=30).map("".join))
@example(None)  # type: ignore[arg-type]
@example("")
@example("OrgNode")
@example("OrgNode v=1")
@example("x" * 10_000)
def test_parse_header_fuzz(value: str | None) -> None:
    assert_typed(parse_header, value)
    if value is not None:
        assert_typed(parse_header, "OrgNode " + value)


@FAST
@given(st.integers(0, len(_HEADER) - 1), st.characters())
def test_parse_header_mutation(index: int, char: str) -> None:
    assert_typed(parse_header, _HEADER[:index] + char + _HEADER[index + 1 :])
