"""Signed statements: the unit of every node's append-only log.

A statement is a *header* (a msgpack array, signed as exact bytes) plus a *body* the header commits
to by a salted SHA-256 hash. Public statements use an empty salt, so anyone holding the body can
check it. Private statements use a 32-byte random salt and travel with their body sealed by HPKE to
each node that may read it (``protocol.sealing``); a node that may not read it still replicates the
header, keeping the author's log gap-free, and an auditor later handed ``(salt, body)`` can check the
author's signature over it. Layouts, tags and limits are normative in docs/protocol.md.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from protocol import PROTOCOL_VERSION
from protocol.codec import (
    Limits,
    decode,
    encode,
    expect_bytes,
    expect_int,
    expect_list,
    expect_optional_bytes,
    expect_str,
)
from protocol.errors import (
    BAD_BODY,
    BAD_TIMESTAMP,
    MALFORMED,
    TOO_LARGE,
    UNKNOWN_VERSION,
    LocalProtocolError,
    RemoteProtocolError,
)
from protocol.identity import Identity, verify_ed25519

STATEMENT_SIG_TAG = b"orgnode/statement/v1\x00"

MAX_HEADER_BYTES = 1024
MAX_BODY_BYTES = 64 * 1024
MAX_ENVELOPE_BYTES = 96 * 1024
SALT_LEN = 32
HASH_LEN = 32
SIGNATURE_LEN = 64
MAX_KIND_LEN = 32

HEADER_LIMITS = Limits(
    max_bytes=MAX_HEADER_BYTES, max_str_len=MAX_KIND_LEN, max_bin_len=64, max_array_len=16, max_map_len=0, max_depth=2
)
ENVELOPE_LIMITS = Limits(
    max_bytes=MAX_ENVELOPE_BYTES, max_str_len=64, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=8, max_map_len=0, max_depth=3
)
# A bin may fill the whole body: a ``reshare`` body carries an envelope and a card bundle as bins.
BODY_LIMITS = Limits(
    max_bytes=MAX_BODY_BYTES, max_str_len=MAX_BODY_BYTES, max_bin_len=MAX_BODY_BYTES, max_array_len=512, max_map_len=64, max_depth=8
)

# A receiver refuses a partner's statement stamped further than this ahead of its own clock (bad-timestamp,
# docs/protocol.md 13.6): no honest clock is a year fast, and such stamps are beyond what views can show.
MAX_FUTURE_MS = 366 * 86_400_000

CONTENT_WITHHELD = None
CONTENT_PLAIN = 0
CONTENT_SEALED = 1


def body_hash(salt: bytes, body: bytes) -> bytes:
    return hashlib.sha256(salt + body).digest()


@dataclass(frozen=True, slots=True)
class Header:
    """The signed part of a statement. Field order is the wire order (protocol.md "Header")."""

    version: int
    kind: str
    author: bytes
    seq: int
    prev: bytes | None
    ts: int
    key: bytes
    body_hash: bytes
    body_len: int
    private: bool

    def encode(self) -> bytes:
        return encode(
            [
                self.version,
                self.kind,
                self.author,
                self.seq,
                self.prev,
                self.ts,
                self.key,
                self.body_hash,
                self.body_len,
                self.private,
            ]
        )

    @classmethod
    def decode(cls, data: bytes) -> Header:
        items = expect_list(decode(data, HEADER_LIMITS), "header")
        if not items:
            raise RemoteProtocolError(MALFORMED, "empty header")
        version = expect_int(items[0], "header.version", 0, 255)
        if version != PROTOCOL_VERSION:
            raise RemoteProtocolError(
                UNKNOWN_VERSION, f"header version {version} is not supported (this node speaks {PROTOCOL_VERSION})"
            )
        expect_list(items, "header", 10)
        seq = expect_int(items[3], "header.seq", 1)
        prev = expect_optional_bytes(items[4], "header.prev", HASH_LEN)
        if (seq == 1) != (prev is None):
            raise RemoteProtocolError(MALFORMED, "prev must be nil exactly when seq is 1")
        private = items[9]
        if not isinstance(private, bool):
            raise RemoteProtocolError(MALFORMED, "header.private must be a boolean")
        return cls(
            version=version,
            kind=expect_str(items[1], "header.kind", MAX_KIND_LEN),
            author=expect_bytes(items[2], "header.author", 32),
            seq=seq,
            prev=prev,
            ts=expect_int(items[5], "header.ts"),
            key=expect_bytes(items[6], "header.key", 32),
            body_hash=expect_bytes(items[7], "header.body_hash", HASH_LEN),
            body_len=expect_int(items[8], "header.body_len", 0, MAX_BODY_BYTES),
            private=private,
        )


@dataclass(frozen=True, slots=True)
class Statement:
    """A verified (or self-made) statement. ``body``/``salt`` are None when this node may not read it."""

    header: Header
    header_bytes: bytes
    signature: bytes
    body: bytes | None
    salt: bytes | None

    @property
    def id(self) -> bytes:
        return statement_id(self.header_bytes)

    @property
    def author(self) -> bytes:
        return self.header.author

    @property
    def seq(self) -> int:
        return self.header.seq

    @property
    def kind(self) -> str:
        return self.header.kind

    def body_value(self) -> Any:
        """The decoded body (bounded), or raise ``bad-body`` if this node does not hold it."""
        if self.body is None:
            raise LocalProtocolError(BAD_BODY, "this node does not hold the body of the statement")
        return decode(self.body, BODY_LIMITS)

    def without_body(self) -> Statement:
        return Statement(self.header, self.header_bytes, self.signature, None, None)

    def with_body(self, salt: bytes, body: bytes) -> Statement:
        check_body(self.header, salt, body)
        return Statement(self.header, self.header_bytes, self.signature, body, salt)


def expect_salt(value: Any, name: str) -> bytes:
    """A salt as carried (plain content, sealed plaintext): bin of 0 or 32 bytes, any other length
    ``malformed`` before any header is consulted. Whether the length fits the header's ``private``
    flag is the body check's (``bad-body``, section 4.3)."""
    salt = expect_bytes(value, name)
    if len(salt) not in (0, SALT_LEN):
        raise RemoteProtocolError(MALFORMED, f"{name} must be 0 or {SALT_LEN} bytes, is {len(salt)}")
    return salt


