"""A long JSON list answered a page at a time, each page read and encoded off the event loop (issue 11:
no request may hold the event loop for more than 50 ms). ``GET /log`` of a node that imported 100,000
candidates is 100,000 consent statements: read, viewed and encoded in one go it held the loop for
seconds and all of it in memory; paged on the loop's connection a single step still held it ~2.2 s.
Here each page is read, viewed and encoded in a worker thread on a read-only connection
(node/core/off_loop_reads.py) and written by the loop; the client sees the same JSON list as
``json_response`` would give (the same ``json.dumps`` of each item).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import sqlite_utils
from aiohttp import web

from node.core.off_loop_reads import OffLoopReader

NextPage = Callable[[sqlite_utils.Database, Any], "tuple[Iterable[Any], Any] | None"]


async def json_list(request: web.Request, db_path: Path, next_page: NextPage) -> web.StreamResponse:
    """Answer the items of ``next_page(db, cursor)`` (``(items, next cursor)``, or None when done; the
    first cursor is None; ``db`` a read-only connection to ``db_path`` used from a worker thread) as
    one JSON list, a page per write."""
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)

    def encoded(db: sqlite_utils.Database, cursor: Any) -> tuple[bytes, Any] | None:
        page = next_page(db, cursor)
        if page is None:
            return None
        items, after = page
        return b", ".join(json.dumps(item).encode() for item in items), after

    separator: bytes = b"["
    cursor: Any = None
    async with OffLoopReader(db_path) as reader:
        while (step := await reader.run(functools.partial(encoded, cursor=cursor))) is not None:
            chunk, cursor = step
            if chunk:
                await response.write(separator + chunk)
                separator = b", "
    await response.write(b"[]" if separator == b"[" else b"]")
    await response.write_eof()
    return response
