"""Calls along the trust path: a request sealed end to end to an organization that is not a partner,
carried synchronously hop by hop, and its answer sealed end to end back (docs/protocol.md 17.7).

Why synchronous: a match query waits for answers with a deadline (``orgnode match``) and an audit
export needs the employer's proofs now; a ``relay`` box rides the logs and arrives whenever sync runs.
The sealing is the relay's (HPKE to the recipient's card keys, its own info tags), so a relaying node
sees what it sees of a relayed referral: who asks (``origin``), who is asked (``to``), which job
(``route``), the sizes and the time, never the content. Each hop checks the job is one it holds and
that the next hop is its own trusted partner.

Three messages:

* ``HoldersQuery`` / ``Holders``: a partner tells a job's author who (beyond itself) holds the job
  through its re-shares, as self-signed card bundles and the path to each; nothing sealed, nothing
  personal (the job author may know where its own job went).
* ``PathCall``: ``[1, origin, to, route, path, ttl, suite, sealed]``; ``sealed`` opens, for ``to``
  only, to ``[1, op, content, signature]``, signed by ``origin`` (``CALL_SIG_TAG``).
* ``PathReply``: ``[1, holder, suite, sealed]``; ``sealed`` opens, for ``origin`` only, to
  ``[1, content, signature]``, signed by ``holder`` over the call's box hash (a reply cannot be replayed
  for another call, nor forged by a relaying node).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_str, expect_version
from protocol.errors import HOP_LIMIT, MALFORMED, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys, Identity, verify_ed25519
from protocol.sealing import DEFAULT_SUITE, open_bytes, seal_bytes
from protocol.statement import MAX_BODY_BYTES, MAX_ENVELOPE_BYTES, SealedContent

CALL_INFO_TAG = b"orgnode/path-call/v1\x00"
REPLY_INFO_TAG = b"orgnode/path-reply/v1\x00"
CALL_SIG_TAG = b"orgnode/path-call-sig/v1\x00"
REPLY_SIG_TAG = b"orgnode/path-reply-sig/v1\x00"
MAX_PATH_TTL = 8
MAX_HOLDERS = 64
OPS = ("match", "proofs")
PAD_BLOCK = 4096  # sealed plaintexts are padded to a multiple of this: a hop learns the size only by the block
MAX_SEALED = MAX_ENVELOPE_BYTES + 3 * PAD_BLOCK
CALL_LIMITS = Limits(max_bytes=MAX_SEALED + 1024, max_bin_len=MAX_SEALED, max_array_len=MAX_PATH_TTL + 8, max_map_len=0, max_depth=3)
INNER_LIMITS = Limits(max_bytes=MAX_SEALED, max_str_len=16, max_bin_len=MAX_SEALED, max_array_len=8, max_map_len=0, max_depth=2)


def padded(items: list[object]) -> bytes:
    """``encode([*items, padding])`` with zero bytes of padding making its length a multiple of
    PAD_BLOCK (docs/protocol.md 17.7): how many offers an answer holds does not show in its size."""
    base = len(encode([*items, b""])) - 2  # without the empty bin's two bytes
    target = -(-(base + 2) // PAD_BLOCK) * PAD_BLOCK
    for total in (target, target + PAD_BLOCK):
        for header in (2, 3):
            n = total - base - header
            if n >= 0 and (n < 256) == (header == 2):
                return encode([*items, bytes(n)])
    raise AssertionError("unreachable: a padding length always fits one of two blocks")
HOLDERS_LIMITS = Limits(max_bytes=MAX_HOLDERS * 16 * 1024, max_bin_len=16 * 1024, max_array_len=MAX_HOLDERS,
                        max_map_len=0, max_depth=5)


def _sig_message(tag: bytes, a: bytes, b: bytes, content: bytes) -> bytes:
    return tag + a + b + hashlib.sha256(content).digest()


@dataclass(frozen=True, slots=True)
class HoldersQuery:
    """``[1, job_statement_id, ttl]``: body of ``POST /federation/v1/path/holders``."""

    job_statement: bytes
    ttl: int

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.job_statement, self.ttl])

    @classmethod
    def decode(cls, data: bytes) -> HoldersQuery:
        items = expect_list(decode(data, Limits(max_bytes=128, max_bin_len=32, max_array_len=3, max_map_len=0, max_depth=2)),
                            "holders query")
        expect_version(items, "holders query")
        expect_list(items, "holders query", 3)
        return cls(expect_bytes(items[1], "holders.job", 32), expect_int(items[2], "holders.ttl", 0, MAX_PATH_TTL))


@dataclass(frozen=True, slots=True)
class Holder:
    card_bundle: bytes  # self-signed: the asker verifies it against the last node id of ``path``
    path: tuple[bytes, ...]  # the hops from the asker's partner to the holder, the holder last


@dataclass(frozen=True, slots=True)
class Holders:
    """``[1, [[card_bundle, [node_id, ...]], ...]]``: the answer."""

    holders: tuple[Holder, ...]

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, [[h.card_bundle, list(h.path)] for h in self.holders]])

    @classmethod
    def decode(cls, data: bytes) -> Holders:
        items = expect_list(decode(data, HOLDERS_LIMITS), "holders")
        expect_version(items, "holders")
        expect_list(items, "holders", 2)
        out = []
        for raw in expect_list(items[1], "holders.list"):
            parts = expect_list(raw, "holder", 2)
            path = tuple(expect_bytes(n, "holder.path[]", 32) for n in expect_list(parts[1], "holder.path"))
            if not 1 <= len(path) <= MAX_PATH_TTL:
                raise RemoteProtocolError(MALFORMED, f"a holder's path has 1 to {MAX_PATH_TTL} hops")
            out.append(Holder(expect_bytes(parts[0], "holder.card", max_len=16 * 1024), path))
        if len(out) > MAX_HOLDERS:
            raise RemoteProtocolError(MALFORMED, f"at most {MAX_HOLDERS} holders")
        return cls(tuple(out))


@dataclass(frozen=True, slots=True)
class PathCall:
    """Body of ``POST /federation/v1/path/call``. ``path``: the hops still to go after the receiver
    (empty: the receiver forwards to ``to`` by the job's own path, or is ``to``)."""

    origin: bytes
    to: bytes
    route: bytes  # the job id: each hop must hold that job
    path: tuple[bytes, ...]
    ttl: int
    suite: int
    sealed: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.origin, self.to, self.route, list(self.path), self.ttl, self.suite, self.sealed])

    @classmethod
    def decode(cls, data: bytes) -> PathCall:
        items = expect_list(decode(data, CALL_LIMITS), "path call")
        expect_version(items, "path call")
        expect_list(items, "path call", 8)
        path = tuple(expect_bytes(n, "call.path[]", 32) for n in expect_list(items[4], "call.path"))
        ttl = expect_int(items[5], "call.ttl", 0, MAX_PATH_TTL)
        if len(path) > ttl:
            raise RemoteProtocolError(MALFORMED, "a path call's path is longer than its ttl")
        return cls(expect_bytes(items[1], "call.origin", 32), expect_bytes(items[2], "call.to", 32),
                   expect_bytes(items[3], "call.route", 16), path, ttl, expect_int(items[6], "call.suite", 0, 255),
                   expect_bytes(items[7], "call.sealed", max_len=MAX_SEALED))

    @property
    def box(self) -> bytes:
        """The hash a reply is bound to (and relays remember the call by)."""
        return hashlib.sha256(self.sealed).digest()

    def forwarded(self) -> PathCall:
        if self.ttl <= 0:
            raise RemoteProtocolError(HOP_LIMIT, "the path call has travelled as far as its ttl allows")
        return PathCall(self.origin, self.to, self.route, self.path[1:], self.ttl - 1, self.suite, self.sealed)


