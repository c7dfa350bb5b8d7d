"""Who a node is: its signing key, encryption keys, node id and human fingerprint.

The node id is derived from the node's *genesis* Ed25519 public key, so it stays the same when the
signing key is rotated (protocol.md "Identity"). This module draws no randomness: fresh keys are
made from random bytes the caller hands in (``Identity.from_random(random_bytes)``), so a test can
give a seeded source; ``tests/test_layers.py`` refuses any ``.generate()`` of a key in ``protocol/``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PublicKey

from protocol.errors import BAD_SIGNATURE, MALFORMED, LocalProtocolError, RemoteProtocolError

NODE_ID_TAG = b"orgnode/node-id/v1\x00"
FINGERPRINT_TAG = b"orgnode/fingerprint/v1\x00"

ED25519_PUBLIC_LEN = 32
X25519_PUBLIC_LEN = 32
MLKEM768_PUBLIC_LEN = 1184
NODE_ID_LEN = 32
ED25519_SEED_LEN = 32
X25519_PRIVATE_LEN = 32
MLKEM768_SEED_LEN = 64


def node_id_for(genesis_public_key: bytes) -> bytes:
    """node id = SHA-256(tag || genesis Ed25519 public key), 32 bytes."""
    if len(genesis_public_key) != ED25519_PUBLIC_LEN:
        raise RemoteProtocolError(MALFORMED, "an Ed25519 public key is 32 bytes")
    return hashlib.sha256(NODE_ID_TAG + genesis_public_key).digest()


def fingerprint_for(node_id: bytes) -> str:
    """A short string two admins read to each other: 20 base32 characters in groups of four.

    100 bits of SHA-256(tag || node id): enough that nobody can make a key whose fingerprint
    matches a given node's.
    """
    digest = hashlib.sha256(FINGERPRINT_TAG + node_id).digest()
    text = base64.b32encode(digest).decode("ascii")[:20]
    return "-".join(text[i : i + 4] for i in range(0, 20, 4))


def node_id_hex(node_id: bytes) -> str:
    return node_id.hex()


_P = 2**255 - 19
_D = -121665 * pow(121666, -1, _P) % _P


@functools.lru_cache(maxsize=4096)
def is_small_order_ed25519(public_key: bytes) -> bool:
    """True if ``public_key`` decodes to a point of order 1, 2, 4 or 8 (any encoding, canonical or not).

    OpenSSL accepts such keys, and for them a signature like ``R = identity, S = 0`` verifies for
    every message; orgnode refuses them (THREATS row 12). Off-curve encodings return False: the
    verifier rejects those itself.
    """
    if len(public_key) != ED25519_PUBLIC_LEN:
        return False
    y = (int.from_bytes(public_key, "little") & ((1 << 255) - 1)) % _P
    sign = public_key[31] >> 7
    x2 = (y * y - 1) * pow(_D * y * y + 1, -1, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * pow(2, (_P - 1) // 4, _P) % _P
    if (x * x - x2) % _P:
        return False
    if x & 1 != sign:
        x = -x % _P
    for _ in range(3):  # multiply by the cofactor 8 with the complete twisted Edwards doubling (a = -1)
        t = _D * x * x * y * y % _P
        x, y = 2 * x * y * pow(1 + t, -1, _P) % _P, (y * y + x * x) * pow(1 - t, -1, _P) % _P
    return x == 0 and y == 1


@functools.lru_cache(maxsize=1024)
def _ed25519_public_key(public_key: bytes) -> ed25519.Ed25519PublicKey:
    """The parsed key of an author (a partner signs every statement of its log with one key): parsed
    once per key, not per statement (issue 11 item 4: catch-up verifies thousands a second). Bounded;
    a malformed key raises ``ValueError`` each time (not cached)."""
    return ed25519.Ed25519PublicKey.from_public_bytes(public_key)


def verify_ed25519(public_key: bytes, message: bytes, signature: bytes) -> None:
    """Raise ``bad-signature`` unless ``signature`` is a valid Ed25519 signature (THREATS row 12).

    Non-canonical ``S`` is refused by OpenSSL; small-order public keys are refused here.
    """
    if is_small_order_ed25519(bytes(public_key)):
        raise RemoteProtocolError(BAD_SIGNATURE, "small-order Ed25519 public key")
    try:
        _ed25519_public_key(bytes(public_key)).verify(signature, message)
    except (InvalidSignature, ValueError) as exc:
        raise RemoteProtocolError(BAD_SIGNATURE, "signature does not verify") from exc


@functools.lru_cache(maxsize=256)
def _hybrid_public_key(mlkem768: bytes, x25519_public: bytes) -> hpke.MLKEM768X25519PublicKey:
    try:
        return hpke.MLKEM768X25519PublicKey(
            mlkem.MLKEM768PublicKey.from_public_bytes(mlkem768),
            x25519.X25519PublicKey.from_public_bytes(x25519_public),
        )
    except ValueError as exc:  # not cached: an invalid key is refused every time
        raise RemoteProtocolError(MALFORMED, "invalid ML-KEM-768 or X25519 public key") from exc


@dataclass(frozen=True, slots=True)
class EncryptionPublicKeys:
    """The HPKE public keys a node publishes in its org card."""

    x25519: bytes
    mlkem768: bytes

    def __post_init__(self) -> None:
        if len(self.x25519) != X25519_PUBLIC_LEN:
            raise RemoteProtocolError(MALFORMED, "x25519 public key must be 32 bytes")
        if len(self.mlkem768) != MLKEM768_PUBLIC_LEN:
            raise RemoteProtocolError(MALFORMED, "ML-KEM-768 public key must be 1184 bytes")

    def hybrid_public_key(self) -> hpke.MLKEM768X25519PublicKey:
        """The parsed hybrid key, cached per key bytes: a catch-up seals thousands of bodies to one
        peer, and parsing (and checking) its 1,184-byte ML-KEM key each time cost a share of every seal."""
        return _hybrid_public_key(self.mlkem768, self.x25519)

    def x25519_public_key(self) -> X25519PublicKey:
        try:
            return x25519.X25519PublicKey.from_public_bytes(self.x25519)
        except ValueError as exc:
            raise RemoteProtocolError(MALFORMED, "invalid X25519 public key") from exc


@dataclass(frozen=True)
class Identity:
    """A node's private keys. ``genesis_public`` fixes the node id across rotations."""

    signing_key: ed25519.Ed25519PrivateKey
    x25519_key: x25519.X25519PrivateKey
    mlkem_key: mlkem.MLKEM768PrivateKey
    genesis_public: bytes

    @classmethod
    def from_random(cls, random_bytes: Callable[[int], bytes]) -> Identity:
        """Fresh keys from the caller's random source (``os.urandom`` in a node; randomness is an effect
        the node shell owns): 32 bytes of Ed25519 seed, 32 of X25519 private key, 64 of ML-KEM seed."""
        seeds = [random_bytes(n) for n in (ED25519_SEED_LEN, X25519_PRIVATE_LEN, MLKEM768_SEED_LEN)]
        if [len(s) for s in seeds] != [ED25519_SEED_LEN, X25519_PRIVATE_LEN, MLKEM768_SEED_LEN]:
            raise LocalProtocolError(MALFORMED, "the random source returned the wrong number of bytes")
        return cls.from_seeds(*seeds)

    @classmethod
    def from_seeds(cls, ed25519_seed: bytes, x25519_seed: bytes, mlkem_seed: bytes) -> Identity:
        """An identity from raw private bytes: test vectors, and ``from_random``."""
        signing = ed25519.Ed25519PrivateKey.from_private_bytes(ed25519_seed)
        return cls(
            signing_key=signing,
            x25519_key=x25519.X25519PrivateKey.from_private_bytes(x25519_seed),
            mlkem_key=mlkem.MLKEM768PrivateKey.from_seed_bytes(mlkem_seed),
            genesis_public=signing.public_key().public_bytes_raw(),
        )

    @functools.cached_property
    def node_id(self) -> bytes:
        return node_id_for(self.genesis_public)  # a hash read at every own-or-not check: computed once

    @property
    def fingerprint(self) -> str:
        return fingerprint_for(self.node_id)

    @property
    def signing_public(self) -> bytes:
        return self.signing_key.public_key().public_bytes_raw()

    @property
    def encryption_public(self) -> EncryptionPublicKeys:
        return EncryptionPublicKeys(
            x25519=self.x25519_key.public_key().public_bytes_raw(),
            mlkem768=self.mlkem_key.public_key().public_bytes_raw(),
        )

    def sign(self, message: bytes) -> bytes:
        return self.signing_key.sign(message)

    def with_signing_key(self, new_key: ed25519.Ed25519PrivateKey) -> Identity:
        return Identity(new_key, self.x25519_key, self.mlkem_key, self.genesis_public)

    def hybrid_private_key(self) -> hpke.MLKEM768X25519PrivateKey:
        return hpke.MLKEM768X25519PrivateKey(self.mlkem_key, self.x25519_key)
