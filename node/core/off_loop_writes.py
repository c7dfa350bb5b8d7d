"""Long transactions off the event loop (issue 11: no request may hold the loop for more than 50 ms).

A CSV import's batch of 2,000 candidates is ~0.2–0.4 s of SQL and a durable commit; run on the loop it
stalled every other request for that long (``/health`` p99 ~0.8 s during an import). ``OffLoopWriter``
runs such a transaction on a second connection to the node's database (``storage.db.connect_writer``)
in one worker thread of its own, so the loop keeps serving while SQLite writes.

Two writers, kept correct:
- SQLite serialises them: every transaction of either connection begins ``IMMEDIATE`` (storage/db.py),
  so a loop transaction that reads and then writes never works on a snapshot the worker committed
  over (``SQLITE_BUSY_SNAPSHOT``); it waits for the write lock instead.
- ``WriteTurn``, the node's asyncio-aware single-writer turn: held from the start of an off-loop
  transaction until its thread is done (even if the awaiting request is cancelled), so there is
  at most one at a time, and the admin and federation requests that change state wait for it on
  the loop (``WriteTurn.wait``) instead of inside SQLite's busy handler, which would hold the loop.
  Work the loop starts on its own (the sync loops, timers) still takes SQLite's lock in turn: it
  may wait for the rest of one batch, as every write did before.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

import sqlite_utils

from storage.db import connect_writer

T = TypeVar("T")


class WriteTurn:
    """The node's one off-loop writer at a time, on the event loop (module docstring)."""

    def __init__(self) -> None:
        self._lock: asyncio.Lock | None = None
        self.held_since: float | None = None  # loop time the current holder took the turn
        self.waiting = 0  # requests and loops waiting for the turn to be free (tests read it)

    @property
    def lock(self) -> asyncio.Lock:
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    @property
    def held(self) -> bool:
        return self._lock is not None and self._lock.locked()

    async def wait(self) -> None:
        """Return once no off-loop transaction is running (at once when none is)."""
        while self.held:
            self.waiting += 1
            try:
                async with self.lock:
                    pass
            finally:
                self.waiting -= 1

    async def run(self, executor: ThreadPoolExecutor, work: Callable[[], T]) -> T:
        """``work()`` in ``executor`` while holding the turn; the turn is given back when the thread is
        done, not when the awaiting task is cancelled (the transaction may still be committing)."""
        await self.lock.acquire()
        loop = asyncio.get_running_loop()
        self.held_since = loop.time()
        try:
            future = loop.run_in_executor(executor, work)
        except BaseException:
            self._release()
            raise
        future.add_done_callback(lambda _: self._release())
        return await asyncio.shield(future)

    def _release(self) -> None:
        self.held_since = None
        self.lock.release()


class OffLoopWriter:
    """A second connection to the node's database and the one worker thread that uses it."""

    def __init__(self, path: Path, like: sqlite_utils.Database, turn: WriteTurn) -> None:
        self.path, self.like, self.turn = path, like, turn
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orgnode-writer")
        self._db: sqlite_utils.Database | None = None
        self.on_open: list[Callable[[sqlite_utils.Database], None]] = []  # run in the thread on the new connection

    async def run(self, work: Callable[[sqlite_utils.Database], T]) -> T:
        """``work(db)`` in the worker thread on its connection, holding the node's write turn."""
        return await self.turn.run(self._executor, lambda: work(self._connection()))

    def _connection(self) -> sqlite_utils.Database:
        if self._db is None:
            self._db = connect_writer(self.path, self.like)
            for hook in self.on_open:
                hook(self._db)
        return self._db

    async def close(self) -> None:
        """Close the connection in its thread (after any work still queued) and end the thread."""
        loop = asyncio.get_running_loop()
        with contextlib.suppress(RuntimeError):  # the executor was already shut down
            await loop.run_in_executor(self._executor, self._close_connection)
        self._executor.shutdown(wait=False)

    def _close_connection(self) -> None:
        if self._db is not None:
            self._db.conn.close()
            self._db = None
