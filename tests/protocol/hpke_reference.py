"""Suite 2 (X-Wing in HPKE) from its parts, for tests: reproduces the section 21 decryption vector
with ML-KEM-768, X25519, SHA3-256, HKDF-SHA256 and ChaCha20-Poly1305 alone, so the text of
docs/protocol.md section 6 is shown sufficient to interoperate (it is not the code under test)."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

XWING_LABEL = b"\\.//^\\"  # 5c 2e 2f 2f 5e 5c
SUITE_ID = b"HPKE" + (0x647A).to_bytes(2, "big") + (0x0001).to_bytes(2, "big") + (0x0003).to_bytes(2, "big")


def xwing_decapsulate(enc: bytes, mlkem_key: mlkem.MLKEM768PrivateKey, x25519_key: x25519.X25519PrivateKey) -> bytes:
    """X-Wing: ss = SHA3-256(ss_M || ss_X || ct_X || pk_X || label); enc = ct_M (1088) || ct_X (32)."""
    ct_m, ct_x = enc[:1088], enc[1088:]
    ss_m = mlkem_key.decapsulate(ct_m)
    ss_x = x25519_key.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
    pk_x = x25519_key.public_key().public_bytes_raw()
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + XWING_LABEL).digest()


def _extract(salt: bytes, label: bytes, ikm: bytes) -> bytes:
    return hmac.new(salt, b"HPKE-v1" + SUITE_ID + label + ikm, hashlib.sha256).digest()


def _expand(prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    labeled = length.to_bytes(2, "big") + b"HPKE-v1" + SUITE_ID + label + info
    out, block, i = b"", b"", 1
    while len(out) < length:
        block = hmac.new(prk, block + labeled + bytes([i]), hashlib.sha256).digest()
        out, i = out + block, i + 1
    return out[:length]


def open_suite2(ciphertext: bytes, info: bytes, mlkem_key: mlkem.MLKEM768PrivateKey, x25519_key: x25519.X25519PrivateKey) -> bytes:
    """RFC 9180 base mode, single shot: the KEM's 32-byte shared secret enters KeySchedule directly."""
    enc, ct = ciphertext[:1120], ciphertext[1120:]
    shared = xwing_decapsulate(enc, mlkem_key, x25519_key)
    context = b"\x00" + _extract(b"", b"psk_id_hash", b"") + _extract(b"", b"info_hash", info)
    secret = _extract(shared, b"secret", b"")
    key = _expand(secret, b"key", context, 32)
    nonce = _expand(secret, b"base_nonce", context, 12)
    return ChaCha20Poly1305(key).decrypt(nonce, ct, b"")