def check_not_far_future(ts: int, now: int) -> None:
    """Refuse a received statement stamped more than ``MAX_FUTURE_MS`` after ``now`` (the receiver's clock).

    Only for statements taken from a partner: a node's own log (own-log recovery) is never refused for it."""
    if ts > now + MAX_FUTURE_MS:
        raise RemoteProtocolError(BAD_TIMESTAMP, "statement stamped more than a year after the receiver's clock")


def statement_id(header_bytes: bytes) -> bytes:
    """id = SHA-256 of the exact signed header bytes (never of the signature: THREATS row 12)."""
    return hashlib.sha256(header_bytes).digest()


def check_body(header: Header, salt: bytes, body: bytes) -> None:
    """Raise ``bad-body`` unless ``(salt, body)`` is exactly what ``header`` commits to."""
    expected_salt_len = SALT_LEN if header.private else 0
    if len(salt) != expected_salt_len:
        raise RemoteProtocolError(BAD_BODY, f"salt must be {expected_salt_len} bytes for this statement")
    if len(body) != header.body_len or body_hash(salt, body) != header.body_hash:
        raise RemoteProtocolError(BAD_BODY, "body does not match the hash the author signed")


def sign_statement(
    identity: Identity,
    *,
    kind: str,
    seq: int,
    prev: bytes | None,
    now: int,
    body: Any,
    private: bool,
    salt: bytes | None = None,
) -> Statement:
    """Make a statement. ``salt`` (32 random bytes from the caller) is required when ``private``."""
    if len(kind) > MAX_KIND_LEN:
        raise LocalProtocolError(TOO_LARGE, "kind too long")
    body_bytes = encode(body)
    if len(body_bytes) > MAX_BODY_BYTES:
        raise LocalProtocolError(TOO_LARGE, f"body is {len(body_bytes)} bytes, the limit is {MAX_BODY_BYTES}")
    if private:
        if salt is None or len(salt) != SALT_LEN:
            raise LocalProtocolError(BAD_BODY, "a private statement needs a 32-byte random salt")
    else:
        salt = b""
    header = Header(
        version=PROTOCOL_VERSION,
        kind=kind,
        author=identity.node_id,
        seq=seq,
        prev=prev,
        ts=now,
        key=identity.signing_public,
        body_hash=body_hash(salt, body_bytes),
        body_len=len(body_bytes),
        private=private,
    )
    header_bytes = header.encode()
    signature = identity.sign(STATEMENT_SIG_TAG + header_bytes)
    return Statement(header, header_bytes, signature, body_bytes, salt)


