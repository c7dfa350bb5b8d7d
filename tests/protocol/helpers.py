"""Shared fixtures-as-functions for protocol and storage tests: fixed identities and statement makers."""

from __future__ import annotations

import functools
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import strategies as st

from protocol.bodies import KeyRotation, Note, OrgCard
from protocol.identity import Identity
from protocol.statement import Statement, sign_statement

T0 = 1767225600000


@functools.cache
def ident(n: int) -> Identity:
    return Identity.from_seeds(bytes([n]) * 32, bytes([0x10 + n]) * 32, bytes([0x20 + n]) * 64)


def card(identity: Identity, name: str = "Youth Futures") -> dict[str, Any]:
    return OrgCard(name, "nonprofit", "https://youth.example", identity.encryption_public).to_value()


def chain(identity: Identity, count: int, *, start: Statement | None = None, private: bool = False) -> list[Statement]:
    """``count`` statements continuing ``start`` (or from seq 1): an org card first, then notes."""
    out: list[Statement] = []
    prev = start
    for _ in range(count):
        seq = prev.seq + 1 if prev else 1
        if seq == 1:
            s = sign_statement(identity, kind=OrgCard.KIND, seq=1, prev=None, now=T0, body=card(identity), private=False)
        else:
            s = sign_statement(
                identity, kind=Note.KIND, seq=seq, prev=prev.id if prev else None, now=T0 + seq,
                body=Note(f"note {seq}").to_value(), private=True, salt=bytes([seq % 256]) * 32,
            )
        out.append(s)
        prev = s
    return out


def rotation_body(identity: Identity, new_key: ed25519.Ed25519PrivateKey, *, bad: bool = False) -> dict[str, Any]:
    new_public = new_key.public_key().public_bytes_raw()
    message = KeyRotation.signed_message(identity.node_id, identity.signing_public, new_public)
    signature = new_key.sign(message if not bad else message + b"x")
    return KeyRotation(new_public, signature).to_value()


def rotate(identity: Identity, prev: Statement, new_seed: bytes, *, bad: bool = False) -> tuple[Statement, Identity]:
    new_key = ed25519.Ed25519PrivateKey.from_private_bytes(new_seed)
    s = sign_statement(
        identity, kind=KeyRotation.KIND, seq=prev.seq + 1, prev=prev.id, now=T0 + prev.seq + 1,
        body=rotation_body(identity, new_key, bad=bad), private=False,
    )
    return s, identity.with_signing_key(new_key)


def _numeric_label(label: str) -> bool:
    """A last label that URL parsers read as a number (``12``, ``0x``, ``0x1f``) makes the host an
    IPv4 address, which must then be canonical dotted form (section 12.1): not a DNS name to generate."""
    return label.isdigit() or label.startswith("0x")


# Peer base URLs (section 12.1): http(s), a DNS name (its last label not numeric), an optional port and path prefix.
base_urls = st.builds(
    lambda scheme, labels, port, segments: f"{scheme}://{'.'.join(labels)}{port}{''.join('/' + s for s in segments)}",
    st.sampled_from(["http", "https"]),
    st.lists(st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True),
             min_size=1, max_size=4).filter(lambda labels: not _numeric_label(labels[-1])),
    st.sampled_from(["", ":1", ":8470", ":65535"]),
    st.lists(st.from_regex(r"[A-Za-z0-9_~-]{1,12}", fullmatch=True), max_size=3),
)
