"""Signing and appending a batch of the node's own statements at once (issue 11 item 2: a CSV import
signs one consent statement per row). A mixin of ``LogStore``: one read of the log head and one of
the key history for the whole batch, each statement chained to the one before it, and one
``executemany`` for the entries, in the caller's transaction. Only kinds without projections and
without key effects may be batched (a key rotation or an org card goes through ``append_own``)."""

from __future__ import annotations

from collections.abc import Sequence
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


class OwnBatch:
    db: sqlite_utils.Database

    if TYPE_CHECKING:  # provided by LogStore
        def head(self, author: bytes) -> LogHead: ...

    def append_own_many(self, identity: Identity, *, kind: str, bodies: Sequence[object], now: int, private: bool,
                        salts: Sequence[bytes | None], audience: str | None = None) -> list[Statement]:
        """Sign and append ``bodies`` as the node's next own statements (consecutive seqs), in one
        transaction. The bodies are the caller's own, built from typed values, so they are not decoded
        again; the log rules are still checked for every statement before anything is written."""
        spec = kinds.spec_of(kind)
        if kind in NOT_BATCHED or kind in PROJECTORS or (spec is not None and spec.private != private):
            raise LocalProtocolError(BAD_BODY, f"{kind} statements cannot be appended in a batch")
        if len(salts) != len(bodies):
            raise LocalProtocolError(BAD_BODY, "one salt per body")
        statements: list[Statement] = []
        with self.db.atomic():
            head = self.head(identity.node_id)
            history = replicated_history(self.db, identity.node_id)
            for body, salt in zip(bodies, salts, strict=True):
                statement = sign_statement(identity, kind=kind, seq=head.seq + 1, prev=head.id, now=now, body=body,
                                           private=private, salt=salt)
                if log_rules.check(statement, head, history, None) is not Verdict.APPEND:
                    raise LocalProtocolError(BAD_BODY, "own statement does not extend the log")
                if statement.seq == 1 and history is None:
                    history = KeyHistory.genesis(identity.node_id, statement.header.key)
                    save_replicated_history(self.db, history)
                statements.append(statement)
                head = LogHead(identity.node_id, statement.seq, statement.id)
            self.db.conn.executemany(
                """INSERT INTO entries (id, author, seq, kind, ts, header, signature, salt, body, received_from, received_at,
                                        audience) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)""",
                [(s.id, s.author, s.seq, s.kind, s.header.ts, s.header_bytes, s.signature, s.salt, s.body, now, audience)
                 for s in statements])
        return statements
