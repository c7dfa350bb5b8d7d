"""Long admin answers are read and sent a page at a time (issue 11: no request may hold the event
loop for more than 50 ms; node/http/json_stream.py). ``GET /log`` of a node holding thousands of own
statements is the same JSON list as before, read 1,000 statements per query, the loop free between."""

from __future__ import annotations

import asyncio
from typing import Any

from node.core.views import statement_view
from node.http.admin_client import AdminClient
from tests.node.test_candidate_import_batch import row


async def test_the_own_log_is_the_whole_list_read_a_page_at_a_time(net):
    node = await net.start("Youth Futures")
    node.talent.vocabulary()
    rows = [row(n, f"l{n}@example.org") for n in range(2, 2502)]
    args = [(r["row"], _core_args(r), None) for r in rows]
    node.talent.import_candidates(args)  # 2,500 consent statements
    expected = [statement_view(s) for s in node.service.own_statements()]
    assert len(expected) > 2500
    queries: list[str] = []
    node.service.db.conn.set_trace_callback(queries.append)
    try:
        answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "GET", "/log", None, 60)
    finally:
        node.service.db.conn.set_trace_callback(None)
    assert answer == expected  # the same list, in seq order
    pages = [q for q in queries if q.startswith("SELECT * FROM entries WHERE author = ") and "LIMIT 1000" in q]
    assert len(pages) == -(-len(expected) // 1000) + 1, queries  # a query per 1,000, and the empty one that ends it


def _core_args(fields: dict[str, Any]) -> dict[str, Any]:
    from node.core.requests import CandidateAdd

    return CandidateAdd.from_json(fields).core_args()
