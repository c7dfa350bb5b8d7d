"""The skill vocabulary as a small SQLite database held in memory (issue 11, memory).

The vocabulary (node/formats/skills_vocab.py) maps ~95,000 normalised labels to ~13,500 concepts.
As Python dicts of strings and ``Concept`` objects that cost ~55 MB of a node's memory once loaded;
as SQLite pages it is ~6 MB, and a label is one primary-key lookup. The database is built once from
the vocabulary data (``build``), shipped gzipped as package data, and opened from those bytes with
``sqlite3.Connection.deserialize``: nothing is written to disk, nothing is shared between processes.

Tables: ``concepts (id, key, label, uri)`` and ``labels (norm PRIMARY KEY, concept)`` (WITHOUT ROWID,
so a lookup reads one b-tree), and ``meta (name, value)`` holding the format version.
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

FORMAT = "orgnode-skills-vocabulary/1"


class VocabularyDb:
    """A read-only vocabulary database in memory."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    @classmethod
    def from_bytes(cls, data: bytes) -> VocabularyDb:
        """Open a database image made by ``build``; a wrong or damaged image is a ``ValueError``."""
        conn = sqlite3.connect(":memory:", check_same_thread=False)  # read only after this: safe from any thread
        try:
            conn.deserialize(data)
            rows = conn.execute("SELECT value FROM meta WHERE name = 'format'").fetchall()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise ValueError(f"not a skill vocabulary database: {exc}") from exc
        if rows != [(FORMAT,)]:
            conn.close()
            raise ValueError(f"skill vocabulary database has format {rows!r}, expected {FORMAT!r}")
        conn.execute("PRAGMA query_only = ON")
        return cls(conn)

    def lookup(self, norm: str) -> tuple[str, str, str | None] | None:
        """(key, label, uri) of the concept a normalised label maps to, or None."""
        row = self.conn.execute(
            "SELECT c.key, c.label, c.uri FROM labels l JOIN concepts c ON c.id = l.concept WHERE l.norm = ?", [norm]
        ).fetchone()
        return (str(row[0]), str(row[1]), row[2]) if row is not None else None

    def norms(self) -> Iterator[str]:
        """Every normalised label, in sorted (binary) order."""
        for (norm,) in self.conn.execute("SELECT norm FROM labels ORDER BY norm"):
            yield str(norm)

    def norm_keys(self) -> Iterator[tuple[str, str]]:
        """Every (norm, concept key), in sorted (binary) order of norm: one query, not one per label."""
        for norm, key in self.conn.execute(
                "SELECT l.norm, c.key FROM labels l JOIN concepts c ON c.id = l.concept ORDER BY l.norm"):
            yield str(norm), str(key)

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM labels").fetchone()[0])


def build(labels: Iterable[tuple[str, str, str, str | None]]) -> bytes:
    """The database image for ``(norm, key, label, uri)`` rows (one per normalised label; a concept
    may have many labels). Deterministic for the same rows: sorted, then VACUUMed."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vocabulary.sqlite"
        conn = sqlite3.connect(path)
        try:
            conn.execute("PRAGMA page_size = 4096")
            conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            conn.execute("CREATE TABLE concepts (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, label TEXT NOT NULL, uri TEXT)")
            conn.execute("CREATE TABLE labels (norm TEXT PRIMARY KEY, concept INTEGER NOT NULL) WITHOUT ROWID")
            conn.execute("INSERT INTO meta VALUES ('format', ?)", [FORMAT])
            rows = sorted(labels)
            concepts = sorted({(key, label, uri) for _, key, label, uri in rows})
            ids = {key: i for i, (key, _, _) in enumerate(concepts)}
            conn.executemany("INSERT INTO concepts VALUES (?, ?, ?, ?)", [(ids[k], k, lab, uri) for k, lab, uri in concepts])
            conn.executemany("INSERT INTO labels VALUES (?, ?)", [(norm, ids[key]) for norm, key, _, _ in rows])
            conn.commit()
            conn.execute("VACUUM")
        finally:
            conn.close()
        return path.read_bytes()
