"""protocol/c2sp_note.py against the C2SP texts: the published signed-note example, an independent
reference verifier (tests/protocol/c2sp_reference.py), round trips and typed refusals (hypothesis)."""

from __future__ import annotations

import base64

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import given
from hypothesis import strategies as st

from protocol.c2sp_note import (
    CheckpointText,
    SignedNote,
    checkpoint_text,
    cosign,
    key_id,
    origin_of,
    sign_note,
    verify_cosignature,
    verify_note,
)
from protocol.errors import BAD_SIGNATURE, MALFORMED, UNKNOWN_KEY, RemoteProtocolError
from protocol.merkle import tree_root
from tests.protocol import c2sp_reference as ref

EXAMPLE_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
EXAMPLE_NOTE = ("This is an example message.\n\n\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONnc"
                "AlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n").encode()
AUTHOR = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
COSIGNER = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(32, 64)))
NODE_A, NODE_B = b"\xaa" * 32, b"\xbb" * 32


def pub(key: ed25519.Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes_raw()


def signed_checkpoint(size: int = 5) -> bytes:
    text = checkpoint_text(NODE_A, size, tree_root([bytes([i]) * 32 for i in range(size)]))
    return SignedNote(text, (sign_note(text, origin_of(NODE_A), pub(AUTHOR), AUTHOR.sign),)).encode()


def test_the_signed_note_example_verifies():
    name, kid_hex, vkey = EXAMPLE_VKEY.split("+")
    raw = base64.b64decode(vkey)
    assert raw[0] == 0x01 and key_id(name, 0x01, raw[1:]).hex() == kid_hex
    note = SignedNote.decode(EXAMPLE_NOTE)
    verify_note(note, name, raw[1:])
    assert note.encode() == EXAMPLE_NOTE


def test_our_checkpoint_note_and_cosignature_verify_with_the_independent_parser():
    note = signed_checkpoint()
    text = ref.verify_ed25519_note(note, origin_of(NODE_A), pub(AUTHOR))
    origin, size, root = ref.checkpoint(text)
    assert (origin, size, root) == (origin_of(NODE_A), 5, tree_root([bytes([i]) * 32 for i in range(5)]))
    line = cosign(text, origin_of(NODE_B), pub(COSIGNER), 1_700_000_000, COSIGNER.sign)
    assert ref.verify_cosignature(note + line.encode().encode(), origin_of(NODE_B), pub(COSIGNER)) == 1_700_000_000
    assert verify_cosignature(text, line, origin_of(NODE_B), pub(COSIGNER)) == 1_700_000_000


def test_tampered_notes_and_cosignatures_are_refused_by_both_parsers():
    note = signed_checkpoint()
    tampered = note.replace(b"\n5\n", b"\n6\n")
    with pytest.raises(InvalidSignature):
        ref.verify_ed25519_note(tampered, origin_of(NODE_A), pub(AUTHOR))
    with pytest.raises(RemoteProtocolError) as err:
        verify_note(SignedNote.decode(tampered), origin_of(NODE_A), pub(AUTHOR))
    assert err.value.code == BAD_SIGNATURE
    text = SignedNote.decode(note).text
    line = cosign(text, origin_of(NODE_B), pub(COSIGNER), 1_700_000_000, COSIGNER.sign)
    forged = type(line)(line.name, line.key_id, line.signature[:8] + bytes(64))
    with pytest.raises(InvalidSignature):
        ref.verify_cosignature(note + forged.encode().encode(), origin_of(NODE_B), pub(COSIGNER))
    with pytest.raises(RemoteProtocolError) as err:
        verify_cosignature(text, forged, origin_of(NODE_B), pub(COSIGNER))
    assert err.value.code == BAD_SIGNATURE
    # a cosignature is not a note signature: type 0x04 vs 0x01 key IDs keep them apart
    with pytest.raises(RemoteProtocolError) as err:
        verify_cosignature(text, line, origin_of(NODE_B), pub(AUTHOR))
    assert err.value.code == UNKNOWN_KEY


@pytest.mark.parametrize("bad", [
    b"", b"no blank line\n", b"text\n\n", b"text\n\n\xe2\x80\x94 name AAAA\n", b"text\x01\n\n\xe2\x80\x94 n AAAAAAA=\n",
    b"text\n\n\xe2\x80\x94 na+me AAAAAAAA\n", b"text\n\n\xe2\x80\x94 name AAAAAAAA", b"text\n\n- name AAAAAAAA\n",
    b"\xff\n\n\xe2\x80\x94 name AAAAAAAA\n", b"x" * 20000,
])
def test_malformed_notes_are_refused_as_malformed(bad):
    with pytest.raises(RemoteProtocolError) as err:
        SignedNote.decode(bad)
    assert err.value.code == MALFORMED


@pytest.mark.parametrize("bad", [b"o\n5\n", b"o\n05\n" + base64.b64encode(bytes(32)) + b"\n",
                                 b"\n5\n" + base64.b64encode(bytes(32)) + b"\n", b"o\n5\n" + base64.b64encode(bytes(31)) + b"\n",
                                 b"o\n18446744073709551616\n" + base64.b64encode(bytes(32)) + b"\n", b"o\n5\nAAAA\n\n"])
def test_malformed_checkpoints_are_refused_as_malformed(bad):
    with pytest.raises(RemoteProtocolError) as err:
        CheckpointText.decode(bad)
    assert err.value.code == MALFORMED


@given(st.integers(0, 2**64 - 1), st.binary(min_size=32, max_size=32),
       st.lists(st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=20), max_size=3))
def test_checkpoint_text_round_trips(size, root, extensions):
    text = CheckpointText("orgnode/" + "ab" * 32, size, root, tuple(extensions))
    assert CheckpointText.decode(text.encode()) == text
    assert ref.checkpoint(text.encode()) == (text.origin, size, root)


@given(st.binary(max_size=400))
def test_arbitrary_bytes_never_escape_as_other_errors(data):
    try:
        SignedNote.decode(data)
    except RemoteProtocolError as exc:
        assert exc.code == MALFORMED
    try:
        CheckpointText.decode(data)
    except RemoteProtocolError as exc:
        assert exc.code == MALFORMED


def test_the_documented_vector_is_recomputed_byte_for_byte():
    """docs/protocol.md 21, "Checkpoint note and cosignature (C2SP)"."""
    from pathlib import Path

    from protocol.identity import node_id_for

    node_a, node_b = node_id_for(pub(AUTHOR)), node_id_for(pub(COSIGNER))
    text = checkpoint_text(node_a, 5, tree_root([bytes([i]) * 32 for i in range(1, 6)]))
    note = SignedNote(text, (sign_note(text, origin_of(node_a), pub(AUTHOR), AUTHOR.sign),)).encode()
    full = note + cosign(text, origin_of(node_b), pub(COSIGNER), 1_700_000_000, COSIGNER.sign).encode().encode()
    doc = (Path(__file__).resolve().parents[2] / "docs" / "protocol.md").read_text()
    assert "```\n" + full.decode() + "```" in doc
    assert key_id(origin_of(node_a), 0x01, pub(AUTHOR)).hex() == "709030e1"
    assert ref.verify_ed25519_note(full, origin_of(node_a), pub(AUTHOR)) == text
    assert ref.verify_cosignature(full, origin_of(node_b), pub(COSIGNER)) == 1_700_000_000
