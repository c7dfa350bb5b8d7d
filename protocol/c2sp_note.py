"""Checkpoints as C2SP signed notes, and their cosignatures (docs/protocol.md 18.5 to 18.8).

Why: an orgnode ``checkpoint`` statement is msgpack that only orgnode reads. The same tree head
written as a ``c2sp.org/tlog-checkpoint`` note (origin, decimal size, base64 root) and signed per
``c2sp.org/signed-note`` (Ed25519, key ID ``SHA-256(name || 0x0A || 0x01 || key)[:4]``) can be
checked, and cosigned per ``c2sp.org/tlog-cosignature`` (``cosignature/v1``, type ``0x04``), by any
existing transparency-log witness. Partners cosign each other's checkpoints in that format.

Sans-I/O: keys are passed in as a ``sign`` callable and a public key, timestamps as integers.
Every parse or verification failure is a ``RemoteProtocolError``: ``malformed`` (not a note, not a
checkpoint, over the limits), ``unknown-key`` (no signature line of the expected key),
``bad-signature`` (a line of the expected key that does not verify).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable
from dataclasses import dataclass

from protocol.errors import BAD_SIGNATURE, MALFORMED, UNKNOWN_KEY, RemoteProtocolError
from protocol.identity import verify_ed25519

ORIGIN_PREFIX = "orgnode/"  # + the node id in 64 lowercase hex digits: the origin and key name of a node
NOTE_TYPE_ED25519 = 0x01  # c2sp.org/signed-note signature type of the author's note signature
COSIGNATURE_TYPE_ED25519 = 0x04  # c2sp.org/tlog-cosignature, cosignature/v1
COSIGNATURE_HEADER = b"cosignature/v1\n"
EM_DASH = "\u2014"
MAX_NOTE_BYTES = 16384  # a whole note, signature lines included
MAX_SIGNATURES = 32  # signed-note: verifiers MUST accept at least 16
MAX_TREE_SIZE = (1 << 64) - 1
MAX_TIMESTAMP = (1 << 63) - 1
ROOT_LEN = 32


def _malformed(detail: str) -> RemoteProtocolError:
    return RemoteProtocolError(MALFORMED, detail)


def origin_of(node_id: bytes) -> str:
    """The origin line (and key name) of a node's checkpoints: ``orgnode/<node id hex>``."""
    if len(node_id) != 32:
        raise ValueError("a node id is 32 bytes")
    return ORIGIN_PREFIX + node_id.hex()


def key_id(name: str, signature_type: int, public_key: bytes) -> bytes:
    """``SHA-256(name || 0x0A || type || public key)[:4]`` (signed-note; tlog-cosignature for 0x04)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([signature_type]) + public_key).digest()[:4]


def _b64decode(text: str, what: str) -> bytes:
    """Standard base64 with padding (RFC 4648 section 4), canonical: re-encoding gives the same text."""
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise _malformed(f"{what} is not base64") from exc
    if base64.b64encode(data).decode() != text:
        raise _malformed(f"{what} is not canonical base64")
    return data


def _valid_name(name: str) -> bool:
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


@dataclass(frozen=True, slots=True)
class CheckpointText:
    """The note text of a c2sp.org/tlog-checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def encode(self) -> bytes:
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode(), *self.extensions]
        return "".join(line + "\n" for line in lines).encode()

    @classmethod
    def decode(cls, text: bytes) -> CheckpointText:
        """Parse a note text (its final newline included). Raises ``malformed``."""
        try:
            decoded = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed("checkpoint text is not UTF-8") from exc
        if not decoded.endswith("\n"):
            raise _malformed("checkpoint text does not end in a newline")
        lines = decoded[:-1].split("\n")
        if len(lines) < 3 or any(not line for line in lines):
            raise _malformed("a checkpoint has at least three non-empty lines")
        origin, size_text, root_text, *extensions = lines
        if not size_text.isascii() or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
            raise _malformed("tree size is not a decimal number without leading zeroes")
        size = int(size_text)
        if size > MAX_TREE_SIZE:
            raise _malformed("tree size is above 2^64 - 1")
        root = _b64decode(root_text, "root hash")
        if len(root) != ROOT_LEN:
            raise _malformed("root hash is not 32 bytes")
        return cls(origin, size, root, tuple(extensions))


@dataclass(frozen=True, slots=True)
class SignatureLine:
    """``— <key name> base64(key ID || signature)``."""

    name: str
    key_id: bytes
    signature: bytes

    def encode(self) -> str:
        return f"{EM_DASH} {self.name} {base64.b64encode(self.key_id + self.signature).decode()}\n"

    @classmethod
    def decode(cls, line: str) -> SignatureLine:
        """One signature line without its newline. Raises ``malformed``."""
        if not line.startswith(EM_DASH + " "):
            raise _malformed("a signature line starts with an em dash and a space")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not _valid_name(parts[0]):
            raise _malformed("a signature line is a key name without spaces or plus, a space, and base64")
        raw = _b64decode(parts[1], "signature")
        if len(raw) < 5:
            raise _malformed("a signature is a 4-byte key ID and at least one byte")
        return cls(parts[0], raw[:4], raw[4:])


