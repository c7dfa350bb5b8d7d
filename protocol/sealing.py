"""Sealing a statement's body to one recipient with HPKE (RFC 9180, base mode).

The sealed plaintext is ``msgpack([salt, body])``. HPKE's ``info`` binds the ciphertext to the
statement id and the recipient's node id, so a sealed box cannot be moved to another statement or
handed to another node. Every seal uses a fresh HPKE ephemeral key (THREATS row 13). Suite 2
(ML-KEM-768+X25519 hybrid) is the default: candidate data must stay secret for decades.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from protocol.codec import Limits, decode, encode, expect_bytes, expect_list
from protocol.errors import DECRYPT_FAILED, MALFORMED, WRONG_RECIPIENT, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys, Identity
from protocol.statement import MAX_BODY_BYTES, SealedContent, Statement, expect_salt

SEAL_INFO_TAG = b"orgnode/seal/v1\x00"

SUITE_X25519 = 1
SUITE_MLKEM768_X25519 = 2
DEFAULT_SUITE = SUITE_MLKEM768_X25519

_SUITES = {
    SUITE_X25519: hpke.Suite(hpke.KEM.X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305),
    SUITE_MLKEM768_X25519: hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.CHACHA20_POLY1305),
}

_PLAINTEXT_LIMITS = Limits(
    max_bytes=MAX_BODY_BYTES + 128, max_bin_len=MAX_BODY_BYTES, max_array_len=2, max_map_len=0, max_depth=2
)


def seal_info(statement_id: bytes, recipient: bytes) -> bytes:
    return SEAL_INFO_TAG + statement_id + recipient


def seal_bytes(
    plaintext: bytes, recipient: bytes, keys: EncryptionPublicKeys, info: bytes, suite: int = DEFAULT_SUITE
) -> SealedContent:
    public_key: hpke.MLKEM768X25519PublicKey | X25519PublicKey
    if suite == SUITE_MLKEM768_X25519:
        public_key = keys.hybrid_public_key()
    elif suite == SUITE_X25519:
        public_key = keys.x25519_public_key()
    else:
        raise RemoteProtocolError(MALFORMED, f"unknown HPKE suite {suite}")
    try:
        ciphertext = _SUITES[suite].encrypt(plaintext, public_key, info=info)
    except ValueError as exc:  # e.g. a low-order X25519 point in the recipient's card (THREATS row 12)
        raise RemoteProtocolError(MALFORMED, "the recipient's encryption public key is invalid") from exc
    return SealedContent(recipient=recipient, suite=suite, ciphertext=ciphertext)


def open_bytes(sealed: SealedContent, identity: Identity, info: bytes) -> bytes:
    if sealed.recipient != identity.node_id:
        raise RemoteProtocolError(WRONG_RECIPIENT, "sealed for another node")
    suite = _SUITES.get(sealed.suite)
    if suite is None:
        raise RemoteProtocolError(MALFORMED, f"unknown HPKE suite {sealed.suite}")
    private_key: object = identity.hybrid_private_key() if sealed.suite == SUITE_MLKEM768_X25519 else identity.x25519_key
    try:
        return suite.decrypt(sealed.ciphertext, private_key, info=info)  # type: ignore[arg-type]
    except (InvalidTag, ValueError) as exc:
        raise RemoteProtocolError(DECRYPT_FAILED, "sealed content does not open with this node's key") from exc


def seal_statement_body(
    statement: Statement, recipient: bytes, keys: EncryptionPublicKeys, suite: int = DEFAULT_SUITE
) -> SealedContent:
    """Seal ``statement``'s (salt, body) for ``recipient``; the caller has checked it may read it."""
    if statement.body is None or statement.salt is None:
        raise RemoteProtocolError(MALFORMED, "cannot seal a statement whose body this node does not hold")
    return seal_bytes(body_plaintext(statement), recipient, keys, seal_info(statement.id, recipient), suite)


def body_plaintext(statement: Statement) -> bytes:
    """What is sealed of a private statement: ``msgpack([salt, body])`` (a box or a page item)."""
    if statement.body is None or statement.salt is None:
        raise RemoteProtocolError(MALFORMED, "cannot seal a statement whose body this node does not hold")
    return encode([statement.salt, statement.body])


def open_statement_body(statement: Statement, sealed: SealedContent, identity: Identity) -> Statement:
    """Open a sealed body addressed to us and check it against the signed header."""
    return with_opened_body(statement, open_bytes(sealed, identity, seal_info(statement.id, identity.node_id)))


def with_opened_body(statement: Statement, plaintext: bytes) -> Statement:
    """The statement with the (salt, body) of an opened plaintext, checked against its signed header."""
    parts = expect_list(decode(plaintext, _PLAINTEXT_LIMITS), "sealed plaintext", 2)
    salt = expect_salt(parts[0], "sealed salt")
    body = expect_bytes(parts[1], "sealed body", max_len=MAX_BODY_BYTES)
    return statement.with_body(salt, body)