@dataclass(frozen=True, slots=True)
class OpenedCall:
    op: str
    content: bytes


@dataclass(frozen=True, slots=True)
class PathReply:
    """``[1, holder, suite, sealed]``: the answer to a path call, carried back unchanged by each hop."""

    holder: bytes
    suite: int
    sealed: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.holder, self.suite, self.sealed])

    @classmethod
    def decode(cls, data: bytes) -> PathReply:
        items = expect_list(decode(data, CALL_LIMITS), "path reply")
        expect_version(items, "path reply")
        expect_list(items, "path reply", 4)
        return cls(expect_bytes(items[1], "reply.holder", 32), expect_int(items[2], "reply.suite", 0, 255),
                   expect_bytes(items[3], "reply.sealed", max_len=MAX_SEALED))


def seal_call(origin: Identity, to: bytes, keys: EncryptionPublicKeys, route: bytes, path: tuple[bytes, ...], op: str,
              content: bytes, ttl: int) -> PathCall:
    """A call of ``origin`` for ``to``: ``path`` lists the hops after the first (the holder last), or is
    empty (each hop then forwards by the job's own path); ``ttl``: how many more hops it may take."""
    if op not in OPS:
        raise RemoteProtocolError(MALFORMED, f"unknown path call op {op!r}")
    signature = origin.sign(_sig_message(CALL_SIG_TAG, to, route, op.encode() + content))
    plaintext = padded([PROTOCOL_VERSION, op, content, signature])
    sealed = seal_bytes(plaintext, to, keys, CALL_INFO_TAG + origin.node_id + to, DEFAULT_SUITE)
    return PathCall(origin.node_id, to, route, path, max(ttl, len(path)), sealed.suite, sealed.ciphertext)


