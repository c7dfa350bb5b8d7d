"""Long reads off the event loop (issue 11: no request may hold the loop for more than 50 ms).

An impact report reads and counts every statement held (4.8–12.6 s at 100,000 own statements), and
``GET /log`` reads and views every own statement: on the loop's connection either stalled every other
request for that long. ``OffLoopReader`` runs such reads on a read-only connection of their own
(``storage.db.connect_reader``, ``query_only``) in one worker thread, opened for one request and closed
after it, so an idle node keeps no second connection. It never writes, so it needs no write turn
(node/core/off_loop_writes.py): in WAL mode a reader neither waits for the writers nor holds them up.
``run(work, snapshot=True)`` runs ``work`` inside one read transaction, so all its queries see one
state of the database, as they did on the loop's connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import ClassVar, TypeVar

import sqlite_utils

from storage.db import connect_reader, read_snapshot

T = TypeVar("T")


class OffLoopReader:
    """A read-only connection to the node's database and the one worker thread that uses it."""

    # Of every reader in this process (tests read them): reads begun and finished in a worker thread,
    # and hooks run in the thread on each new connection (a test traces its queries).
    started: ClassVar[int] = 0
    finished: ClassVar[int] = 0
    on_open: ClassVar[list[Callable[[sqlite_utils.Database], None]]] = []
    _counts: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, path: Path) -> None:
        self.path = path
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgnode-reader")
        self._db: sqlite_utils.Database | None = None

    async def run(self, work: Callable[[sqlite_utils.Database], T], *, snapshot: bool = False) -> T:
        """``work(db)`` in the worker thread on the read-only connection; ``snapshot``: inside one read
        transaction (every query of ``work`` sees the same commit)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._work, work, snapshot)

    def _work(self, work: Callable[[sqlite_utils.Database], T], snapshot: bool) -> T:
        with self._counts:
            OffLoopReader.started += 1
        try:
            db = self._connection()
            if not snapshot:
                return work(db)
            with read_snapshot(db):
                return work(db)
        finally:
            with self._counts:
                OffLoopReader.finished += 1

    def _connection(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect_reader(self.path)
            for hook in self.on_open:
                hook(self._db)
        return self._db

    async def close(self) -> None:
        """Close the connection in its thread (after any read still queued) and end the thread."""
        loop = asyncio.get_running_loop()
        await asyncio.shield(loop.run_in_executor(self._executor, self._close_connection))
        self._executor.shutdown(wait=False)

    def _close_connection(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None

    async def __aenter__(self) -> OffLoopReader:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