@dataclass(frozen=True, slots=True)
class SignedNote:
    """A note text and its signature lines (c2sp.org/signed-note)."""

    text: bytes
    signatures: tuple[SignatureLine, ...]

    def encode(self) -> bytes:
        return self.text + b"\n" + "".join(s.encode() for s in self.signatures).encode()

    @classmethod
    def decode(cls, data: bytes) -> SignedNote:
        """Parse a signed note within ``MAX_NOTE_BYTES`` and ``MAX_SIGNATURES``. Raises ``malformed``."""
        data = bytes(data)
        if len(data) > MAX_NOTE_BYTES:
            raise _malformed(f"a note is at most {MAX_NOTE_BYTES} bytes")
        try:
            decoded = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _malformed("a note is not UTF-8") from exc
        if any(ord(ch) < 0x20 and ch != "\n" for ch in decoded):
            raise _malformed("a note holds an ASCII control character other than newline")
        if not decoded.endswith("\n"):
            raise _malformed("a note ends in a newline")
        split = decoded.rfind("\n\n")
        if split < 0:
            raise _malformed("a note has no blank line before its signatures")
        text, block = decoded[: split + 1], decoded[split + 2 :]
        lines = block[:-1].split("\n") if block else []
        if not lines:
            raise _malformed("a note has no signature line")
        if len(lines) > MAX_SIGNATURES:
            raise _malformed(f"a note has at most {MAX_SIGNATURES} signatures")
        return cls(text.encode(), tuple(SignatureLine.decode(line) for line in lines))

    def lines_of(self, name: str, kid: bytes) -> list[SignatureLine]:
        return [s for s in self.signatures if s.name == name and s.key_id == kid]


# --- the author's note signature (signed-note, Ed25519) -----------------------------------------


def sign_note(text: bytes, name: str, public_key: bytes, sign: Callable[[bytes], bytes]) -> SignatureLine:
    """The author's Ed25519 signature line over ``text`` (``sign`` is the private key's signing function)."""
    return SignatureLine(name, key_id(name, NOTE_TYPE_ED25519, public_key), sign(text))


def verify_note(note: SignedNote, name: str, public_key: bytes) -> None:
    """The note carries a signature line of (``name``, ``public_key``) and every such line verifies.

    Lines of other keys are ignored (signed-note). ``unknown-key`` if there is no line of this key,
    ``bad-signature`` if one fails.
    """
    lines = note.lines_of(name, key_id(name, NOTE_TYPE_ED25519, public_key))
    if not lines:
        raise RemoteProtocolError(UNKNOWN_KEY, "no signature of the expected key")
    for line in lines:
        if len(line.signature) != 64:
            raise RemoteProtocolError(BAD_SIGNATURE, "an Ed25519 note signature is 64 bytes")
        verify_ed25519(public_key, note.text, line.signature)


# --- cosignatures (tlog-cosignature, cosignature/v1) --------------------------------------------


def cosignature_message(text: bytes, timestamp: int) -> bytes:
    """``cosignature/v1\\ntime <timestamp>\\n`` followed by the checkpoint's note text."""
    if isinstance(timestamp, bool) or not 0 <= timestamp <= MAX_TIMESTAMP:
        raise _malformed("a cosignature timestamp is from 0 to 2^63 - 1")
    return COSIGNATURE_HEADER + f"time {timestamp}\n".encode() + text


def cosign(text: bytes, name: str, public_key: bytes, timestamp: int, sign: Callable[[bytes], bytes]) -> SignatureLine:
    """A cosignature/v1 line: the signature is ``u64 timestamp (big-endian) || Ed25519 signature``."""
    signature = sign(cosignature_message(text, timestamp))
    return SignatureLine(name, key_id(name, COSIGNATURE_TYPE_ED25519, public_key), struct.pack(">Q", timestamp) + signature)


def verify_cosignature(text: bytes, line: SignatureLine, name: str, public_key: bytes) -> int:
    """Check one cosignature line of (``name``, ``public_key``) over ``text``; return its timestamp (s).

    ``unknown-key`` if the line is of another key, ``malformed`` if its signature is not 8 + 64
    bytes or its timestamp is above 2^63 - 1, ``bad-signature`` if it does not verify.
    """
    if line.name != name or line.key_id != key_id(name, COSIGNATURE_TYPE_ED25519, public_key):
        raise RemoteProtocolError(UNKNOWN_KEY, "the cosignature is not of the expected key")
    if len(line.signature) != 8 + 64:
        raise _malformed("an Ed25519 cosignature is an 8-byte timestamp and a 64-byte signature")
    (timestamp,) = struct.unpack(">Q", line.signature[:8])
    verify_ed25519(public_key, cosignature_message(text, timestamp), line.signature[8:])
    return int(timestamp)


def checkpoint_text(node_id: bytes, size: int, root: bytes) -> bytes:
    """The note text orgnode publishes for a node's ``checkpoint`` statement: no extension lines."""
    return CheckpointText(origin_of(node_id), size, root).encode()
