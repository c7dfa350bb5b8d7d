"""Rejected-input vectors (issue 13 item 4): what an implementation MUST refuse, with the error code.

Part of ``make_vectors`` (key ``rejected`` of docs/test-vectors.json, section 21 "Rejected inputs");
``tests/protocol/test_spec_exactness.py`` feeds each to the reference parser. The texts are made from
the valid request-authentication and invite vectors by changing one thing each.
"""

from __future__ import annotations

from typing import Any

from protocol.codec import encode
from tests.protocol.ed25519_cases import cases as ed25519_cases


def _auth_variants(valid: str) -> list[tuple[str, str]]:
    params = dict(p.split("=", 1) for p in valid.split(" ", 1)[1].split(","))

    def with_(**changes: str) -> str:
        return "OrgNode " + ",".join(f"{k}={changes.get(k, v)}" for k, v in params.items())

    ts, sig, origin = params["ts"], params["sig"], params["origin"]
    return [
        ("ts with Arabic-Indic digits", with_(ts="".join(chr(0x660 + int(c)) for c in ts))),
        ("ts with an underscore", with_(ts=ts[:4] + "_" + ts[4:])),
        ("ts with a plus sign", with_(ts="+" + ts)),
        ("ts with a leading zero", with_(ts="0" + ts)),
        ("ts with inner space", with_(ts=ts[:4] + " " + ts[4:])),
        ("ts negative", with_(ts="-" + ts)),
        ("ts above 2^63-1", with_(ts=str(2**63))),
        ("origin in upper case", with_(origin=origin.upper())),
        ("origin with a space between bytes", with_(origin=origin[:2] + " " + origin[2:])),
        ("sig in the standard alphabet (+ /)", with_(sig=sig.replace("-", "+").replace("_", "/") if ("-" in sig or "_" in sig) else "+" + sig[1:])),
        ("sig with a character outside the alphabet", with_(sig=sig[:10] + "." + sig[11:])),
        ("sig with wrong padding", with_(sig=sig + "=")),
        ("sig with non-zero trailing bits", with_(sig=sig[:-1] + ("B" if sig[-1] == "A" else chr(ord(sig[-1]) | 1) if sig[-1] not in "AQgw" else "B"))),
        ("sig one byte short", with_(sig=sig[:-3])),
        ("a non-breaking space around a parameter", valid.replace(",ts=", ",\u00a0ts=")),
        ("v with a leading zero", with_(v="01")),
    ]


def _invite_variants(valid: str) -> list[tuple[str, str]]:
    prefix, body = valid.split(":", 1)
    return [
        ("standard alphabet (+ /) for - _", f"{prefix}:{body.replace('-', '+').replace('_', '/')}" if ("-" in body or "_" in body) else f"{prefix}:+{body[1:]}"),
        ("a character outside the alphabet", f"{prefix}:{body[:20]}.{body[21:]}"),
        ("a line break inside", f"{prefix}:{body[:30]}\n{body[30:]}"),
        ("wrong padding", f"{prefix}:{body}==="),
        ("a non-breaking space around it", f"\u00a0{valid}"),
        ("upper-case prefix", f"ORGNODE1:{body}"),
    ]


def msgpack_rejected() -> list[dict[str, Any]]:
    dup = b"\x82\xa4text\xa1a\xa4text\xa1b"  # {"text": "a", "text": "b"}
    return [
        {"why": "a map repeats a key (body of a note)", "bytes": dup.hex(), "code": "malformed"},
        {"why": "plain content with a 5-byte salt", "bytes": encode([0, b"\x00" * 5, b""]).hex(), "code": "malformed"},
        {"why": "plain content with a 33-byte salt", "bytes": encode([0, b"\x00" * 33, b""]).hex(), "code": "malformed"},
    ]


def rejected_vectors(request_authorization: str, invite_token: str) -> dict[str, Any]:
    return {
        "ed25519": ed25519_cases(),
        "authorization": [{"why": w, "value": v, "code": "unknown-version" if w.startswith("v ") else "malformed"}
                          for w, v in _auth_variants(request_authorization)],
        "invite_token": [{"why": w, "token": t, "code": "bad-invite"} for w, t in _invite_variants(invite_token)],
        "msgpack": msgpack_rejected(),
    }


def markdown(data: dict[str, Any]) -> list[str]:
    lines = ["### Rejected inputs", "",
             "Section 3 (Ed25519: `accepted` is the verdict of orgnode's verify path), section 2 and 5 (msgpack, "
             "envelope content) and sections 12.2 and 12.5 (the `Authorization` header and invite-token texts in "
             "`docs/test-vectors.json`, key `rejected`, each the valid vector above with one change). Every "
             "rejected input MUST be refused with the code given.", ""]
    for c in data["ed25519"]:
        lines.append(f"- Ed25519, {c['case']}: accepted `{str(c['accepted']).lower()}`; public key `{c['public_key']}`, "
                     f"message `{c['message']}`, signature `{c['signature']}`")
    for m in data["msgpack"]:
        lines.append(f"- {m['why']}: `{m['bytes']}` → `{m['code']}`")
    lines.append("- `Authorization` header (`malformed`, `v` `unknown-version`): " + "; ".join(a["why"] for a in data["authorization"]))
    lines.append("- invite token (`bad-invite`): " + "; ".join(i["why"] for i in data["invite_token"]))
    lines.append("")
    return lines
