"""Opening the node database and applying its recorded, transactional migrations.

Durability (THREATS.md "Settings"): WAL so readers (the CLI) never block the node; ``synchronous=FULL``
because the same file holds the outbox, trust list, consent and the log, where a write acknowledged
to a peer or an admin must survive power loss (NORMAL could lose the last commits); ``foreign_keys``
on; ``busy_timeout`` so the CLI and the node can share the file. Each migration runs inside one
transaction together with its row in ``migrations``; a failed migration leaves nothing behind.

Upgrades (docs/deploy.md "Upgrading"): opening a database applies the migrations it lacks, in order,
each under ``BEGIN IMMEDIATE`` (so two processes opening one file at once never both apply it: the
second waits, sees the row and skips), so a process killed mid-way leaves the schema at the last
committed migration, never between two. A database that records a migration this code does not know
was written by a newer orgnode: it is refused before anything is written (``SchemaTooNew``), never
downgraded or "repaired".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import sqlite_utils

from storage.migrations import MIGRATIONS, Migration

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "Migration", "SchemaTooNew", "applied_migrations", "connect", "migrate"]

BUSY_TIMEOUT_MS = 5000


class SchemaTooNew(Exception):
    """The database records migrations this code does not know: a newer orgnode wrote it."""

    def __init__(self, unknown: list[str]) -> None:
        self.unknown = unknown
        super().__init__(
            f"the database was written by a newer orgnode (schema migrations this version does not know: "
            f"{', '.join(unknown)}); it was left unchanged: run the newer orgnode (or restore a backup made "
            f"with this version), this one never downgrades a database"
        )


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    try:
        refuse_newer(db)
    except BaseException:
        db.close()
        raise
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    # Erased personal data must not linger in free pages (THREATS row 18: recipients erase).
    db.execute("PRAGMA secure_delete=ON")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    migrate(db)
    return db


def refuse_newer(db: sqlite_utils.Database) -> None:
    """Raise ``SchemaTooNew`` if the database records a migration this code does not know.

    Read-only (a fresh or pre-migrations file has no ``migrations`` table and passes), so a refused
    file is left exactly as the newer version wrote it."""
    if not db["migrations"].exists():
        return
    known = {name for name, _ in MIGRATIONS}
    unknown = sorted(row["name"] for row in db.query("SELECT name FROM migrations") if row["name"] not in known)
    if unknown:
        raise SchemaTooNew(unknown)


def migrate(db: sqlite_utils.Database, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names."""
    refuse_newer(db)
    todo = MIGRATIONS if migrations is None else migrations
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    return [name for name, step in todo if _apply(db, name, step)]


def _apply(db: sqlite_utils.Database, name: str, step: Callable[[sqlite_utils.Database], None]) -> bool:
    """Run one migration and record it in one ``BEGIN IMMEDIATE`` transaction; False if already applied.

    The write lock is taken before the check, so a concurrent opener cannot apply the same step twice.
    The steps use only ``db.execute`` (DDL is transactional in SQLite; nothing in them commits), so a
    failure or a kill anywhere inside rolls the whole step back."""
    db.execute("BEGIN IMMEDIATE")
    try:
        if db.execute("SELECT 1 FROM migrations WHERE name = ?", [name]).fetchone() is not None:
            db.execute("COMMIT")
            return False
        step(db)
        db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, int(time.time() * 1000)])
        db.execute("COMMIT")
    except BaseException:
        if db.conn.in_transaction:
            db.execute("ROLLBACK")
        raise
    return True


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [row["name"] for row in db.query("SELECT name FROM migrations ORDER BY name")]
