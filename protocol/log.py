"""The rules of a per-author append-only log, and of the author's signing keys over time.

Each author's statements form a chain: ``seq`` counts from 1 and ``prev`` is the id of the
statement at ``seq - 1``. Given what we already hold for an author (its head and its key history),
``check`` classifies an incoming, signature-checked statement as one to append, a duplicate, a gap
(hold it until the predecessors arrive) or a fork (two valid statements for one position: kept as
evidence, never resolved). Key validity: seq 1 must be signed by the genesis key (whose hash is the
node id); later statements by the key current at that seq, which changes only through
``key_rotation`` statements in the author's own log.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from protocol.bodies import KeyRotation
from protocol.errors import (
    BAD_BODY,
    UNKNOWN_KEY,
    WRONG_AUTHOR,
    RemoteProtocolError,
)
from protocol.identity import node_id_for, verify_ed25519
from protocol.statement import Statement


@dataclass(frozen=True, slots=True)
class KeyPeriod:
    """``key`` signs the author's statements with ``first_seq <= seq <= last_seq`` (None: still current)."""

    key: bytes
    first_seq: int
    last_seq: int | None


@dataclass(frozen=True, slots=True)
class KeyHistory:
    author: bytes
    periods: tuple[KeyPeriod, ...]

    @classmethod
    def genesis(cls, author: bytes, genesis_key: bytes) -> KeyHistory:
        if node_id_for(genesis_key) != author:
            raise RemoteProtocolError(WRONG_AUTHOR, "genesis key does not hash to the author's node id")
        return cls(author, (KeyPeriod(genesis_key, 1, None),))

    @property
    def current_key(self) -> bytes:
        return self.periods[-1].key

    def check_key(self, key: bytes, seq: int) -> None:
        """Raise unless ``key`` may sign the author's statement number ``seq``."""
        known = False
        for period in self.periods:
            if period.key == key:
                known = True
                if period.first_seq <= seq and (period.last_seq is None or seq <= period.last_seq):
                    return
        if known:
            raise RemoteProtocolError(UNKNOWN_KEY, f"key is not valid for statement {seq} of this author (rotated)")
        raise RemoteProtocolError(WRONG_AUTHOR, "statement is signed by a key that does not belong to its author")

    def extends(self, held: KeyHistory) -> bool:
        """True if this history is ``held`` carried on by at least one more rotation: same author,
        every held period unchanged (the last one now closed where the next key starts), more periods.
        A history that differs anywhere in what is held (another key at a seq already rotated at: a
        rotation made with an old key by whoever holds it) is not an extension (docs/protocol.md 3.4)."""
        if self.author != held.author or len(self.periods) <= len(held.periods):
            return False
        n = len(held.periods)
        if self.periods[: n - 1] != held.periods[: n - 1]:
            return False
        last, mine = held.periods[-1], self.periods[n - 1]
        return mine.key == last.key and mine.first_seq == last.first_seq and (last.last_seq is None or mine.last_seq == last.last_seq)

    def rotated(self, statement: Statement) -> KeyHistory:
        """Apply a verified ``key_rotation`` statement of this author; returns the new history."""
        rotation = KeyRotation.from_value(statement.body_value())
        old_key = statement.header.key
        try:
            verify_ed25519(
                rotation.new_key,
                KeyRotation.signed_message(self.author, old_key, rotation.new_key),
                rotation.new_signature,
            )
        except RemoteProtocolError as exc:
            raise RemoteProtocolError(BAD_BODY, "key rotation is not signed by the new key") from exc
        if any(p.key == rotation.new_key for p in self.periods):
            raise RemoteProtocolError(BAD_BODY, "key rotation reuses an earlier key")
        closed = KeyPeriod(old_key, self.periods[-1].first_seq, statement.seq)
        return KeyHistory(self.author, (*self.periods[:-1], closed, KeyPeriod(rotation.new_key, statement.seq + 1, None)))


def history_for(first: Statement, rotations: list[Statement]) -> KeyHistory:
    """Rebuild an author's key history from its seq-1 statement and its rotations, in order."""
    history = KeyHistory.genesis(first.author, first.header.key)
    for rotation in rotations:
        history.check_key(rotation.header.key, rotation.seq)
        history = history.rotated(rotation)
    return history


class Verdict(enum.Enum):
    APPEND = "append"
    DUPLICATE = "duplicate"
    GAP = "gap"
    FORK = "fork"


@dataclass(frozen=True, slots=True)
class LogHead:
    """The last statement we hold of an author's chain (seq 0 and id None when we hold none)."""

    author: bytes
    seq: int = 0
    id: bytes | None = None


def check(statement: Statement, head: LogHead, history: KeyHistory | None, id_at_seq: bytes | None) -> Verdict:
    """Classify ``statement`` (signature already verified) against what we hold of its author.

    ``history`` is None when we hold nothing of the author yet; ``id_at_seq`` is the id we hold at
    ``statement.seq`` if any. Raises ``wrong-author``/``unknown-key`` for a key that may not sign.
    """
    header = statement.header
    if header.author != head.author:
        raise RemoteProtocolError(WRONG_AUTHOR, "statement is for another author's log")
    if header.seq == 1:
        if node_id_for(header.key) != header.author:
            raise RemoteProtocolError(WRONG_AUTHOR, "first statement is not signed by the key the node id is derived from")
    elif history is not None and header.seq <= head.seq + 1:
        history.check_key(header.key, header.seq)
    if id_at_seq is not None:
        return Verdict.DUPLICATE if id_at_seq == statement.id else Verdict.FORK
    if header.seq <= head.seq:
        # We hold the position but the caller did not find an id there: treat as a fork candidate.
        return Verdict.FORK
    if header.seq > head.seq + 1:
        return Verdict.GAP
    if header.prev != head.id:
        return Verdict.FORK
    return Verdict.APPEND
