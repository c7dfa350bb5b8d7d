"""Consistent copies of a node's database and their integrity check (issue 10 item 2).

SQLite's online backup API copies a live database page by page under its own locking, so the copy
is a consistent snapshot even while the node writes (WAL included). Only storage/ touches SQLite.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import sqlite_utils

from storage.errors import StorageFull, full_from_os_error, is_sqlite_full


class SnapshotFailed(Exception):
    """The snapshot file could not be created or written (not a full disk: that is ``StorageFull``)."""


def copy_database(db: sqlite_utils.Database, dest: Path) -> None:
    """Write a consistent snapshot of ``db`` to the new file ``dest`` (a rollback-journal DB, no WAL)."""
    try:
        target = sqlite3.connect(str(dest))
    except sqlite3.OperationalError as exc:  # e.g. its folder is missing or not writable by this process
        raise SnapshotFailed(str(exc)) from exc
    try:
        db.conn.backup(target)
        target.execute("PRAGMA journal_mode=DELETE")
    except (sqlite3.OperationalError, OSError) as exc:
        if is_sqlite_full(exc) or (isinstance(exc, OSError) and full_from_os_error(exc, "")):
            raise StorageFull("a backup copy", dest) from exc
        raise SnapshotFailed(str(exc)) from exc
    finally:
        target.close()


def copy_database_file(source: Path, dest: Path) -> None:
    """Snapshot the database file ``source`` (no node running) through the same online backup API."""
    conn = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=5)
    try:
        copy_database(sqlite_utils.Database(conn), dest)
    finally:
        conn.close()


def integrity_problems(path: Path) -> list[str]:
    """``PRAGMA integrity_check`` of the file at ``path``: empty when it is sound, else SQLite's findings."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        return [str(exc)]
    try:
        rows = [str(r[0]) for r in conn.execute("PRAGMA integrity_check").fetchall()]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    finally:
        conn.close()
    return [] if rows == ["ok"] else rows
