"""sec10 finding (low): the archived fork evidence is append-only by convention only.

docs/security.md and node/core/forks.py say cleared evidence is archived and "never deleted";
migration 017 puts UPDATE/DELETE triggers on ``fork_decisions`` but none on ``fork_archive``, so any
code path (a future purge, a bug in peer removal) can rewrite or drop the evidence a decision points
to without an error, while the decision row itself cannot change. Expected: the same triggers on
``fork_archive``.
"""

from __future__ import annotations

import sqlite3

import pytest

from storage.db import connect, migrate


def _db(tmp_path):
    db = connect(tmp_path / "x.db")
    migrate(db)
    db.execute("""INSERT INTO fork_decisions (author, decided_at, admin, reason, resume_after, evidence)
                  VALUES (x'00', 1, 'a', 'r', 1, '[]')""")
    db.execute("""INSERT INTO fork_archive (id, author, seq, header, signature, conflicts_with, received_from, detected_at,
                  decision) VALUES (x'01', x'00', 1, x'02', x'03', NULL, NULL, 1, 1)""")
    return db


def test_control_the_decision_itself_cannot_be_deleted(tmp_path):
    db = _db(tmp_path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM fork_decisions")


def test_archived_fork_evidence_cannot_be_deleted_or_rewritten(tmp_path):
    db = _db(tmp_path)
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("DELETE FROM fork_archive")


def test_archived_fork_evidence_cannot_be_updated_and_new_rows_still_go_in(tmp_path):
    db = _db(tmp_path)
    with pytest.raises(sqlite3.DatabaseError, match="fork_archive is append-only"):
        db.execute("UPDATE fork_archive SET seq = 2")
    # the clear-fork flow only INSERTs (tests/node/test_fork_clear.py runs it on real nodes): still allowed
    db.execute("""INSERT INTO fork_archive (id, author, seq, header, signature, conflicts_with, received_from, detected_at,
                  decision) VALUES (x'04', x'00', 2, x'02', x'03', NULL, NULL, 1, 1)""")
    assert db.execute("SELECT COUNT(*) FROM fork_archive").fetchone()[0] == 2
