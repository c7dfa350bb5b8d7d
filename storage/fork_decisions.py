"""Admins' decisions to clear a peer's fork evidence (issue 10 item 2; docs/protocol.md section 13.4.2).

Clearing never deletes evidence: the ``forks`` rows of the author move to ``fork_archive`` with the
decision's number, and the decision itself (who, when, why, the evidence's seqs and ids, the seq after
which the author's statements are accepted again) goes into ``fork_decisions``, which SQLite triggers
keep append-only. ``resume_after`` is what ingest reads: positions up to it are settled by the admin
(we keep the branch we hold), and the author's statement right after it is accepted whatever its
``prev`` (the recorded discontinuity), so its log can continue.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import sqlite_utils

from storage.statement_rows import opt_bytes


@dataclass(frozen=True, slots=True)
class ForkDecision:
    """One admin's decision to clear an author's fork evidence."""

    decision: int
    author: bytes
    decided_at: int
    admin: str
    reason: str
    resume_after: int
    evidence: tuple[tuple[int, str, str | None], ...]  # (seq, id hex, conflicts_with hex) of each archived row


class ForkDecisions:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def highest_seen(self, author: bytes) -> int:
        """The highest seq of ``author`` we saw on either branch: held in the log, kept as evidence, held out of order."""
        row = next(self.db.query(
            """SELECT MAX(s) AS s FROM (SELECT MAX(seq) AS s FROM entries WHERE author = :a
               UNION ALL SELECT MAX(seq) FROM forks WHERE author = :a UNION ALL SELECT MAX(seq) FROM held WHERE author = :a)""",
            {"a": author}))
        return int(row["s"] or 0)

    def clear(self, author: bytes, *, admin: str, reason: str, now: int) -> ForkDecision | None:
        """Archive ``author``'s fork evidence and record the decision; None if it has none."""
        rows = list(self.db.query("SELECT * FROM forks WHERE author = ? ORDER BY seq, detected_at", [author]))
        if not rows:
            return None
        resume_after = self.highest_seen(author)
        evidence = tuple((int(r["seq"]), bytes(r["id"]).hex(), (opt_bytes(r["conflicts_with"]) or b"").hex() or None) for r in rows)
        with self.db.atomic():
            cursor = self.db.execute(
                """INSERT INTO fork_decisions (author, decided_at, admin, reason, resume_after, evidence)
                   VALUES (?, ?, ?, ?, ?, ?)""", [author, now, admin, reason, resume_after, json.dumps(evidence)])
            decision = int(cursor.lastrowid or 0)
            self.db.execute(
                """INSERT INTO fork_archive (id, author, seq, header, signature, conflicts_with, received_from, detected_at, decision)
                   SELECT id, author, seq, header, signature, conflicts_with, received_from, detected_at, ? FROM forks WHERE author = ?""",
                [decision, author])
            self.db.execute("DELETE FROM forks WHERE author = ?", [author])
        return ForkDecision(decision, author, now, admin, reason, resume_after, evidence)

    def resume_after(self, author: bytes) -> int | None:
        """The seq after which ``author``'s log continues by an admin's decision (None: never cleared)."""
        row = next(self.db.query("SELECT MAX(resume_after) AS r FROM fork_decisions WHERE author = ?", [author]))
        return None if row["r"] is None else int(row["r"])

    def history(self, author: bytes | None = None) -> list[ForkDecision]:
        rows = self.db.query("SELECT * FROM fork_decisions WHERE :a IS NULL OR author = :a ORDER BY decision", {"a": author})
        return [ForkDecision(int(r["decision"]), bytes(r["author"]), int(r["decided_at"]), r["admin"], r["reason"],
                             int(r["resume_after"]), tuple((int(e[0]), str(e[1]), e[2]) for e in json.loads(r["evidence"])))
                for r in rows]

    def archived(self, author: bytes) -> int:
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM fork_archive WHERE author = ?", [author]))["n"])
