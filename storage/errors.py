"""The one storage failure the node must tell apart from a bug: the disk is full (issue 10 item 7).

SQLite reports a full disk (or a database at its ``max_page_count``) as ``sqlite3.OperationalError``
with ``SQLITE_FULL``; a file write reports ``OSError`` with ``ENOSPC`` (or ``EDQUOT``, a quota). Both
become ``StorageFull`` where they happen: the database connection made by ``storage.db.connect``
translates SQLite's, and ``full_from_os_error`` is the one test for a file write's. SQLite rolls the
failed transaction back, so nothing half-written is stored; the node keeps serving reads and retries
the write later. No personal data is carried: only which store was full.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path

SQLITE_FULL = 13  # sqlite3.SQLITE_FULL (the constant is not exported by every Python build)
FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
# Opening a database on a full disk is not always SQLITE_FULL: creating the WAL index (-shm) or the
# -wal file fails as SQLITE_IOERR (or CANTOPEN) on a full tmpfs or ext4. Those primary codes, with
# less than this much room left on the database's filesystem, are a full disk too.
SQLITE_IOERR, SQLITE_CANTOPEN = 10, 14
ROOM_TO_OPEN = 1 << 20


class StorageFull(Exception):
    """A write was refused because the disk (or quota) holding ``what`` is full; nothing was stored.

    ``path``: the file being written when it is not the node's database (a backup copy, an export),
    so the admin is told which disk to free. Blame: local (this machine), retry later. Answered
    ``disk-full`` (HTTP 507) on both APIs.
    """

    def __init__(self, what: str = "the database", path: Path | None = None) -> None:
        super().__init__(f"{what}: the disk is full")
        self.what = what
        self.path = path


def is_sqlite_full(exc: BaseException) -> bool:
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL


def full_from_os_error(exc: OSError, what: str, path: Path | None = None) -> StorageFull | None:
    """``StorageFull`` for a file write that failed because the disk is full, else None."""
    return StorageFull(what, path) if exc.errno in FULL_ERRNOS else None


def full_at_open(exc: BaseException, directory: Path) -> StorageFull | None:
    """``StorageFull`` when opening the database in ``directory`` failed because its disk is full.

    SQLite says "disk I/O error" then, and the admin was told to restore a backup of a sound file;
    so an I/O (or cannot-open) error with almost no free space on that filesystem (``os.statvfs``)
    is reported as the full disk it is. Any other failure gives None (the caller's own message)."""
    if isinstance(exc, OSError):
        return full_from_os_error(exc, "the database")
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(exc, sqlite3.Error) or code is None or code & 0xFF not in (SQLITE_IOERR, SQLITE_CANTOPEN, SQLITE_FULL):
        return None
    try:
        room = os.statvfs(directory)
    except OSError:
        return None
    return StorageFull() if room.f_bavail * room.f_frsize < ROOM_TO_OPEN else None
