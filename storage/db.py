"""Opening the node database and applying its recorded, transactional migrations.

Durability (THREATS.md "Settings"): WAL so readers (the CLI) never block the node; ``synchronous=FULL``
because the same file holds the outbox, trust list, consent and the log, where a write acknowledged
to a peer or an admin must survive power loss (NORMAL could lose the last commits; only bookkeeping
nobody was promised — a peer's last contact, match quota and offers — uses ``without_fsync``); ``foreign_keys``
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

import contextlib
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

from storage.errors import StorageFull, is_sqlite_full
from storage.migrations import MIGRATIONS, Migration

__all__ = ["BUSY_TIMEOUT_MS", "MIGRATIONS", "Migration", "SchemaTooNew", "StorageFull", "applied_migrations", "connect",
           "connect_reader", "connect_writer", "is_locked", "migrate", "read_snapshot", "watch_disk", "without_fsync"]

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


class Connection(sqlite3.Connection):
    """A connection that raises ``StorageFull`` (not a bare ``OperationalError``) when the disk is full.

    Every statement sqlite-utils and the stores run goes through ``execute``/``executemany``/
    ``executescript`` of the connection (sqlite-utils' in-transaction scripts through its cursor), so
    this is the one place a full disk is recognised. SQLite has already rolled the statement (or the
    whole transaction) back when it reports SQLITE_FULL.

    Every transaction begins ``IMMEDIATE`` (``BEGIN`` from sqlite-utils' ``atomic`` is sent as ``BEGIN
    IMMEDIATE``): it takes the write lock first, so a read-then-write transaction never reads a snapshot
    another connection commits over before it writes (that is ``SQLITE_BUSY_SNAPSHOT``, raised at the
    write, with no retry). The node writes a CSV import's batches on a second connection in a worker
    thread (``connect_writer``, node/core/off_loop_writes.py) while the loop's own transactions go on,
    so both connections' transactions wait for each other's turn instead (``busy_timeout``).

    ``on_full`` is called at each refused write and ``on_recovered`` once space has returned (set them
    with ``watch_disk``), so the node logs one warning per episode. Space has returned when a write
    commits that grew the file past its size at the refusal: a small write that fits in a free page
    may go through on a full disk too, and must not end the episode.
    """

    full = False
    full_at_pages = 0
    on_full: Callable[[], None] | None = None
    on_recovered: Callable[[], None] | None = None

    def _pages(self) -> int:
        return int(sqlite3.Connection.execute(self, "PRAGMA page_count").fetchone()[0])

    def _refused(self) -> None:
        if not self.full:
            self.full, self.full_at_pages = True, self._pages()
        if self.on_full is not None:
            self.on_full()

    def _went_through(self, changes_before: int, was_in_transaction: bool) -> None:
        """After a statement succeeded: if it committed something (an autocommit write, or the COMMIT
        of a transaction) and the file grew, the disk has room again."""
        committed = not self.in_transaction and (was_in_transaction or self.total_changes != changes_before)
        if self.full and committed and self._pages() > self.full_at_pages:
            self.full = False
            if self.on_recovered is not None:
                self.on_recovered()

    def cursor(self, factory: type[sqlite3.Cursor] | None = None) -> sqlite3.Cursor:  # type: ignore[override]
        return super().cursor(factory or Cursor)

    def execute(self, *args: object) -> sqlite3.Cursor:
        before, was_in = self.total_changes, self.in_transaction
        if args and isinstance(args[0], str) and args[0].strip().upper() == "BEGIN":
            args = ("BEGIN IMMEDIATE", *args[1:])
        with _full_disk_is_storage_full(self):
            cursor = super().execute(*args)  # type: ignore[arg-type]
        self._went_through(before, was_in)
        return cursor

    def executemany(self, *args: object) -> sqlite3.Cursor:
        before, was_in = self.total_changes, self.in_transaction
        with _full_disk_is_storage_full(self):
            cursor = super().executemany(*args)  # type: ignore[arg-type]
        self._went_through(before, was_in)
        return cursor

    def executescript(self, *args: object) -> sqlite3.Cursor:
        with _full_disk_is_storage_full(self):
            return super().executescript(*args)  # type: ignore[arg-type]

    def commit(self) -> None:
        with _full_disk_is_storage_full(self):
            super().commit()


class Cursor(sqlite3.Cursor):
    def execute(self, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        with _full_disk_is_storage_full(self.connection):
            return super().execute(*args)  # type: ignore[arg-type]

    def executemany(self, *args: object) -> sqlite3.Cursor:  # type: ignore[override]
        with _full_disk_is_storage_full(self.connection):
            return super().executemany(*args)  # type: ignore[arg-type]


class _full_disk_is_storage_full:  # a context manager, named for what it does
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None and is_sqlite_full(exc):
            if isinstance(self.conn, Connection):
                self.conn._refused()
            raise StorageFull("the database") from exc


def watch_disk(db: sqlite_utils.Database, on_full: Callable[[], None], on_recovered: Callable[[], None]) -> None:
    """Be told when a write to ``db`` is refused for a full disk, and when writes go through again."""
    conn = db.conn
    if isinstance(conn, Connection):
        conn.on_full, conn.on_recovered = on_full, on_recovered


def _fold(text: str | None) -> str | None:
    """``text`` for a search that ignores case and accents, in any script ("MÜLLER" and "muller" find
    "Müller"): SQLite's own ``lower`` folds ASCII letters only."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFKD", str(text).casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def add_text_functions(conn: sqlite3.Connection) -> None:
    """The SQL function ``fold`` (deterministic, so usable in any query)."""
    conn.create_function("fold", 1, _fold, deterministic=True)


def connect(path: Path) -> sqlite_utils.Database:
    """Open (creating if needed) the database at ``path`` and bring its schema up to date.

    Another process upgrading the same file holds its lock for longer than one busy timeout on a
    slow machine: a locked open is retried (up to ``MIGRATION_LOCK_WAIT_S``) rather than failed."""
    deadline = time.monotonic() + MIGRATION_LOCK_WAIT_S
    while True:
        try:
            return _connect_once(path)
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def _connect_once(path: Path) -> sqlite_utils.Database:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, factory=Connection)
    try:
        add_text_functions(conn)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        refuse_newer(db)  # read-only, before any PRAGMA write: a newer release's file is left untouched
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA foreign_keys=ON")
        # Erased personal data must not linger in free pages (THREATS row 18: recipients erase).
        db.execute("PRAGMA secure_delete=ON")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        migrate(db)
    except BaseException:
        conn.close()  # a failed open (locked, full, corrupt, newer) must not leave the file open (issue 10 item 7)
        raise
    return db


