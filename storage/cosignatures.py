"""Cosignatures over checkpoint notes (docs/protocol.md 18.7): the ones this node made over its partners'
checkpoints and the ones its partners made over its own, one row per (checkpoint statement, cosigner).

Rows are written only after the caller verified them (the line over the note text, with the cosigner's
key); this module only stores and lists them.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils


@dataclass(frozen=True, slots=True)
class Cosignature:
    checkpoint: bytes  # id of the cosigned checkpoint statement
    author: bytes  # its author (the log)
    size: int
    root: bytes
    cosigner: bytes  # node id of the cosigner
    timestamp: int  # POSIX seconds, as in the cosignature
    line: str  # the note signature line, newline included


def _row(r: dict[str, object]) -> Cosignature:
    return Cosignature(bytes(r["checkpoint"]), bytes(r["author"]), int(r["size"]), bytes(r["root"]),  # type: ignore[call-overload]
                       bytes(r["cosigner"]), int(r["timestamp"]), str(r["line"]))  # type: ignore[call-overload]


class CosignatureStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def add(self, cosignature: Cosignature, now: int) -> bool:
        """Store a verified cosignature; False if one of that cosigner over that checkpoint is held already
        (the first is kept: a cosignature is evidence, never overwritten)."""
        c = cosignature
        cursor = self.db.execute(
            """INSERT OR IGNORE INTO cosignatures (checkpoint, author, size, root, cosigner, timestamp, line, stored_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [c.checkpoint, c.author, c.size, c.root, c.cosigner, c.timestamp, c.line, now],
        )
        return bool(cursor.rowcount)

    def of_checkpoint(self, checkpoint: bytes) -> list[Cosignature]:
        """Every cosignature held over one checkpoint statement, by cosigner id."""
        rows = self.db.query("SELECT * FROM cosignatures WHERE checkpoint = ? ORDER BY cosigner", [checkpoint])
        return [_row(r) for r in rows]

    def latest_by(self, author: bytes, cosigner: bytes) -> Cosignature | None:
        """``cosigner``'s cosignature over ``author``'s largest checkpoint it cosigned."""
        rows = list(self.db.query(
            "SELECT * FROM cosignatures WHERE author = ? AND cosigner = ? ORDER BY size DESC LIMIT 1", [author, cosigner]))
        return _row(rows[0]) if rows else None
