"""The match index (issue 11 item 1): skill concept key -> candidate, and consents by the batch.

A match reads the skill index from memory (node/core/skill_bitmaps.py), built from ``candidate_skills``
(migration 020) a page at a time and kept current from ``candidate_changes`` (migration 026), instead
of loading every candidate and querying its consents one by one.
The keys come from the node's skills vocabulary (``protocol.matching.Vocabulary.keys``), so the
index records the vocabulary's fingerprint and is rebuilt when it changes. A mixin of
``TalentStore``: adding, correcting and erasing a candidate update the index in the same transaction.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable

import sqlite_utils

from storage.db import without_fsync
from storage.talent_rows import CONSENT_COLUMNS, ConsentRow, consent_of_tuple


class MatchIndex:
    db: sqlite_utils.Database

    def match_bookkeeping(self) -> contextlib.AbstractContextManager[None]:
        """A transaction of match bookkeeping (quota counts, offers made, results received) without an
        fsync of its own (``storage.db.without_fsync``): losing the last of these to a power cut costs
        an asker a query it asks again; an fsync each cost a match more than matching itself."""
        return without_fsync(self.db)

    def consents_of(self, candidate_ids: list[bytes]) -> dict[bytes, list[ConsentRow]]:
        """The consents of several candidates in one query (the match reads a batch at a time)."""
        out: dict[bytes, list[ConsentRow]] = {cid: [] for cid in candidate_ids}
        for start in range(0, len(candidate_ids), 500):
            part = candidate_ids[start:start + 500]
            marks = ", ".join("?" * len(part))
            for r in self.db.execute(f"SELECT {CONSENT_COLUMNS} FROM consents WHERE candidate_id IN ({marks}) "  # noqa: S608
                                     "ORDER BY collected_at", part).fetchall():
                row = consent_of_tuple(r)
                out[row.candidate_id].append(row)
        return out

    def index_skills(self, candidate_id: bytes, created_at: int, skill_keys: Iterable[str], new: bool = False) -> None:
        """Replace the candidate's rows in the skill index (concept key -> candidate); a ``new``
        candidate has none to replace."""
        if not new:
            self.db.execute("DELETE FROM candidate_skills WHERE candidate_id = ?", [candidate_id])
        self.db.conn.executemany("INSERT OR IGNORE INTO candidate_skills (skill_key, candidate_id, created_at) VALUES (?, ?, ?)",
                            [(key, candidate_id, created_at) for key in skill_keys])

    def skill_index_vocabulary(self) -> str | None:
        """The fingerprint of the vocabulary the skill index was built with (None: never built)."""
        rows = list(self.db.query("SELECT vocabulary FROM skill_index_state WHERE id = 1"))
        return str(rows[0]["vocabulary"]) if rows else None

    def rebuild_skill_index(self, vocabulary: str, keys_of: Callable[[list[str]], Iterable[str]]) -> int:
        """Index every held candidate again with ``keys_of`` (their skills -> concept keys), recording
        the vocabulary fingerprint; the caller runs it in one transaction. Returns the candidates indexed."""
        self.db.execute("DELETE FROM candidate_skills")
        rows = self.db.execute("SELECT candidate_id, created_at, skills FROM candidates WHERE erased_at IS NULL").fetchall()
        self.db.conn.executemany("INSERT OR IGNORE INTO candidate_skills (skill_key, candidate_id, created_at) VALUES (?, ?, ?)",
                            [(key, cid, created_at) for cid, created_at, skills in rows for key in keys_of(json.loads(skills))])
        self.db.execute("INSERT INTO skill_index_state (id, vocabulary) VALUES (1, ?) "
                        "ON CONFLICT (id) DO UPDATE SET vocabulary = excluded.vocabulary", [vocabulary])
        return len(rows)

    def candidate_changes_head(self) -> int:
        """The last change recorded in ``candidate_changes`` (0: none): an index built now is current up to it."""
        rows = self.db.execute("SELECT max(seq) FROM candidate_changes").fetchall()
        return int(rows[0][0] or 0)

    def candidate_changes(self, after: int, limit: int) -> list[tuple[int, bytes]]:
        """Up to ``limit`` (seq, candidate_id) changes recorded after ``after``, oldest first (migration 026)."""
        rows = self.db.execute("SELECT seq, candidate_id FROM candidate_changes WHERE seq > ? ORDER BY seq LIMIT ?",
                               [after, limit]).fetchall()
        return [(int(seq), bytes(cid)) for seq, cid in rows]

    def forget_candidate_changes(self, upto: int) -> None:
        """Delete the change records the in-memory index has applied (bookkeeping: no fsync of its own)."""
        with without_fsync(self.db):
            self.db.execute("DELETE FROM candidate_changes WHERE seq <= ?", [upto])

    def index_page(self, after: tuple[int, int] | None, limit: int) -> list[tuple[bytes, int, int, tuple[str, ...]]]:
        """Candidates not erased in (created_at, rowid) order after ``after`` (the order of the old scan:
        oldest first, then first recorded), at most ``limit``, each as (candidate_id, created_at, rowid,
        skill keys): one step of building the in-memory index (index ``candidates_created``)."""
        at, rowid = after if after is not None else (-(2**62), 0)
        rows = self.db.execute(
            "SELECT candidate_id, created_at, rowid FROM candidates WHERE erased_at IS NULL AND created_at >= ? "
            "AND (created_at > ? OR rowid > ?) ORDER BY created_at, rowid LIMIT ?", [at, at, rowid, limit]).fetchall()
        keys = self._keys_of([bytes(r[0]) for r in rows])
        return [(bytes(c), int(a), int(r), keys.get(bytes(c), ())) for c, a, r in rows]

    def index_entries(self, candidate_ids: list[bytes]) -> dict[bytes, tuple[int, int, tuple[str, ...]]]:
        """The current (created_at, rowid, skill keys) of those candidates that are held and not erased."""
        out: dict[bytes, tuple[int, int, tuple[str, ...]]] = {}
        for start in range(0, len(candidate_ids), 500):
            part = candidate_ids[start:start + 500]
            marks = ", ".join("?" * len(part))
            rows = self.db.execute(f"SELECT candidate_id, created_at, rowid FROM candidates WHERE erased_at IS NULL "  # noqa: S608
                                   f"AND candidate_id IN ({marks})", part).fetchall()
            keys = self._keys_of([bytes(r[0]) for r in rows])
            out.update((bytes(c), (int(a), int(r), keys.get(bytes(c), ()))) for c, a, r in rows)
        return out

    def _keys_of(self, candidate_ids: list[bytes]) -> dict[bytes, tuple[str, ...]]:
        out: dict[bytes, list[str]] = {}
        for start in range(0, len(candidate_ids), 500):
            part = candidate_ids[start:start + 500]
            marks = ", ".join("?" * len(part))
            for cid, key in self.db.execute(f"SELECT candidate_id, skill_key FROM candidate_skills "  # noqa: S608
                                            f"WHERE candidate_id IN ({marks})", part).fetchall():
                out.setdefault(bytes(cid), []).append(str(key))
        return {cid: tuple(keys) for cid, keys in out.items()}

    def scan_floor(self) -> int:
        """One plain scan reading every held candidate's skills (the work of any unindexed match, with
        no per-candidate query at all): the floor ``bench.match`` reports next to the indexed match."""
        rows = self.db.execute("SELECT count(*) FROM candidates WHERE erased_at IS NULL AND skills LIKE '%\"%'").fetchall()
        return int(rows[0][0])
