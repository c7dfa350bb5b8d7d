"""An independent C2SP signed-note / tlog-checkpoint / tlog-cosignature verifier, written from the C2SP
texts (c2sp.org/signed-note, /tlog-checkpoint, /tlog-cosignature) and deliberately importing nothing of
orgnode: it checks our notes the way a third-party witness or client would."""

from __future__ import annotations

import base64
import hashlib
import struct

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


class NoteError(ValueError):
    pass


def kid(name: str, sig_type: int, key: bytes) -> bytes:
    return hashlib.sha256(name.encode("utf-8") + b"\x0a" + bytes([sig_type]) + key).digest()[:4]


def split_note(note: bytes) -> tuple[bytes, list[tuple[str, bytes]]]:
    """(note text, [(key name, key ID || signature)]) per signed-note 'Format'."""
    s = note.decode("utf-8")
    if any(c < " " and c != "\n" for c in s) or not s.endswith("\n"):
        raise NoteError("control character or no final newline")
    i = s.rindex("\n\n")
    text, sigs = s[: i + 1], s[i + 2 :]
    out = []
    for line in sigs.splitlines():
        dash, name, b64 = line.split(" ")
        if dash != "\u2014" or not name or "+" in name:
            raise NoteError("bad signature line")
        raw = base64.b64decode(b64, validate=True)
        out.append((name, raw))
    if not out:
        raise NoteError("no signatures")
    return text.encode("utf-8"), out


def checkpoint(text: bytes) -> tuple[str, int, bytes]:
    lines = text.decode().split("\n")
    assert lines[-1] == ""
    origin, size, root = lines[0], lines[1], lines[2]
    if not origin or not size.isdigit() or (size != "0" and size[0] == "0"):
        raise NoteError("bad checkpoint")
    r = base64.b64decode(root, validate=True)
    if len(r) != 32:
        raise NoteError("bad root")
    return origin, int(size), r


def verify_ed25519_note(note: bytes, name: str, key: bytes) -> bytes:
    """Verify the type 0x01 signature of (name, key); return the note text."""
    text, sigs = split_note(note)
    mine = [raw for n, raw in sigs if n == name and raw[:4] == kid(name, 0x01, key)]
    if not mine:
        raise NoteError("no signature of the key")
    for raw in mine:
        Ed25519PublicKey.from_public_bytes(key).verify(raw[4:], text)
    return text


def verify_cosignature(note: bytes, name: str, key: bytes) -> int:
    """Verify the cosignature/v1 (type 0x04) of (name, key); return its timestamp."""
    text, sigs = split_note(note)
    mine = [raw for n, raw in sigs if n == name and raw[:4] == kid(name, 0x04, key)]
    if not mine:
        raise NoteError("no cosignature of the key")
    raw = mine[0][4:]
    if len(raw) != 72:
        raise NoteError("bad cosignature length")
    (ts,) = struct.unpack(">Q", raw[:8])
    message = b"cosignature/v1\n" + b"time " + str(ts).encode() + b"\n" + text
    Ed25519PublicKey.from_public_bytes(key).verify(raw[8:], message)
    return ts
