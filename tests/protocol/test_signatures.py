"""THREATS row 12 for signatures: non-canonical S and small-order keys are rejected with bad-signature."""

from __future__ import annotations

import pytest

from protocol.errors import BAD_SIGNATURE, RemoteProtocolError
from protocol.identity import is_small_order_ed25519, verify_ed25519
from protocol.statement import Envelope, verify_signature
from tests.protocol.helpers import chain, ident

L = 2**252 + 27742317777372353535851937790883648493
P = 2**255 - 19

SMALL_ORDER_ED25519 = [
    bytes(32),  # (0, 0) encodes y = 0: order 4
    b"\x01" + bytes(31),  # identity
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05"),  # order 8
    bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"),  # order 8
    (P - 1).to_bytes(32, "little"),  # order 2
    P.to_bytes(32, "little"),  # non-canonical 0
    (P + 1).to_bytes(32, "little"),  # non-canonical identity
    bytes.fromhex("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85"),  # sign bit set
]


def test_non_canonical_s_rejected() -> None:
    a = ident(1)
    (statement,) = chain(a, 1)
    sig = statement.signature
    s = int.from_bytes(sig[32:], "little")
    for bad_s in (s + L, s + 2 * L):
        if bad_s >= 2**256:
            continue
        bad = sig[:32] + bad_s.to_bytes(32, "little")
        with pytest.raises(RemoteProtocolError) as info:
            verify_signature(statement.header_bytes, bad)
        assert info.value.code == BAD_SIGNATURE
        with pytest.raises(RemoteProtocolError):
            Envelope(statement.header_bytes, bad, None).open_plain()


@pytest.mark.parametrize("key", SMALL_ORDER_ED25519, ids=lambda k: k[:4].hex() + k[-1:].hex())
def test_small_order_keys_rejected(key: bytes) -> None:
    assert is_small_order_ed25519(key)
    # R = identity, S = 0 satisfies the cofactorless equation for every message under such keys.
    forged = b"\x01" + bytes(31) + bytes(32)
    with pytest.raises(RemoteProtocolError) as info:
        verify_ed25519(key, b"any message", forged)
    assert info.value.code == BAD_SIGNATURE


def test_ordinary_keys_are_not_small_order() -> None:
    for n in range(1, 6):
        assert not is_small_order_ed25519(ident(n).signing_public)
    assert not is_small_order_ed25519(b"\x02" + bytes(31))  # not on the curve: left to the verifier


def test_garbage_signatures_and_keys_are_typed() -> None:
    a = ident(1)
    (statement,) = chain(a, 1)
    for sig in (bytes(64), b"\xff" * 64, statement.signature[::-1]):
        with pytest.raises(RemoteProtocolError) as info:
            verify_signature(statement.header_bytes, sig)
        assert info.value.code == BAD_SIGNATURE
    for key in (b"\xff" * 32, b"\x02" + bytes(31)):
        with pytest.raises(RemoteProtocolError) as info:
            verify_ed25519(key, b"m", statement.signature)
        assert info.value.code == BAD_SIGNATURE
