"""Key histories: of the authors whose logs this node replicates (``key_periods``, kept by the log
store as statements arrive), and of authors it does not replicate, as a trusted partner vouched for
them (``foreign_keys_seen``): the longest one is kept, so a rotated-away key never comes back."""

from __future__ import annotations

import sqlite_utils

from protocol.log import KeyHistory, KeyPeriod


def save_vouched_history(db: sqlite_utils.Database, history: KeyHistory, vouched_by: bytes) -> None:
    """Keep the longest key history a partner vouched for an author we do not replicate (a history
    with fewer rotations than the one held never replaces it, so a rotated-away key stays closed)."""
    held = next(db.query("SELECT COUNT(*) AS n FROM foreign_keys_seen WHERE author = ?", [history.author]))["n"]
    if held >= len(history.periods):
        return
    db.execute("DELETE FROM foreign_keys_seen WHERE author = ?", [history.author])
    for period in history.periods:
        db.execute(
            "INSERT INTO foreign_keys_seen (author, key, first_seq, last_seq, vouched_by) VALUES (?, ?, ?, ?, ?)",
            [history.author, period.key, period.first_seq, period.last_seq, vouched_by],
        )


def vouched_history(db: sqlite_utils.Database, author: bytes) -> KeyHistory | None:
    rows = list(db.query("SELECT key, first_seq, last_seq FROM foreign_keys_seen WHERE author = ? ORDER BY first_seq", [author]))
    return KeyHistory(author, tuple(KeyPeriod(bytes(r["key"]), r["first_seq"], r["last_seq"]) for r in rows)) if rows else None


def replicated_history(db: sqlite_utils.Database, author: bytes) -> KeyHistory | None:
    """The key history of an author whose log this node holds (None: none of its log is held)."""
    rows = list(db.query("SELECT key, first_seq, last_seq FROM key_periods WHERE author = ? ORDER BY first_seq", [author]))
    return KeyHistory(author, tuple(KeyPeriod(bytes(r["key"]), r["first_seq"], r["last_seq"]) for r in rows)) if rows else None


def save_replicated_history(db: sqlite_utils.Database, history: KeyHistory) -> None:
    """Replace the key history held for a replicated author (at genesis, a rotation, or from a verified card)."""
    db.execute("DELETE FROM key_periods WHERE author = ?", [history.author])
    for period in history.periods:
        db.execute(
            "INSERT INTO key_periods (author, key, first_seq, last_seq) VALUES (?, ?, ?, ?)",
            [history.author, period.key, period.first_seq, period.last_seq],
        )
