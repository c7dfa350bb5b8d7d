"""Match bookkeeping in SQLite: the holder's offers (pseudonym → candidate, per query and asker) and
its per-asker daily quota, and the asker's results; a mixin of ``TalentStore`` (storage/talent.py)
kept apart so each module stays one role and a readable size.
"""

from __future__ import annotations

import json

import sqlite_utils

from storage.talent_rows import MatchResultRow, OfferRow, _offer, _result


class MatchRecords:
    db: sqlite_utils.Database

    def add_offer(self, query_id: bytes, pseudonym: bytes, candidate_id: bytes, job_id: bytes, asker: bytes,
                  job_statement: bytes, now: int) -> None:
        self.db.execute(
            """INSERT OR REPLACE INTO match_offers (query_id, pseudonym, candidate_id, job_id, asker, job_statement, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [query_id, pseudonym, candidate_id, job_id, asker, job_statement, now],
        )

    def query_reused(self, query_id: bytes, asker: bytes, job_statement: bytes) -> bool:
        """True if ``asker`` already used ``query_id`` for another job (a linking attempt)."""
        return bool(list(self.db.query(
            "SELECT 1 FROM match_offers WHERE query_id = ? AND (asker != ? OR job_statement != ?) LIMIT 1",
            [query_id, asker, job_statement])))

    def match_usage(self, asker: bytes, day: int) -> tuple[set[bytes], set[str]]:
        """The query ids and requirement labels ``asker`` had answered on ``day`` (UTC days since the epoch)."""
        rows = list(self.db.query("SELECT kind, value FROM match_quota WHERE asker = ? AND day = ?", [asker, day]))
        queries = {bytes(r["value"]) for r in rows if r["kind"] == "query"}
        labels = {bytes(r["value"]).decode() for r in rows if r["kind"] == "label"}
        return queries, labels

    def record_match_usage(self, asker: bytes, day: int, query_id: bytes, labels: list[str]) -> None:
        """Count one answered query and its labels for ``asker`` on ``day``; earlier days are dropped."""
        self.db.execute("DELETE FROM match_quota WHERE day < ?", [day - 1])
        values = [(asker, day, "query", query_id)] + [(asker, day, "label", label.encode()) for label in labels]
        for value in values:
            self.db.execute("INSERT OR IGNORE INTO match_quota (asker, day, kind, value) VALUES (?, ?, ?, ?)", list(value))

    def add_offers(self, rows: list[tuple[bytes, bytes, bytes, bytes, bytes, bytes, int]]) -> None:
        """Several offers at once: (query_id, pseudonym, candidate_id, job_id, asker, job_statement, now)."""
        self.db.conn.executemany(
            """INSERT OR REPLACE INTO match_offers (query_id, pseudonym, candidate_id, job_id, asker, job_statement, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""", rows)

    def prune_offers(self, older_than: int) -> None:
        self.db.execute("DELETE FROM match_offers WHERE created_at < ?", [older_than])

    def offer(self, query_id: bytes, pseudonym: bytes) -> OfferRow | None:
        rows = list(self.db.query("SELECT * FROM match_offers WHERE query_id = ? AND pseudonym = ?", [query_id, pseudonym]))
        return _offer(rows[0]) if rows else None

    def add_result(self, query_id: bytes, job_id: bytes, holder: bytes, pseudonym: bytes, score: int,
                   matched: tuple[str, ...], now: int) -> None:
        self.add_results([(query_id, job_id, holder, pseudonym, score, matched, now)])

    def add_results(self, rows: list[tuple[bytes, bytes, bytes, bytes, int, tuple[str, ...], int]]) -> None:
        """Several (query_id, job_id, holder, pseudonym, score, matched, at) results in one ``executemany``."""
        self.db.conn.executemany(
            """INSERT OR REPLACE INTO match_results (query_id, job_id, holder, pseudonym, score, matched, at)
               VALUES (?, ?, ?, ?, ?, ?, ?)""",
            [(q, j, h, p, score, json.dumps(list(matched)), at) for q, j, h, p, score, matched, at in rows],
        )

    def result_by_pseudonym(self, job_id: bytes, pseudonym: bytes) -> MatchResultRow | None:
        rows = list(self.db.query("SELECT * FROM match_results WHERE job_id = ? AND pseudonym = ? ORDER BY at DESC LIMIT 1",
                                  [job_id, pseudonym]))
        return _result(rows[0]) if rows else None

    def match_holders(self, job_id: bytes) -> list[tuple[bytes, int]]:
        """The organizations that answered a match for ``job_id`` with an offer, each with its latest answer (ms)."""
        rows = self.db.query("SELECT holder, MAX(at) AS at FROM match_results WHERE job_id = ? GROUP BY holder ORDER BY at",
                             [job_id])
        return [(bytes(r["holder"]), int(r["at"])) for r in rows]
