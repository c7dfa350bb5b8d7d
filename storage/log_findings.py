"""What a node's log has found wrong with peers' statements: fork evidence kept and statements
refused for good, read for the status, `orgnode problems`, peer views and metrics. A mixin of
``LogStore`` (storage/log_store.py), kept apart so that module stays the ingest door.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from storage.statement_rows import opt_bytes


@dataclass(frozen=True, slots=True)
class ForkRow:
    """A statement kept as evidence of a fork (``forks``): it conflicts with the one at ``seq`` in the log."""

    author: bytes
    seq: int
    id: bytes
    conflicts_with: bytes | None
    received_from: bytes | None
    detected_at: int


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A statement refused for good, with its error code (``rejected``)."""

    id: bytes
    author: bytes | None
    seq: int | None
    code: str
    detail: str
    received_from: bytes | None
    at: int


class LogFindings:
    db: sqlite_utils.Database

    def forks(self) -> list[ForkRow]:
        return [
            ForkRow(bytes(r["author"]), r["seq"], bytes(r["id"]), opt_bytes(r["conflicts_with"]), opt_bytes(r["received_from"]),
                    r["detected_at"])
            for r in self.db.query("SELECT author, seq, id, conflicts_with, received_from, detected_at FROM forks ORDER BY detected_at")
        ]

    def forked_authors(self) -> set[bytes]:
        return {bytes(r["author"]) for r in self.db.query("SELECT DISTINCT author FROM forks")}

    def fork_summary(self) -> list[tuple[bytes, int, int]]:
        """Per forked author: (author, when the first evidence was kept (ms), pieces of evidence kept);
        at most ``MAX_FORK_EVIDENCE_PER_AUTHOR`` rows per author, so this stays small."""
        rows = self.db.query("SELECT author, MIN(detected_at) AS first, COUNT(*) AS n FROM forks GROUP BY author ORDER BY first")
        return [(bytes(r["author"]), int(r["first"]), int(r["n"])) for r in rows]

    def rejected(self) -> list[RejectedRow]:
        return [
            RejectedRow(bytes(r["id"]), opt_bytes(r["author"]), r["seq"], r["code"], r["detail"], opt_bytes(r["received_from"]), r["at"])
            for r in self.db.query("SELECT id, author, seq, code, detail, received_from, at FROM rejected ORDER BY at")
        ]

    def is_rejected(self, statement_id: bytes) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM rejected WHERE id = ?", [statement_id])))
