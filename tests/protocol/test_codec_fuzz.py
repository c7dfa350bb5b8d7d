"""THREATS row 9: every decoder, fed hostile bytes, raises only RemoteProtocolError with a known code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import bodies, codec, sealing
from protocol.errors import ALL_CODES, MALFORMED, TOO_LARGE, RemoteProtocolError
from protocol.statement import BODY_LIMITS, Envelope, Header
from tests.protocol.helpers import chain, ident


def _sealed_plaintext(data: bytes) -> Any:
    parts = codec.expect_list(codec.decode(data, sealing._PLAINTEXT_LIMITS), "sealed plaintext", 2)
    return codec.expect_bytes(parts[0], "salt", max_len=32), codec.expect_bytes(parts[1], "body", max_len=65536)


def _body(cls: Any) -> Callable[[bytes], Any]:
    return lambda data: cls.from_value(codec.decode(data, BODY_LIMITS))


def _open_envelope(data: bytes) -> Any:
    return Envelope.decode(data).open_plain()


DECODERS: dict[str, Callable[[bytes], Any]] = {
    "codec.decode": codec.decode,
    "Header.decode": Header.decode,
    "Envelope.decode": Envelope.decode,
    "Envelope.open_plain": _open_envelope,
    "sealed plaintext": _sealed_plaintext,
    "OrgCard": _body(bodies.OrgCard),
    "KeyRotation": _body(bodies.KeyRotation),
    "Note": _body(bodies.Note),
}

HOSTILE = [
    b"",
    b"\xc1",  # never used
    b"\xdb\xff\xff\xff\xff",  # str32 of 4 GiB
    b"\xc6\xff\xff\xff\xff",  # bin32 of 4 GiB
    b"\xdd\xff\xff\xff\xff",  # array32 of 4 G items
    b"\xdf\xff\xff\xff\xff",  # map32 of 4 G pairs
    b"\xc9\xff\xff\xff\xff\x01",  # ext32
    b"\xd4\x01\x05",  # fixext1
    b"\xc7\x01\x05a",  # ext8
    b"\xd6\xff\x00\x00\x00\x00",  # timestamp ext
    b"\x91" * 5000 + b"\xc0",  # deep nesting
    b"\x81\xa1a" * 3000 + b"\xc0",  # deep map nesting
    b"\xcb" + b"\x00" * 8,  # float64
    b"\x92\x01\xca\x00\x00\x00\x00",  # float32 inside an array
    b"\x81\xc4\x01a\x01",  # bin map key
    b"\x81\x01\x01",  # int map key
    b"\xa1\xff",  # invalid UTF-8
    b"\x01\x02",  # trailing data
    b"\x94\x01",  # truncated array
    b"\xcf" + b"\xff" * 8,  # uint64 max
    b"\xd3" + b"\x80" + b"\x00" * 7,  # int64 min
    b"\x00" * 300_000,  # oversize input
]


def _assert_typed(decoder: Callable[[bytes], Any], data: bytes) -> None:
    try:
        decoder(data)
    except RemoteProtocolError as exc:
        assert exc.code in ALL_CODES
    # Anything else (TypeError, ValueError, RecursionError...) fails the test by propagating.


@pytest.mark.parametrize("name", DECODERS)
@pytest.mark.parametrize("data", HOSTILE, ids=lambda d: d[:8].hex() or "empty")
def test_hostile_inputs(name: str, data: bytes) -> None:
    _assert_typed(DECODERS[name], data)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"\xdb\xff\xff\xff\xff", MALFORMED),  # str/bin: msgpack sees the missing bytes first
        (b"\xdb\x00\x01\x00\x01" + b"a" * 65537, TOO_LARGE),  # a complete str over the 64 KiB cap
        (b"\xc6\x00\x04\x00\x01" + b"a" * 1000, MALFORMED),
        (b"\xdd\xff\xff\xff\xff", TOO_LARGE),
        (b"\xdf\xff\xff\xff\xff", TOO_LARGE),
        (b"\x91" * 5000 + b"\xc0", MALFORMED),
        (b"\x91" * 17 + b"\xc0", MALFORMED),
        (b"\xd4\x01\x05", TOO_LARGE),
        (b"\x92\x01\xca\x00\x00\x00\x00", MALFORMED),
        (b"\x81\xc4\x01a\x01", MALFORMED),
        (b"\x00" * 300_000, TOO_LARGE),
    ],
)
def test_specific_codes(data: bytes, code: str) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        codec.decode(data)
    assert info.value.code == code


def test_nested_float_and_key_types_rejected() -> None:
    with pytest.raises(RemoteProtocolError):
        codec.decode(msgpack.packb({"a": [1, {"b": 1.5}]}))
    with pytest.raises(RemoteProtocolError):
        codec.decode(msgpack.packb({"a": {b"k": 1}}, use_bin_type=True))
    assert codec.decode(msgpack.packb({"a": [1, {"b": b"x"}]}, use_bin_type=True)) == {"a": [1, {"b": b"x"}]}


def _valid_encodings() -> list[bytes]:
    a, b = ident(1), ident(2)
    s1, s2 = chain(a, 2)
    sealed = sealing.seal_statement_body(s2, b.node_id, b.encryption_public, sealing.SUITE_X25519)
    return [
        s1.header_bytes,
        s2.header_bytes,
        Envelope.of(s1).encode(),
        Envelope.of(s2).encode(),
        Envelope.of(s2, with_body=False).encode(),
        Envelope(s2.header_bytes, s2.signature, sealed).encode(),
        s1.body or b"",
        s2.body or b"",
        codec.encode([s2.salt, s2.body]),
    ]


VALID = _valid_encodings()


@pytest.mark.parametrize("name", DECODERS)
def test_truncations_of_valid_encodings(name: str) -> None:
    decoder = DECODERS[name]
    for data in VALID:
        step = max(1, len(data) // 200)
        for cut in range(0, len(data), step):
            _assert_typed(decoder, data[:cut])
        _assert_typed(decoder, data + b"\x00")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    for decoder in DECODERS.values():
        _assert_typed(decoder, data)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(VALID), st.data())
def test_mutated_valid_encodings(base: bytes, data: st.DataObject) -> None:
    buf = bytearray(base)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(buf) - 1))
        buf[i] = data.draw(st.integers(0, 255))
    for decoder in DECODERS.values():
        _assert_typed(decoder, bytes(buf))


msgpack_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.binary(max_size=64) | st.text(max_size=32)
    | st.floats(allow_nan=False),
    lambda children: st.lists(children, max_size=6) | st.dictionaries(st.text(max_size=8), children, max_size=6),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(msgpack_values)
def test_structured_values(value: Any) -> None:
    data = msgpack.packb(value, use_bin_type=True)
    for decoder in DECODERS.values():
        _assert_typed(decoder, data)
    for cls in (bodies.OrgCard, bodies.KeyRotation, bodies.Note):
        try:
            cls.from_value(value)
        except RemoteProtocolError as exc:
            assert exc.code in ALL_CODES
