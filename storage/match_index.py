"""The match index (issue 11 item 1): skill concept key -> candidate, and consents by the batch.

A match reads ``candidate_skills`` (migration 020) one range of the candidate id space at a time,
best candidates first, instead of loading every candidate and querying its consents one by one.
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
from storage.talent_rows import ConsentRow, _consent


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
            for r in self.db.query(f"SELECT * FROM consents WHERE candidate_id IN ({marks}) ORDER BY collected_at", part):  # noqa: S608
                row = _consent(r)
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

    def candidates_estimate(self) -> int:
        """About how many candidates were ever recorded (the largest rowid: O(1)), to size match chunks."""
        rows = self.db.execute("SELECT max(rowid) FROM candidates").fetchall()
        return int(rows[0][0] or 0)

    def ranked_by_skills(self, weights: dict[str, int], low: bytes, high: bytes | None,
                         limit: int) -> list[tuple[int, int, bytes, frozenset[str]]]:
        """Candidates with ``low <= candidate_id < high`` holding at least one of the ``weights`` keys, best
        first: (sum of the weights of the keys they hold, created_at, candidate_id, those keys), ordered
        by weight descending, then created_at, then id; at most ``limit``. Erased candidates are not
        in the index. One range of the id space is one step of a match (node/core/talent.py)."""
        if not weights:
            return []
        values = ", ".join("(?, ?)" for _ in weights)
        params: list[object] = [v for item in weights.items() for v in item]
        upper = "" if high is None else "AND s.candidate_id < ?"
        params += [low] + ([high] if high is not None else []) + [limit]
        sql = (f"WITH wanted (skill_key, weight) AS (VALUES {values}) "  # noqa: S608 - placeholders only
               "SELECT sum(wanted.weight), min(s.created_at), s.candidate_id, group_concat(s.skill_key, char(31)) "
               "FROM wanted JOIN candidate_skills s ON s.skill_key = wanted.skill_key "
               f"WHERE s.candidate_id >= ? {upper} "
               "GROUP BY s.candidate_id ORDER BY 1 DESC, 2, 3 LIMIT ?")
        return [(int(w), int(at), bytes(cid), frozenset(str(keys).split("\x1f")))
                for w, at, cid, keys in self.db.execute(sql, params).fetchall()]

    def scan_floor(self) -> int:
        """One plain scan reading every held candidate's skills (the work of any unindexed match, with
        no per-candidate query at all): the floor ``bench.match`` reports next to the indexed match."""
        rows = self.db.execute("SELECT count(*) FROM candidates WHERE erased_at IS NULL AND skills LIKE '%\"%'").fetchall()
        return int(rows[0][0])
