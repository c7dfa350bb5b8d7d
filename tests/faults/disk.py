"""Full disks for fault tests, made for real (no mocks): SQLite's own limit, or a small tmpfs.

``fill``/``free``: a node running in this process, made full with SQLite's own limit.

``PRAGMA max_page_count`` on the node's live connection makes SQLite refuse to grow the database
with ``SQLITE_FULL``, the very error a full filesystem gives. Free pages inside the file would still
be reused, so ``fill`` first takes them with a filler table written through a second connection (its
writes are not the node's, so the node's disk watch sees only its own refused writes); ``free``
lifts the limit: space has returned, with no restart (the filler stays: dropping it would hand its
pages back as free pages, and the node would never need to grow the file to show it can).

``small_tmpfs``/``fill_disk``: a real filesystem of 2 MB (needs root and mount; skipped otherwise)
filled to ENOSPC, for what SQLite's limit cannot reach: a fresh connection (migrations at start)
and plain file writes.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.runtime import NodeRuntime

NO_LIMIT = 2**32 - 2  # SQLite's largest max_page_count
FILLER = "test_disk_filler"


def fill(runtime: NodeRuntime) -> None:
    """Make every later write of ``runtime`` that needs a new page fail as on a full disk."""
    side = sqlite3.connect(str(runtime.service.home.db_path), isolation_level=None)
    try:
        side.execute(f"CREATE TABLE IF NOT EXISTS {FILLER} (x BLOB)")
        pages = side.execute("PRAGMA page_count").fetchone()[0]
        side.execute(f"PRAGMA max_page_count={pages}")
        for size in (4000, 1000, 100, 1):  # take every free page (the freelist) and most free room
            while True:
                try:
                    side.execute(f"INSERT INTO {FILLER} VALUES (zeroblob({size}))")
                except sqlite3.OperationalError:
                    break
        pages = side.execute("PRAGMA page_count").fetchone()[0]
    finally:
        side.close()
    runtime.service.db.execute(f"PRAGMA max_page_count={pages}")


def free(runtime: NodeRuntime) -> None:
    """Space returns: lift the limit."""
    runtime.service.db.execute(f"PRAGMA max_page_count={NO_LIMIT}")


@contextlib.contextmanager
def small_tmpfs(where: Path) -> Iterator[Path]:
    where.mkdir()
    try:
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(where)], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("needs root and tmpfs mounts (a real full disk)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill_disk(where: Path, leave: int) -> Path:
    """Fill the filesystem at ``where`` to ENOSPC, then free ``leave`` bytes."""
    filler = where / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        while True:
            os.write(fd, b"\0" * 65536)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    os.truncate(filler, max(0, filler.stat().st_size - leave))
    return filler