def open_call(call: PathCall, me: Identity, origin_key: bytes) -> OpenedCall:
    """Open a call addressed to us and check the origin's signature (``origin_key``: its current key)."""
    plaintext = open_bytes(SealedContent(call.to, call.suite, call.sealed), me, CALL_INFO_TAG + call.origin + call.to)
    items = expect_list(decode(plaintext, INNER_LIMITS), "path call payload")
    expect_version(items, "path call payload")
    expect_list(items, "path call payload", 5)
    op = expect_str(items[1], "call.op", 16)
    if op not in OPS:
        raise RemoteProtocolError(MALFORMED, f"unknown path call op {op!r}")
    content = expect_bytes(items[2], "call.content", max_len=MAX_SEALED)
    verify_ed25519(origin_key, _sig_message(CALL_SIG_TAG, call.to, call.route, op.encode() + content),
                   expect_bytes(items[3], "call.signature", 64))
    return OpenedCall(op, content)


def seal_reply(holder: Identity, call: PathCall, origin_keys: EncryptionPublicKeys, content: bytes) -> PathReply:
    signature = holder.sign(_sig_message(REPLY_SIG_TAG, call.origin, call.box, content))
    plaintext = padded([PROTOCOL_VERSION, content, signature])
    sealed = seal_bytes(plaintext, call.origin, origin_keys, REPLY_INFO_TAG + holder.node_id + call.origin, DEFAULT_SUITE)
    return PathReply(holder.node_id, sealed.suite, sealed.ciphertext)


def open_reply(reply: PathReply, call: PathCall, me: Identity, holder_key: bytes) -> bytes:
    """The reply's content, if it opens for us and ``call.to`` signed it for this very call."""
    if reply.holder != call.to:
        raise RemoteProtocolError(MALFORMED, "the reply comes from another organization than the one called")
    plaintext = open_bytes(SealedContent(call.origin, reply.suite, reply.sealed), me, REPLY_INFO_TAG + reply.holder + call.origin)
    items = expect_list(decode(plaintext, INNER_LIMITS), "path reply payload")
    expect_version(items, "path reply payload")
    expect_list(items, "path reply payload", 4)
    content = expect_bytes(items[1], "reply.content", max_len=MAX_BODY_BYTES + MAX_ENVELOPE_BYTES)
    verify_ed25519(holder_key, _sig_message(REPLY_SIG_TAG, call.origin, call.box, content),
                   expect_bytes(items[2], "reply.signature", 64))
    return content