def verify_signature(header_bytes: bytes, signature: bytes) -> Header:
    """Parse the header and check its signature by the key it names. Author binding is the log's job."""
    header = Header.decode(header_bytes)
    expect_bytes(signature, "signature", SIGNATURE_LEN)
    verify_ed25519(header.key, STATEMENT_SIG_TAG + header_bytes, signature)
    return header


# --- envelopes: one statement in transit or in a file ---------------------------------------------


@dataclass(frozen=True, slots=True)
class SealedContent:
    """A body sealed by HPKE to one recipient (see ``protocol.sealing``)."""

    recipient: bytes
    suite: int
    ciphertext: bytes


@dataclass(frozen=True, slots=True)
class Envelope:
    """``[1, header_bytes, signature, content]`` where content is nil, plain or sealed."""

    header_bytes: bytes
    signature: bytes
    content: tuple[bytes, bytes] | SealedContent | None

    def encode(self) -> bytes:
        content: Any
        if self.content is None:
            content = None
        elif isinstance(self.content, SealedContent):
            content = [CONTENT_SEALED, self.content.recipient, self.content.suite, self.content.ciphertext]
        else:
            content = [CONTENT_PLAIN, self.content[0], self.content[1]]
        return encode([PROTOCOL_VERSION, self.header_bytes, self.signature, content])

    @classmethod
    def from_value(cls, value: Any) -> Envelope:
        items = expect_list(value, "envelope")
        if not items:
            raise RemoteProtocolError(MALFORMED, "empty envelope")
        version = expect_int(items[0], "envelope.version", 0, 255)
        if version != PROTOCOL_VERSION:
            raise RemoteProtocolError(UNKNOWN_VERSION, f"envelope version {version} is not supported")
        expect_list(items, "envelope", 4)
        header_bytes = expect_bytes(items[1], "envelope.header", max_len=MAX_HEADER_BYTES)
        signature = expect_bytes(items[2], "envelope.signature", SIGNATURE_LEN)
        raw = items[3]
        content: tuple[bytes, bytes] | SealedContent | None
        if raw is None:
            content = None
        else:
            parts = expect_list(raw, "envelope.content")
            if not parts:
                raise RemoteProtocolError(MALFORMED, "empty content")
            tag = expect_int(parts[0], "content.tag", 0, 255)
            if tag == CONTENT_PLAIN:
                expect_list(parts, "content", 3)
                content = (
                    expect_salt(parts[1], "content.salt"),
                    expect_bytes(parts[2], "content.body", max_len=MAX_BODY_BYTES),
                )
            elif tag == CONTENT_SEALED:
                expect_list(parts, "content", 4)
                content = SealedContent(
                    recipient=expect_bytes(parts[1], "content.recipient", 32),
                    suite=expect_int(parts[2], "content.suite", 0, 255),
                    ciphertext=expect_bytes(parts[3], "content.ciphertext", max_len=MAX_BODY_BYTES + 4096),
                )
            else:
                raise RemoteProtocolError(MALFORMED, f"unknown content tag {tag}")
        return cls(header_bytes, signature, content)

    @classmethod
    def decode(cls, data: bytes) -> Envelope:
        return cls.from_value(decode(data, ENVELOPE_LIMITS))

    @classmethod
    def of(cls, statement: Statement, *, with_body: bool = True) -> Envelope:
        content = None
        if with_body and statement.body is not None and statement.salt is not None:
            content = (statement.salt, statement.body)
        return cls(statement.header_bytes, statement.signature, content)

    def open_plain(self) -> Statement:
        """Verify the signature and, for plain content, the body hash. Sealed content is left withheld."""
        header = verify_signature(self.header_bytes, self.signature)
        statement = Statement(header, self.header_bytes, self.signature, None, None)
        if isinstance(self.content, tuple):
            return statement.with_body(*self.content)
        return statement
