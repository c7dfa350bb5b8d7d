"""Hypothesis round-trips of headers, envelopes and bodies."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from protocol import PROTOCOL_VERSION
from protocol.bodies import KeyRotation, Note, OrgCard
from protocol.codec import decode, encode
from protocol.identity import EncryptionPublicKeys
from protocol.kinds import parse_body
from protocol.statement import BODY_LIMITS, Envelope, Header, SealedContent
from tests.protocol.helpers import base_urls, ident

b32 = st.binary(min_size=32, max_size=32)


@st.composite
def headers(draw: st.DrawFn) -> Header:
    seq = draw(st.integers(1, 2**63 - 1))
    return Header(
        version=PROTOCOL_VERSION,
        kind=draw(st.text(max_size=8)),  # ≤ 32 bytes of UTF-8
        author=draw(b32),
        seq=seq,
        prev=None if seq == 1 else draw(b32),
        ts=draw(st.integers(0, 2**63 - 1)),
        key=draw(b32),
        body_hash=draw(b32),
        body_len=draw(st.integers(0, 65536)),
        private=draw(st.booleans()),
    )


@settings(max_examples=300, deadline=None)
@given(headers())
def test_header_roundtrip(header: Header) -> None:
    data = header.encode()
    assert Header.decode(data) == header
    assert Header.decode(data).encode() == data


contents = st.one_of(
    st.none(),
    st.tuples(st.sampled_from([b"", b"\x07" * 32]), st.binary(max_size=512)),
    st.builds(SealedContent, b32, st.integers(0, 255), st.binary(max_size=2048)),
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=1024), st.binary(min_size=64, max_size=64), contents)
def test_envelope_roundtrip(header_bytes: bytes, signature: bytes, content: object) -> None:
    envelope = Envelope(header_bytes, signature, content)  # type: ignore[arg-type]
    data = envelope.encode()
    assert Envelope.decode(data) == envelope
    assert Envelope.decode(data).encode() == data


SECTORS = ["nonprofit", "social_enterprise", "company", "government", "academic", "other"]
KEYS = ident(1).encryption_public


@settings(max_examples=200, deadline=None)
@given(
    st.text(min_size=1, max_size=200).filter(lambda s: s.strip()),
    st.sampled_from(SECTORS),
    base_urls,
    b32,
)
def test_org_card_roundtrip(name: str, sector: str, url: str, x25519: bytes) -> None:
    body = OrgCard(name, sector, url, EncryptionPublicKeys(x25519, KEYS.mlkem768))
    value = decode(encode(body.to_value()), BODY_LIMITS)
    assert OrgCard.from_value(value) == body
    assert parse_body("org_card", False, value) == body


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=4096), st.integers(1, 8))
def test_note_roundtrip(text: str, hops: int) -> None:
    note = Note(text, hops)
    value = decode(encode(note.to_value()), BODY_LIMITS)
    assert Note.from_value(value) == note
    assert parse_body("note", True, value) == note


@settings(max_examples=200, deadline=None)
@given(b32, st.binary(min_size=64, max_size=64))
def test_key_rotation_roundtrip(new_key: bytes, sig: bytes) -> None:
    rotation = KeyRotation(new_key, sig)
    assert KeyRotation.from_value(decode(encode(rotation.to_value()), BODY_LIMITS)) == rotation
