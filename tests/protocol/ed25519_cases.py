"""Edge-case Ed25519 signatures (after "Taming the many EdDSAs" and ZIP 215) and what orgnode's verify
path does with each (docs/protocol.md section 3, vectors in section 21).

Pure-Python curve arithmetic, for tests only: it builds signatures no honest signer makes (S not
reduced, a key with a torsion part, R and A of small order, a non-canonical R), each with the verdict
the spec states. ``tests/protocol/test_spec_exactness.py`` checks ``protocol.identity.verify_ed25519``
against them; the verdict is OpenSSL's cofactorless equation plus orgnode's small-order key rule.
"""

from __future__ import annotations

import hashlib
from typing import Any

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, -1, P) % P
Point = tuple[int, int, int, int]  # extended coordinates (X, Y, Z, T)
IDENTITY: Point = (0, 1, 1, 0)


def add(a: Point, b: Point) -> Point:
    x1, y1, z1, t1 = a
    x2, y2, z2, t2 = b
    aa, bb = (y1 - x1) * (y2 - x2) % P, (y1 + x1) * (y2 + x2) % P
    cc, dd = t1 * 2 * D * t2 % P, z1 * 2 * z2 % P
    e, f, g, h = bb - aa, dd - cc, dd + cc, bb + aa
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def mul(k: int, p: Point) -> Point:
    out = IDENTITY
    while k:
        if k & 1:
            out = add(out, p)
        p, k = add(p, p), k >> 1
    return out


def encode(p: Point) -> bytes:
    x, y, z, _ = p
    zi = pow(z, -1, P)
    x, y = x * zi % P, y * zi % P
    return (y | ((x & 1) << 255)).to_bytes(32, "little")


def decode(data: bytes) -> Point:
    y = int.from_bytes(data, "little") & ((1 << 255) - 1)
    sign = data[31] >> 7
    y %= P
    x2 = (y * y - 1) * pow(D * y * y + 1, -1, P) % P
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P:
        x = x * pow(2, (P - 1) // 4, P) % P
    assert (x * x - x2) % P == 0, "not on the curve"
    if x & 1 != sign:
        x = -x % P
    return (x, y, 1, x * y % P)


BASE = decode((4 * pow(5, -1, P) % P).to_bytes(32, "little"))
TORSION8 = decode(bytes.fromhex("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a"))
TAG = b"orgnode/statement/v1\x00"


def _scalar(seed: bytes) -> int:
    return int.from_bytes(hashlib.sha512(seed).digest()[:32], "little") % L


def _k(r: bytes, a: bytes, message: bytes) -> int:
    return int.from_bytes(hashlib.sha512(r + a + message).digest(), "little") % L


def _sign(secret: int, public: bytes, nonce: int, message: bytes, r_bytes: bytes | None = None) -> bytes:
    r_enc = r_bytes if r_bytes is not None else encode(mul(nonce, BASE))
    s = (nonce + _k(r_enc, public, message) * secret) % L
    return r_enc + s.to_bytes(32, "little")


def cases() -> list[dict[str, Any]]:
    """Each case: public key, message, signature, ``accepted`` by orgnode, and why."""
    a = _scalar(b"orgnode ed25519 edge cases")
    public = encode(mul(a, BASE))
    out: list[dict[str, Any]] = []

    def case(name: str, pub: bytes, msg: bytes, sig: bytes, accepted: bool) -> None:
        out.append({"case": name, "public_key": pub.hex(), "message": msg.hex(), "signature": sig.hex(), "accepted": accepted})

    msg = TAG + b"edge case 0"
    good = _sign(a, public, 12345, msg)
    case("valid signature (control)", public, msg, good, True)
    s = int.from_bytes(good[32:], "little")
    case("S not reduced: S + L", public, msg, good[:32] + (s + L).to_bytes(32, "little"), False)
    # R of small order: the identity; S = k·a, so [S]B - [k]A is the identity. Only the key's owner can make one.
    ident = encode(IDENTITY)
    k = _k(ident, public, msg)
    case("R of small order (identity), cofactorless equation holds", public, msg, ident + (k * a % L).to_bytes(32, "little"), True)
    # The same with R spelt non-canonically (y = p + 1): the equation is checked on R's bytes, so it fails.
    noncanonical = (P + 1).to_bytes(32, "little")
    k = _k(noncanonical, public, msg)
    case("R non-canonical (identity as y = p + 1)", public, msg, noncanonical + (k * a % L).to_bytes(32, "little"), False)
    # A key with a torsion part (A = aB + T, T of order 8): a signature that satisfies the cofactored
    # equation [8][S]B = [8]R + [8][k]A but not the cofactorless one (k is not a multiple of 8).
    mixed = encode(add(mul(a, BASE), TORSION8))
    found: dict[bool, bool] = {}
    for n in range(100):
        m = TAG + b"mixed order %d" % n
        r = encode(mul(777 + n, BASE))
        holds = _k(r, mixed, m) % 8 == 0  # then [k]T vanishes and the cofactorless equation holds too
        if holds not in found:
            found[holds] = True
            name = "A of mixed order, cofactorless equation holds" if holds else "A of mixed order, cofactored equation only"
            case(name, mixed, m, _sign(a, mixed, 777 + n, m), holds)
        if len(found) == 2:
            break
    # A of small order: with R = identity and S = 0 the equation holds for every message; refused by orgnode.
    for name, enc in (("A of small order (identity)", encode(IDENTITY)), ("A of small order 8", encode(TORSION8)),
                      ("A of small order, non-canonical (identity as y = p + 1)", noncanonical)):
        case(name, enc, msg, ident + bytes(32), False)
    return out
