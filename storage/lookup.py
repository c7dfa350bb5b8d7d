"""Finding an id from the prefix a user typed: which table and column hold each kind of id."""

from __future__ import annotations

import sqlite_utils

# The kinds of id a user may type, and where they live (table, column). Fixed names only: the
# query below formats them into SQL, so nothing a user types ever reaches it but the prefix.
ID_COLUMNS: dict[str, tuple[str, str]] = {
    "NODE_ID": ("peers", "node_id"),
    "JOB_ID": ("jobs", "job_id"),
    "CANDIDATE_ID": ("candidates", "candidate_id"),
    "REFERRAL_ID": ("referrals", "referral_id"),
    "REQUEST_ID": ("referral_requests", "request_id"),
    "PSEUDONYM": ("match_results", "pseudonym"),
}


def ids_with_prefix(db: sqlite_utils.Database, kind: str, hex_prefix: str, limit: int = 2) -> list[bytes]:
    """Up to ``limit`` distinct ids of ``kind`` whose lower-case hex starts with ``hex_prefix``
    (already validated as lower-case hex by the caller)."""
    table, column = ID_COLUMNS[kind]
    rows = db.query(f"SELECT DISTINCT {column} AS v FROM {table} WHERE lower(hex({column})) LIKE ? LIMIT ?",  # noqa: S608
                    [hex_prefix + "%", limit])
    return [bytes(r["v"]) for r in rows]
