"""What relaying needs to remember: the learnt ways back to organizations reached through the trust
path (``relay_routes``), the boxes already carried (``relay_seen``), and which job a box's route
names (``jobs``). Protocol rules (which route wins, how long one lives) stay in node/core/relay.py."""

from __future__ import annotations

import sqlite_utils


class RelayStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def job_path(self, job_id: bytes, author: bytes) -> bytes | None:
        """The peer ``author``'s job ``job_id`` came through (None: a direct partner's, or unknown)."""
        rows = list(self.db.query("SELECT via FROM jobs WHERE job_id = ? AND author = ?", [job_id, author]))
        return bytes(rows[0]["via"]) if rows and rows[0]["via"] is not None else None

    def knows_job(self, job_id: bytes) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM jobs WHERE job_id = ? LIMIT 1", [job_id])))

    def route(self, node_id: bytes, fresh_since: int, *, verified_only: bool = False) -> list[bytes]:
        """Learnt next hops towards ``node_id`` updated at or after ``fresh_since``."""
        rows = self.db.query("SELECT next_hop FROM relay_routes WHERE node_id = ? AND updated_at >= ? AND verified >= ?",
                             [node_id, fresh_since, 1 if verified_only else 0])
        return [bytes(r["next_hop"]) for r in rows]

    def forget_routes_before(self, node_id: bytes, cutoff: int) -> None:
        self.db.execute("DELETE FROM relay_routes WHERE node_id = ? AND updated_at < ?", [node_id, cutoff])

    def learn_verified(self, node_id: bytes, hop: bytes, now: int) -> None:
        """A verified route replaces any other and is refreshed."""
        self.db.execute(
            """INSERT INTO relay_routes (node_id, next_hop, updated_at, verified) VALUES (?, ?, ?, 1)
               ON CONFLICT (node_id) DO UPDATE SET next_hop = excluded.next_hop, updated_at = excluded.updated_at,
                 verified = 1""", [node_id, hop, now])

    def learn_unverified(self, node_id: bytes, hop: bytes, now: int) -> None:
        """An unverified route is kept only where none is known."""
        self.db.execute("INSERT OR IGNORE INTO relay_routes (node_id, next_hop, updated_at, verified) VALUES (?, ?, ?, 0)",
                        [node_id, hop, now])

    def seen(self, box: bytes, forget_before: int) -> bool:
        """Whether ``box`` (its hash) was carried already; boxes seen before ``forget_before`` are forgotten."""
        self.db.execute("DELETE FROM relay_seen WHERE at < ?", [forget_before])
        return bool(list(self.db.query("SELECT 1 FROM relay_seen WHERE box = ?", [box])))

    def mark_seen(self, box: bytes, now: int) -> None:
        self.db.execute("INSERT INTO relay_seen (box, at) VALUES (?, ?)", [box, now])
