"""The queries provenance needs over the logs: checkpoints, log prefixes, split-view evidence."""

from __future__ import annotations

from collections.abc import Iterator

import sqlite_utils

from protocol.statement import Statement
from storage.foreign import foreign_statements
from storage.log_store import LogStore

HELD_PAGE = 2_000  # statements read per query by ``held_statements``


def held_statements(db: sqlite_utils.Database, page: int = HELD_PAGE) -> Iterator[Statement]:
    """Every statement held: each replicated log in order, a page of ``page`` at a time (keyset on
    ``(author, seq)``), then what arrived re-shared or relayed. What impact figures are counted over;
    an impact report reads it from a worker thread (node/core/off_loop_reads.py)."""
    log = LogStore(db)
    for author in log.have_vector():
        after = 0
        while statements := log.statements(author, after_seq=after, limit=page):
            yield from statements
            after = statements[-1].seq
    for statement, _, _ in foreign_statements(db):
        yield statement


class ProvenanceStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def latest_of_kind(self, author: bytes, kind: str) -> bytes | None:
        """The id of ``author``'s latest statement of ``kind`` held here."""
        rows = list(self.db.query("SELECT id FROM entries WHERE author = ? AND kind = ? ORDER BY seq DESC LIMIT 1", [author, kind]))
        return bytes(rows[0]["id"]) if rows else None

    def ids_of_kind(self, author: bytes, kind: str, limit: int = 64) -> list[bytes]:
        """The ids of ``author``'s latest ``limit`` statements of ``kind``, newest first."""
        rows = self.db.query("SELECT id FROM entries WHERE author = ? AND kind = ? ORDER BY seq DESC LIMIT ?", [author, kind, limit])
        return [bytes(r["id"]) for r in rows]

    def ids_up_to(self, author: bytes, seq: int) -> list[bytes]:
        """The ids of ``author``'s log from seq 1 to ``seq``, in order (a log prefix)."""
        return [bytes(r["id"]) for r in self.db.query("SELECT id FROM entries WHERE author = ? AND seq <= ? ORDER BY seq", [author, seq])]

    def kinds_after(self, author: bytes, seq: int) -> list[str]:
        return [str(r["kind"]) for r in self.db.query("SELECT kind FROM entries WHERE author = ? AND seq > ?", [author, seq])]

    def latest_seq_of_kind_by_author(self, kind: str, exclude: bytes) -> dict[bytes, int]:
        """For every author but ``exclude``: the seq of its latest statement of ``kind``."""
        rows = self.db.query("SELECT author, MAX(seq) AS seq FROM entries WHERE kind = ? AND author != ? GROUP BY author", [kind, exclude])
        return {bytes(r["author"]): int(r["seq"]) for r in rows}

    def record_split_view(self, checkpoint: Statement, conflicts_with: bytes, witness: bytes, now: int) -> None:
        """Evidence that ``checkpoint``'s author showed ``witness`` a log whose root differs from ours."""
        self.db.execute(
            """INSERT OR IGNORE INTO forks (id, author, seq, header, signature, conflicts_with, received_from, detected_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [checkpoint.id, checkpoint.author, checkpoint.seq, checkpoint.header_bytes, checkpoint.signature, conflicts_with,
             witness, now],
        )
