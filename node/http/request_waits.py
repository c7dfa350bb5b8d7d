"""What an admin request waits for on the event loop before its handler runs: the start check of the
own log (a request that may sign), and the node's write turn (a request that may write, while a
transaction runs off the loop: node/core/off_loop_writes.py). Both wait without holding the loop.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from node.core.federation import Federation
from node.core.restore import signing_paused

APPEND_WAIT_S = 10.0  # an admin request waits at most this long for the start check (node/core/restore.py)
NO_WAIT = {"/restore/done", "/stop", "/sync", "/backup", "/trust/clear-fork"}
# A CSV import's batch does not wait for the write turn: the next batch is checked and signed while
# the one before is stored (node/core/candidate_import.py), and batches keep their order themselves.
TURN_FREE = {"/candidates/import"}


async def wait_for_own_log(request: web.Request, federation: Federation) -> None:
    """Right after a start, a request that may sign waits (bounded) until partners confirmed our own
    log, so an admin's first command does not fail only because the check was still running."""
    if request.method != "POST" or request.path in NO_WAIT or not signing_paused(federation):
        return
    deadline = asyncio.get_running_loop().time() + APPEND_WAIT_S
    while signing_paused(federation) and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.05)  # polls an in-memory flag; the check itself runs in the sync loops


async def wait_for_write_turn(request: web.Request, federation: Federation) -> None:
    """A request that may write waits on the loop while a transaction runs off it, instead of in
    SQLite's busy handler, which would hold the event loop until that transaction ends."""
    if request.method != "GET" and request.path not in TURN_FREE:
        await federation.writes.wait()
