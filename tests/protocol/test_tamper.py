"""THREATS row 5: any single changed byte of a signed statement's envelope is detected."""

from __future__ import annotations

import pytest

from protocol.errors import ALL_CODES, RemoteProtocolError
from protocol.statement import Envelope
from tests.protocol.helpers import chain, ident


@pytest.mark.parametrize("flip", [0x01, 0x80, 0xFF])
def test_every_byte_of_a_signed_envelope(flip: int) -> None:
    a = ident(1)
    _, statement = chain(a, 2)
    original = Envelope.of(statement).encode()
    assert Envelope.decode(original).open_plain() == statement
    accepted = 0
    for i in range(len(original)):
        data = bytearray(original)
        data[i] ^= flip
        try:
            opened = Envelope.decode(bytes(data)).open_plain()
        except RemoteProtocolError as exc:
            assert exc.code in ALL_CODES
            continue
        # Anything accepted must be exactly the signed statement (e.g. a signature byte the verifier ignores
        # would still have to give the same id and body), never the same statement with different content.
        accepted += 1
        assert opened.id == statement.id
        assert (opened.salt, opened.body) == (statement.salt, statement.body)
    assert accepted == 0


def test_public_statement_body_flips() -> None:
    a = ident(1)
    (statement,) = chain(a, 1)
    original = Envelope.of(statement).encode()
    start = len(original) - len(statement.body or b"")
    for i in range(start, len(original), 7):
        data = bytearray(original)
        data[i] ^= 0x01
        with pytest.raises(RemoteProtocolError) as info:
            Envelope.decode(bytes(data)).open_plain()
        assert info.value.code == "bad-body"
