"""Which statements this node has re-shared (``reshared``): one re-share per root statement, however
many ways it arrives, so a statement travelling round a cycle of partners is passed on once."""

from __future__ import annotations

import sqlite_utils


class ReshareStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def has(self, root_id: bytes) -> bool:
        """Whether ``root_id`` was re-shared by this node already."""
        return bool(list(self.db.query("SELECT 1 FROM reshared WHERE root_id = ?", [root_id])))

    def reshare_of(self, root_id: bytes) -> tuple[bytes, int] | None:
        """This node's re-share of ``root_id`` (its statement id) and when it was made, if it made one."""
        rows = list(self.db.query("SELECT reshare_id, at FROM reshared WHERE root_id = ? AND reshare_id IS NOT NULL", [root_id]))
        return (bytes(rows[0]["reshare_id"]), int(rows[0]["at"])) if rows else None

    def record(self, root_id: bytes, reshare_id: bytes, now: int) -> None:
        """Record the re-share ``reshare_id`` of ``root_id`` (call inside the transaction that appends it)."""
        self.db.execute("INSERT INTO reshared (root_id, reshare_id, at) VALUES (?, ?, ?)", [root_id, reshare_id, now])

    def record_offer(self, reshare_id: bytes, offerer: bytes, root_id: bytes, distance: int, now: int) -> None:
        """A partner's header-only ``reshare_id`` came with an offer of ``root_id`` (docs/protocol.md 14.2)."""
        self.db.execute("INSERT OR IGNORE INTO reshare_offers (reshare_id, offerer, root_id, distance, at) VALUES (?, ?, ?, ?, ?)",
                        [reshare_id, offerer, root_id, distance, now])

    def offerers_of(self, root_id: bytes) -> list[bytes]:
        """The partners that offered a re-share of ``root_id``, nearest first (the offers are their claims)."""
        rows = self.db.query("SELECT offerer FROM reshare_offers WHERE root_id = ? ORDER BY distance, at", [root_id])
        return [bytes(r["offerer"]) for r in rows]
