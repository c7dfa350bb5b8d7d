"""Statements of peers whose reactions (re-sharing, talent hooks) have not finished yet
(``pending_reactions``). A statement is recorded in the same transaction that stores it, and removed
in the transaction that ran its reactions, so a crash in between leaves it here to be retried.
How often to retry is the core's rule (node/core/federation.py); this store only counts."""

from __future__ import annotations

import sqlite_utils


class ReactionStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, statement_id: bytes, now: int) -> None:
        """Remember that ``statement_id`` still has to be reacted to (a second add keeps the first)."""
        self.db.execute("INSERT OR IGNORE INTO pending_reactions (statement_id, at) VALUES (?, ?)", [statement_id, now])

    def done(self, statement_id: bytes) -> None:
        """The reactions ran (or were abandoned): forget the statement."""
        self.db.execute("DELETE FROM pending_reactions WHERE statement_id = ?", [statement_id])

    def failed(self, statement_id: bytes) -> int:
        """Count one more failed attempt and return the new count (1 if the statement was not pending)."""
        row = next(iter(self.db.query("SELECT attempts FROM pending_reactions WHERE statement_id = ?", [statement_id])), None)
        attempts = (int(row["attempts"]) if row else 0) + 1
        self.db.execute("UPDATE pending_reactions SET attempts = ? WHERE statement_id = ?", [attempts, statement_id])
        return attempts

    def attempts(self, statement_id: bytes) -> int | None:
        """Failed attempts so far, or None if the statement is not pending."""
        row = next(iter(self.db.query("SELECT attempts FROM pending_reactions WHERE statement_id = ?", [statement_id])), None)
        return int(row["attempts"]) if row else None

    def pending(self) -> list[bytes]:
        """The pending statement ids, oldest first."""
        return [bytes(r["statement_id"]) for r in self.db.query("SELECT statement_id FROM pending_reactions ORDER BY at")]
