"""A CSV import's batch of candidates in SQL (issue 11 item 2): the duplicate-email lookups of a
batch in one query, and its candidates, skill-index rows and consent rows with one ``executemany``
per table. A mixin of ``TalentStore``; the caller (node/core/candidate_import.py) holds the transaction.
"""

from __future__ import annotations

import json

import sqlite_utils

from storage.talent_rows import Candidate, ConsentRow

IMPORT_CACHE_KIB = 65_536  # the page cache while importing: the indexes of ~200,000 candidates
IMPORT_WAL_PAGES = 10_000  # WAL pages (~40 MB) before a checkpoint while importing


class _ListJson(dict[tuple[str, ...], str]):
    """Tuples of strings as the JSON lists the columns hold, each encoded once per batch (an import's
    rows repeat the same purposes, scopes, fields and often skills). Per batch, not process-wide: an
    erased candidate's skills must not stay in a cache."""

    def __missing__(self, items: tuple[str, ...]) -> str:
        self[items] = encoded = json.dumps(list(items))
        return encoded


class ImportBatches:
    db: sqlite_utils.Database

    def add_candidates(self, batch: list[tuple[Candidate, list[str]]]) -> None:
        """``add_candidate`` for a batch (an import's): one ``executemany`` per table."""
        as_json = _ListJson()
        self.db.conn.executemany(
            """INSERT INTO candidates (candidate_id, candidate_ref, name, email, phone, location, skills, medal, for_job, created_at,
                                       notes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(c.candidate_id, c.candidate_ref, c.name, c.email, c.phone, c.location, as_json[c.skills], c.medal,
              c.for_job, c.created_at, c.notes) for c, _ in batch])
        self.db.conn.executemany("INSERT OR IGNORE INTO candidate_skills (skill_key, candidate_id, created_at) VALUES (?, ?, ?)",
                                 [(key, c.candidate_id, c.created_at) for c, keys in batch for key in keys])

    def emails_taken(self, keys: list[str]) -> set[str]:
        """Which of these ``lower(email)`` keys a held candidate has (the ``candidates_email`` index), in one query a 500."""
        found: set[str] = set()
        for start in range(0, len(keys), 500):
            part = keys[start:start + 500]
            marks = ", ".join("?" * len(part))
            found.update(str(r["k"]) for r in self.db.query(
                f"SELECT lower(email) AS k FROM candidates WHERE lower(email) IN ({marks}) AND erased_at IS NULL", part))  # noqa: S608
        return found

    def add_consents(self, rows: list[ConsentRow]) -> None:
        """``add_consent`` for a batch (an import's): one ``executemany`` per table."""
        as_json = _ListJson()
        self.db.conn.executemany(
            """INSERT INTO consents (consent_id, candidate_id, statement_id, purposes, scope, fields, evidence, collected_at,
                                     expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [(c.consent_id, c.candidate_id, c.statement_id, as_json[c.purposes], as_json[c.scope],
              as_json[c.fields], c.evidence, c.collected_at, c.expires_at, c.state) for c in rows])
        self.db.conn.executemany("INSERT INTO consent_history (consent_id, state, at, note) VALUES (?, 'given', ?, '')",
                                 [(c.consent_id, c.collected_at) for c in rows])

    def tune_for_import(self, settings: tuple[int, int] | None = None) -> tuple[int, int]:
        """Set the connection's page cache and WAL checkpoint for an import (``settings`` None), or back
        to ``settings`` (what this returned then); returns the settings it replaced. At 100,000
        candidates a batch touches most pages of the random-keyed indexes (candidate ids and refs,
        consent and statement ids, skill keys): a page cache that holds them spares re-reading them
        for every batch, and a longer WAL before a checkpoint spares copying them into the file after
        every commit (docs/performance.md "import"). Set back after the import, so an idle node does
        not keep the import's memory."""
        before = (int(self.db.execute("PRAGMA cache_size").fetchone()[0]),
                  int(self.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0]))
        cache, pages = settings or (-IMPORT_CACHE_KIB, IMPORT_WAL_PAGES)
        self.db.execute(f"PRAGMA cache_size={int(cache)}")
        self.db.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        return before

    def checkpoint_after(self, pages: int) -> int:
        """Set this connection's WAL auto-checkpoint (0: never; the other connection checkpoints) and
        return the setting it replaced. While an import's writer connection commits batches, a
        commit on the loop's connection would otherwise copy the writer's whole WAL into the file on
        the event loop (node/core/candidate_import.py)."""
        before = int(self.db.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
        self.db.execute(f"PRAGMA wal_autocheckpoint={int(pages)}")
        return before
