"""Opening the node database and applying its recorded, transactional migrations.

Durability (THREATS.md "Settings"): WAL so readers (the CLI) never block the node; ``synchronous=FULL``
because the same file holds the outbox, trust list, consent and the log, where a write acknowledged
to a peer or an admin must survive power loss (NORMAL could lose the last commits; only bookkeeping
nobody was promised — a peer's last contact, match quota and offers — uses ``without_fsync``); ``foreign_keys``
on; ``busy_timeout`` so the CLI and the node can share the file. Each migration runs inside one
transaction together with its row in ``migrations``; a failed migration leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import sqlite_utils

from storage.migrations import MIGRATIONS, Migration

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "Migration", "applied_migrations", "connect", "migrate", "without_fsync"]

BUSY_TIMEOUT_MS = 5000


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db = sqlite_utils.Database(conn, execute_plugins=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("PRAGMA foreign_keys=ON")
    # Erased personal data must not linger in free pages (THREATS row 18: recipients erase).
    db.execute("PRAGMA secure_delete=ON")
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    migrate(db)
    return db


@contextlib.contextmanager
def without_fsync(db: sqlite_utils.Database) -> Iterator[None]:
    """One transaction of bookkeeping nobody was promised survives a power cut (a peer's last
    contact, match quota counts and offers), committed with ``synchronous=NORMAL``: in WAL it is
    durable at the next full commit or checkpoint instead of paying its own fsync. Inside a caller's
    transaction it simply joins it (the setting applies to commits, and that one is the caller's)."""
    if db.conn.in_transaction:
        with db.atomic():
            yield
        return
    db.execute("PRAGMA synchronous=NORMAL")
    try:
        with db.atomic():
            yield
    finally:
        db.execute("PRAGMA synchronous=FULL")


def migrate(db: sqlite_utils.Database, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the migrations not yet recorded, each in its own transaction; return their names."""
    todo = MIGRATIONS if migrations is None else migrations
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    done = {row["name"] for row in db.query("SELECT name FROM migrations")}
    applied = []
    for name, step in todo:
        if name in done:
            continue
        with db.atomic():
            step(db)
            db.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)", [name, int(time.time() * 1000)])
        applied.append(name)
    return applied


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [row["name"] for row in db.query("SELECT name FROM migrations ORDER BY name")]
