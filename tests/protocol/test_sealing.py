"""HPKE sealing: binding to statement and recipient, fresh ciphertexts (row 13), bad keys (row 12)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import DECRYPT_FAILED, MALFORMED, WRONG_RECIPIENT, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys
from protocol.sealing import (
    SUITE_MLKEM768_X25519,
    SUITE_X25519,
    open_bytes,
    open_statement_body,
    seal_bytes,
    seal_info,
    seal_statement_body,
)
from protocol.statement import SealedContent
from tests.protocol.helpers import chain, ident

SUITES = [SUITE_X25519, SUITE_MLKEM768_X25519]

# Low-order X25519 points (Wycheproof / RFC 7748 section 6.1 "all-zero" check).
LOW_ORDER_X25519 = [
    bytes(32),
    b"\x01" + bytes(31),
    bytes.fromhex("e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"),
    bytes.fromhex("5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"),
    bytes.fromhex("ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"),
]


@pytest.mark.parametrize("suite", SUITES)
def test_seal_open(suite: int) -> None:
    a, b = ident(1), ident(2)
    _, note = chain(a, 2)
    sealed = seal_statement_body(note, b.node_id, b.encryption_public, suite)
    opened = open_statement_body(note.without_body(), sealed, b)
    assert (opened.salt, opened.body) == (note.salt, note.body)


@pytest.mark.parametrize("suite", SUITES)
def test_moved_to_another_statement_fails(suite: int) -> None:
    a, b = ident(1), ident(2)
    _, n2, n3 = chain(a, 3)
    sealed = seal_statement_body(n2, b.node_id, b.encryption_public, suite)
    with pytest.raises(RemoteProtocolError) as info:
        open_statement_body(n3.without_body(), sealed, b)
    assert info.value.code == DECRYPT_FAILED


@pytest.mark.parametrize("suite", SUITES)
def test_handed_to_another_node_fails(suite: int) -> None:
    a, b, c = ident(1), ident(2), ident(3)
    _, note = chain(a, 2)
    sealed = seal_statement_body(note, b.node_id, b.encryption_public, suite)
    with pytest.raises(RemoteProtocolError) as info:
        open_statement_body(note.without_body(), sealed, c)
    assert info.value.code == WRONG_RECIPIENT
    # Relabelled for C: C's key cannot open B's box.
    relabelled = SealedContent(c.node_id, sealed.suite, sealed.ciphertext)
    with pytest.raises(RemoteProtocolError) as info:
        open_statement_body(note.without_body(), relabelled, c)
    assert info.value.code == DECRYPT_FAILED


@pytest.mark.parametrize("suite", SUITES)
def test_modified_ciphertext_and_unknown_suite(suite: int) -> None:
    a, b = ident(1), ident(2)
    _, note = chain(a, 2)
    sealed = seal_statement_body(note, b.node_id, b.encryption_public, suite)
    for i in (0, len(sealed.ciphertext) // 2, len(sealed.ciphertext) - 1):
        ct = bytearray(sealed.ciphertext)
        ct[i] ^= 1
        with pytest.raises(RemoteProtocolError) as info:
            open_statement_body(note.without_body(), SealedContent(b.node_id, suite, bytes(ct)), b)
        assert info.value.code == DECRYPT_FAILED
    for ct in (b"", sealed.ciphertext[:10]):
        with pytest.raises(RemoteProtocolError) as info:
            open_statement_body(note.without_body(), SealedContent(b.node_id, suite, ct), b)
        assert info.value.code == DECRYPT_FAILED
    with pytest.raises(RemoteProtocolError) as info:
        open_statement_body(note.without_body(), SealedContent(b.node_id, 9, sealed.ciphertext), b)
    assert info.value.code == MALFORMED


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("point", LOW_ORDER_X25519, ids=lambda p: p[:4].hex())
def test_low_order_x25519_recipient_key_rejected(suite: int, point: bytes) -> None:
    keys = EncryptionPublicKeys(point, ident(2).encryption_public.mlkem768)
    with pytest.raises(RemoteProtocolError) as info:
        seal_bytes(b"plaintext", ident(2).node_id, keys, b"info", suite)
    assert info.value.code == MALFORMED


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize("point", LOW_ORDER_X25519, ids=lambda p: p[:4].hex())
def test_low_order_encapsulation_rejected(suite: int, point: bytes) -> None:
    """A sealed box whose X25519 ephemeral key is a low-order point fails to open with a typed error."""
    b = ident(2)
    info = seal_info(bytes(32), b.node_id)
    good = seal_bytes(b"x", b.node_id, b.encryption_public, info, suite).ciphertext
    ct = point + good[32:] if suite == SUITE_X25519 else good[:1088] + point + good[1120:]
    with pytest.raises(RemoteProtocolError) as exc:
        open_bytes(SealedContent(b.node_id, suite, ct), b, info)
    assert exc.value.code == DECRYPT_FAILED


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=256), st.sampled_from(SUITES))
def test_seals_of_one_plaintext_are_distinct(plaintext: bytes, suite: int) -> None:
    """THREATS row 13: a fresh ephemeral key per seal, so no two ciphertexts (or encapsulations) repeat."""
    b = ident(2)
    info = seal_info(bytes(32), b.node_id)
    cts = [seal_bytes(plaintext, b.node_id, b.encryption_public, info, suite).ciphertext for _ in range(8)]
    enc_len = 32 if suite == SUITE_X25519 else 1120
    assert len(set(cts)) == len(cts)
    assert len({ct[:enc_len] for ct in cts}) == len(cts)
    assert len({ct[enc_len:] for ct in cts}) == len(cts)
    assert all(open_bytes(SealedContent(b.node_id, suite, ct), b, info) == plaintext for ct in cts)
