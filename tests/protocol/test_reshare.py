"""Re-sharing rules (protocol.md section 14): distance, hop limit, path and author checks."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from protocol.bodies import Note
from protocol.card_bundle import encode_bundle
from protocol.errors import RemoteProtocolError
from protocol.identity import Identity
from protocol.reshare import Reshare, make_reshare, verify_reshare
from protocol.statement import Statement, sign_statement
from tests.protocol.helpers import T0, chain, ident, rotate

A, B, C, D = ident(1), ident(2), ident(3), ident(4)


def note(text: str = "hello", hops: int = 3, signer: Identity = A, start: Statement | None = None) -> tuple[Statement, bytes]:
    first = start or chain(A, 1)[0]
    root = sign_statement(signer, kind="note", seq=first.seq + 1, prev=first.id, now=T0, body=Note(text, hops).to_value(),
                          private=True, salt=b"\x05" * 32)
    return root, encode_bundle([chain(A, 1)[0]] if start is None else [chain(A, 1)[0], first])


def wrap(reshare: Reshare, by: Identity) -> Statement:
    return sign_statement(by, kind="reshare", seq=2, prev=b"\x00" * 32, now=T0, body=reshare.to_value(), private=True,
                          salt=b"\x06" * 32)


def test_distance_and_hop_limit() -> None:
    root, bundle = note(hops=3)
    first = verify_reshare(wrap(make_reshare(root, bundle, (B.node_id,)), B))
    assert (first.distance, first.may_travel_further) == (2, True)
    second = verify_reshare(wrap(make_reshare(root, bundle, (B.node_id, C.node_id)), C))
    assert (second.distance, second.may_travel_further) == (3, False)
    with pytest.raises(RemoteProtocolError) as exc:
        verify_reshare(wrap(make_reshare(root, bundle, (B.node_id, C.node_id, D.node_id)), D))
    assert exc.value.code == "hop-limit"


def test_long_note_and_rotated_author_can_be_reshared() -> None:
    """Regression: BODY_LIMITS capped bins at 4096 bytes, so a reshare carrying a long note (or the
    card bundle of an author with several rotations) could not be decoded by anyone."""
    first = chain(A, 1)[0]
    rotation, rotated = rotate(A, first, b"\x09" * 32)
    root, bundle = note("x" * 4096, hops=2, signer=rotated, start=rotation)
    reshare = make_reshare(root, bundle, (B.node_id,))
    assert len(reshare.root) > 4096
    verified = verify_reshare(wrap(reshare, B))
    assert verified.root.id == root.id and verified.hops == 2


@pytest.mark.parametrize(
    ("path", "signer", "code"),
    [
        ((B.node_id,), C, "wrong-author"),  # the last node on the path must be the re-sharer
        ((A.node_id, B.node_id), B, "malformed"),  # the root's author on the path
    ],
)
def test_path_checks(path: tuple[bytes, ...], signer: Identity, code: str) -> None:
    root, bundle = note()
    with pytest.raises(RemoteProtocolError) as exc:
        verify_reshare(wrap(make_reshare(root, bundle, path), signer))
    assert exc.value.code == code


def test_card_must_be_the_root_authors() -> None:
    root, _ = note()
    other_card = encode_bundle([chain(C, 1)[0]])
    with pytest.raises(RemoteProtocolError) as exc:
        verify_reshare(wrap(make_reshare(root, other_card, (B.node_id,)), B))
    assert exc.value.code == "wrong-author"


def test_root_signed_by_a_key_not_in_the_card_is_refused() -> None:
    stranger = A.with_signing_key(ed25519.Ed25519PrivateKey.from_private_bytes(b"\x0a" * 32))
    root, bundle = note(signer=stranger)
    with pytest.raises(RemoteProtocolError) as exc:
        verify_reshare(wrap(make_reshare(root, bundle, (B.node_id,)), B))
    assert exc.value.code == "wrong-author"


def test_note_with_hops_one_is_not_reshareable_beyond_direct_peers() -> None:
    root, bundle = note(hops=1)
    with pytest.raises(RemoteProtocolError) as exc:
        verify_reshare(wrap(make_reshare(root, bundle, (B.node_id,)), B))
    assert exc.value.code == "hop-limit"
