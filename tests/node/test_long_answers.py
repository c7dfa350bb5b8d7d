"""Long admin answers are read and sent a page at a time (issue 11: no request may hold the event
loop for more than 50 ms; node/http/json_stream.py). ``GET /log`` of a node holding thousands of own
statements is the same JSON list as before, read 1,000 statements per query, the loop free between."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from node.core.views import statement_view
from node.http import json_stream
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
    ticks = [0]  # another task's turns on the loop
    at_query: list[int] = []  # ticks when each page was read (the trace runs on the loop's thread)

    async def ticker() -> None:
        while True:
            ticks[0] += 1
            await asyncio.sleep(0)

    def trace(sql: str) -> None:
        queries.append(sql)
        if sql.startswith("SELECT * FROM entries WHERE author = "):
            at_query.append(ticks[0])

    other = asyncio.create_task(ticker())
    node.service.db.conn.set_trace_callback(trace)
    try:
        answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "GET", "/log", None, 60)
    finally:
        node.service.db.conn.set_trace_callback(None)
        other.cancel()
    assert all(b > a for a, b in itertools.pairwise(at_query)), at_query  # the loop ran other work between pages
    assert answer == expected  # the same list, in seq order
    pages = [q for q in queries if q.startswith("SELECT * FROM entries WHERE author = ") and f"LIMIT {json_stream.PAGE}" in q]
    assert len(pages) == -(-len(expected) // json_stream.PAGE) + 1, queries  # a query per page, and the empty one that ends it


def _core_args(fields: dict[str, Any]) -> dict[str, Any]:
    from node.core.requests import CandidateAdd

    return CandidateAdd.from_json(fields).core_args()


async def test_a_page_of_candidates_is_viewed_with_a_few_queries_and_shows_what_each_view_did(net):
    """``candidate list`` reads a page's consents, their history and disclosures for the whole page
    (storage/candidate_pages.py), not three queries per candidate; every view is what the per-candidate
    reads give (the old path, rebuilt here from the store's single-candidate reads)."""
    node = await net.start("Youth Futures")
    talent = node.talent
    talent.vocabulary()
    talent.import_candidates([(n, _core_args(row(n, f"v{n}@example.org")), None) for n in range(2, 302)])
    page = talent.store.candidates(limit=300)
    talent.give_consent(page[5].candidate_id, ["match"], "all", None, "second form")
    talent.withdraw_consent(page[7].candidate_id)  # a history of two events
    queries: list[str] = []
    node.service.db.conn.set_trace_callback(queries.append)
    try:
        views = talent.candidate_views(page)
    finally:
        node.service.db.conn.set_trace_callback(None)
    selects = [q for q in queries if q.startswith("SELECT")]
    assert len(selects) == 3, selects  # consents, histories, disclosures: none per candidate
    store = talent.store
    for c, view in zip(page, views, strict=True):
        consents = store.consents(c.candidate_id)
        assert [x["id"] for x in view["consents"]] == [r.consent_id.hex() for r in consents]
        for shown, r in zip(view["consents"], consents, strict=True):
            assert shown["state"] == r.state and shown["evidence"] == r.evidence
            assert shown["history"] == [{"state": h.state, "at": h.at, "note": h.note} for h in store.consent_history(r.consent_id)]
        assert view["disclosures"] == [talent._disclosure_view(d) for d in store.disclosures(c.candidate_id)]
        assert view["id"] == c.candidate_id.hex() and view["email"] == c.email
    assert len(views[5]["consents"]) == 2 and len(views[7]["consents"][0]["history"]) == 2  # positive control
