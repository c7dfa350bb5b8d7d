"""Signing and appending a batch of the node's own statements at once (issue 11 item 2: a CSV import
signs one consent statement per row). A mixin of ``LogStore``: one read of the log head and one of
the key history for the whole batch, each statement chained to the one before it, and one
``executemany`` for the entries, in the caller's transaction. Only kinds without projections and
without key effects may be batched (a key rotation or an org card goes through ``append_own``).

The signing itself (``sign_own_many``) touches no database, so a CSV import signs its next batch in a
worker thread while the event loop stores the one before (node/core/candidate_import.py); the batch
signed ahead is appended only if the log head is still the one it was signed on, else it is signed
again on the real head inside the transaction (another own append came first, or the batch before
failed), so a presigned batch can never fork the log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlite_utils

from protocol import kinds
from protocol import log as log_rules
from protocol.bodies import KeyRotation, OrgCard
from protocol.errors import BAD_BODY, LocalProtocolError
from protocol.identity import Identity
from protocol.log import KeyHistory, LogHead, Verdict
from protocol.statement import Statement, sign_statement
from storage.key_histories import replicated_history, save_replicated_history
from storage.projections import PROJECTORS

NOT_BATCHED = frozenset({KeyRotation.KIND, OrgCard.KIND})


@dataclass(frozen=True, slots=True)
class Presigned:
    """Statements signed ahead of their transaction, and the log head and key they were signed on."""

    head: LogHead
    key: bytes
    statements: tuple[Statement, ...]

    @property
    def head_after(self) -> LogHead:
        """The log head once these are appended (what the next batch signed ahead chains to)."""
        if not self.statements:
            return self.head
        last = self.statements[-1]
        return LogHead(last.author, last.seq, last.id)


def check_batchable(kind: str, private: bool) -> None:
    spec = kinds.spec_of(kind)
    if kind in NOT_BATCHED or kind in PROJECTORS or (spec is not None and spec.private != private):
        raise LocalProtocolError(BAD_BODY, f"{kind} statements cannot be appended in a batch")


def sign_own_many(identity: Identity, head: LogHead, history: KeyHistory | None, *, kind: str, bodies: Sequence[object],
                  now: int, private: bool, salts: Sequence[bytes | None]) -> Presigned:
    """Sign ``bodies`` as the statements following ``head`` (consecutive seqs), each checked against
    the log rules. Pure: no database (the caller read ``head`` and ``history``)."""
    check_batchable(kind, private)
    if len(salts) != len(bodies):
        raise LocalProtocolError(BAD_BODY, "one salt per body")
    statements: list[Statement] = []
    start = head
    for body, salt in zip(bodies, salts, strict=True):
        statement = sign_statement(identity, kind=kind, seq=head.seq + 1, prev=head.id, now=now, body=body,
                                   private=private, salt=salt)
        if log_rules.check(statement, head, history, None) is not Verdict.APPEND:
            raise LocalProtocolError(BAD_BODY, "own statement does not extend the log")
        if statement.seq == 1 and history is None:
            history = KeyHistory.genesis(identity.node_id, statement.header.key)
        statements.append(statement)
        head = LogHead(identity.node_id, statement.seq, statement.id)
    return Presigned(start, identity.signing_public, tuple(statements))


class OwnBatch:
    db: sqlite_utils.Database

    if TYPE_CHECKING:  # provided by LogStore
        def head(self, author: bytes) -> LogHead: ...

    def signing_base(self, author: bytes) -> tuple[LogHead, KeyHistory | None]:
        """The log head and key history a batch of own statements is signed on."""
        return self.head(author), replicated_history(self.db, author)

    def append_own_many(self, identity: Identity, *, kind: str, bodies: Sequence[object], now: int, private: bool,
                        salts: Sequence[bytes | None], audience: str | None = None,
                        presigned: Presigned | None = None) -> list[Statement]:
        """Sign and append ``bodies`` as the node's next own statements (consecutive seqs), in one
        transaction. The bodies are the caller's own, built from typed values, so they are not decoded
        again; the log rules are still checked for every statement before anything is written.
        ``presigned``: the same bodies signed ahead (``sign_own_many``), used if the head and the
        signing key are still the ones they were signed on."""
        check_batchable(kind, private)
        with self.db.atomic():
            head, history = self.signing_base(identity.node_id)
            if presigned is not None and (presigned.head != head or presigned.key != identity.signing_public
                                          or len(presigned.statements) != len(bodies)):
                presigned = None  # the log moved since (or the key rotated): sign again on the real head
            batch = presigned or sign_own_many(identity, head, history, kind=kind, bodies=bodies, now=now, private=private,
                                               salts=salts)
            statements = list(batch.statements)
            if statements and statements[0].seq == 1 and history is None:
                save_replicated_history(self.db, KeyHistory.genesis(identity.node_id, statements[0].header.key))
            self.db.conn.executemany(
                """INSERT INTO entries (id, author, seq, kind, ts, header, signature, salt, body, received_from, received_at,
                                        audience) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)""",
                [(s.id, s.author, s.seq, s.kind, s.header.ts, s.header_bytes, s.signature, s.salt, s.body, now, audience)
                 for s in statements])
        return statements