def connect_writer(path: Path, like: sqlite_utils.Database) -> sqlite_utils.Database:
    """A second connection to a database ``like`` has opened (and migrated), usable from another thread
    (one at a time): the same settings and full-disk hooks as ``like``'s, no migration. Its
    transactions and ``like``'s take the write lock in turn (``Connection``: ``BEGIN IMMEDIATE``)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, factory=Connection,
                           check_same_thread=False)
    try:
        add_text_functions(conn)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        refuse_newer(db)
        for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON", "secure_delete=ON",
                       f"busy_timeout={BUSY_TIMEOUT_MS}"):
            db.execute(f"PRAGMA {pragma}")
    except BaseException:
        conn.close()
        raise
    if isinstance(like.conn, Connection):
        conn.on_full, conn.on_recovered = like.conn.on_full, like.conn.on_recovered
    return db


def connect_reader(path: Path) -> sqlite_utils.Database:
    """A read-only connection (``query_only``) to a database the node has opened (and migrated), usable
    from another thread (one at a time): long reads — an impact report over the whole log, ``GET /log``
    — run on it in a worker thread (node/core/off_loop_reads.py) while the loop keeps serving. A plain
    ``sqlite3.Connection``: it never writes, so it takes no write lock and needs no full-disk hooks; a
    ``BEGIN`` on it is a deferred read transaction (one snapshot of the WAL for all its queries)."""
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False)
    try:
        add_text_functions(conn)
        db = sqlite_utils.Database(conn, execute_plugins=False)
        refuse_newer(db)
        db.execute("PRAGMA query_only=ON")
        db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    except BaseException:
        conn.close()
        raise
    return db


@contextlib.contextmanager
def read_snapshot(db: sqlite_utils.Database) -> Iterator[None]:
    """One read transaction on a ``connect_reader`` connection: every query inside sees the same commit."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")  # ends the read transaction (nothing was written)


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


def is_locked(exc: BaseException) -> bool:
    """The database is locked by another process (SQLITE_BUSY / SQLITE_LOCKED after the busy timeout)."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) in (5, 6)


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
    refuse_newer(db)
    todo = MIGRATIONS if migrations is None else migrations
    db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)")
    return [name for name, step in todo if _apply(db, name, step)]


def _apply(db: sqlite_utils.Database, name: str, step: Callable[[sqlite_utils.Database], None]) -> bool:
    """Run one migration and record it in one ``BEGIN IMMEDIATE`` transaction; False if already applied.

    The write lock is taken before the check, so a concurrent opener cannot apply the same step twice.
    The steps use only ``db.execute`` (DDL is transactional in SQLite; nothing in them commits), so a
    failure or a kill anywhere inside rolls the whole step back."""
    _begin_immediate(db)
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


# Long enough for another process's migration of a large file on a slow, busy VM; short enough that an
# admin whose database is held by a stuck tool gets the "locked by another process" answer promptly.
MIGRATION_LOCK_WAIT_S = 20.0


def _begin_immediate(db: sqlite_utils.Database) -> None:
    """Take the write lock for a migration, waiting as long as another opener migrates (each attempt
    waits ``BUSY_TIMEOUT_MS``): a node and a CLI command opening an old file together on a slow,
    busy machine must both succeed, not fail with "database is locked" after the first timeout."""
    deadline = time.monotonic() + MIGRATION_LOCK_WAIT_S
    while True:
        try:
            db.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if not is_locked(exc) or time.monotonic() > deadline:
                raise


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    return [row["name"] for row in db.query("SELECT name FROM migrations ORDER BY name")]
