"""A long JSON list answered a page at a time (issue 11: no request may hold the event loop for more
than 50 ms). ``GET /log`` of a node that imported 100,000 candidates is 100,000 consent statements:
read, viewed and encoded in one go it held the loop for seconds and all of it in memory. Here each
page is read and encoded, written, and the loop runs other work before the next; the client sees the
same JSON list as ``json_response`` would give (the same ``json.dumps`` of each item).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterable
from typing import Any

from aiohttp import web

PAGE = 250  # items read and encoded per step (~15 ms of work for own statements)


async def json_list(request: web.Request, next_page: Callable[[Any], tuple[Iterable[Any], Any] | None]) -> web.StreamResponse:
    """Answer the items of ``next_page(cursor)`` (``(items, next cursor)``, or None when done; the
    first cursor is None) as one JSON list, a page per write."""
    response = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await response.prepare(request)
    separator, cursor = b"[", None
    while (page := next_page(cursor)) is not None:
        items, cursor = page
        encoded = b", ".join(json.dumps(item).encode() for item in items)
        if encoded:
            await response.write(separator + encoded)
            separator = b", "
        await asyncio.sleep(0)  # write() only waits when the socket's buffer is full: let the loop run here
    await response.write(b"[]" if separator == b"[" else b"]")
    await response.write_eof()
    return response
