"""A page of a log read to serve a pull: each statement with its audience, in one query.

Serving a pull decides per private statement whether the asker may read its body, which needs the
statement's audience; reading it with the statements (not one ``SELECT audience`` per statement,
issue 11 item 4: 27% of ``serve_pull``) keeps a page to one indexed range read.
"""

from __future__ import annotations

import sqlite_utils

from protocol.statement import Statement
from storage.statement_rows import row_to_statement


def log_page(db: sqlite_utils.Database, author: bytes, after_seq: int, limit: int) -> tuple[list[Statement], list[str | None]]:
    """The author's statements after ``after_seq`` in seq order (at most ``limit``), and each one's
    stored audience, position for position (None: public, or a statement stored without one)."""
    rows = list(db.query("SELECT * FROM entries WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?", [author, after_seq, limit]))
    return [row_to_statement(row) for row in rows], [row["audience"] for row in rows]
