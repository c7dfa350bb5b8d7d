"""Two connections to one node database take the write lock in turn (issue 11: a CSV import's batch
is written on a second connection in a worker thread while the event loop's connection goes on).

Every transaction of ``storage.db``'s connections begins IMMEDIATE: a transaction that reads and then
writes holds the write lock from its start, so another connection's commit cannot land between its
read and its write (with SQLite's default deferred BEGIN that write fails with SQLITE_BUSY_SNAPSHOT:
the control below shows it does). ``connect_writer`` opens the second connection with the same
settings, usable from another thread.
"""

from __future__ import annotations

import sqlite3
import threading

import pytest

from storage.db import connect, connect_writer

BUSY_SNAPSHOT = 517  # SQLITE_BUSY_SNAPSHOT


def test_a_read_then_write_transaction_holds_the_write_lock_from_its_start(tmp_path):
    path = tmp_path / "orgnode.db"
    loop_db = connect(path)
    loop_db.execute("CREATE TABLE t (n INTEGER)")
    writer = connect_writer(path, loop_db)
    writer.execute("PRAGMA busy_timeout=0")  # fail at once instead of waiting 5 s for the lock
    with loop_db.atomic():
        seen = loop_db.execute("SELECT count(*) FROM t").fetchone()[0]
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            writer.execute("INSERT INTO t VALUES (1)")  # the other connection waits for its turn
        loop_db.execute("INSERT INTO t VALUES (?)", [seen + 10])  # the write after the read goes through
    writer.execute("INSERT INTO t VALUES (1)")  # and once committed, the other connection writes
    assert [r[0] for r in loop_db.execute("SELECT n FROM t ORDER BY rowid")] == [10, 1]


def test_control_a_deferred_transaction_fails_when_another_connection_commits_between_its_read_and_write(tmp_path):
    path = tmp_path / "plain.db"
    a = sqlite3.connect(str(path), isolation_level=None)
    a.execute("PRAGMA journal_mode=WAL")
    a.execute("CREATE TABLE t (n INTEGER)")
    b = sqlite3.connect(str(path), isolation_level=None)
    a.execute("BEGIN")  # SQLite's default: deferred
    a.execute("SELECT count(*) FROM t").fetchone()
    b.execute("INSERT INTO t VALUES (1)")  # commits between a's read and a's write
    with pytest.raises(sqlite3.OperationalError) as refused:
        a.execute("INSERT INTO t VALUES (2)")
    assert refused.value.sqlite_errorcode == BUSY_SNAPSHOT
    a.execute("ROLLBACK")


def test_the_writer_connection_has_the_nodes_settings_and_works_from_another_thread(tmp_path):
    path = tmp_path / "orgnode.db"
    loop_db = connect(path)
    writer = connect_writer(path, loop_db)
    pragmas = ("journal_mode", "synchronous", "foreign_keys", "secure_delete", "busy_timeout")

    def settings(db):  # type: ignore[no-untyped-def]
        return [db.execute(f"PRAGMA {p}").fetchone()[0] for p in pragmas]

    assert settings(writer) == settings(loop_db) == ["wal", 2, 1, 1, 5000]
    done: list[object] = []

    def in_thread() -> None:
        with writer.atomic():
            writer.execute("CREATE TABLE made_in_thread (n INTEGER)")
        done.append(writer.execute("SELECT count(*) FROM made_in_thread").fetchone()[0])

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join(30)
    assert done == [0] and loop_db["made_in_thread"].exists()
