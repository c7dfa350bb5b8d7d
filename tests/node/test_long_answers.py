"""Long admin answers are read and sent a page at a time (issue 11: no request may hold the event
loop for more than 50 ms; node/http/json_stream.py). ``GET /log`` of a node holding thousands of own
statements is the same JSON list as before, read 1,000 statements per query in a worker thread on a
read-only connection (node/core/off_loop_reads.py)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from node.core.off_loop_reads import OffLoopReader
from node.core.views import OWN_LOG_PAGE, statement_view
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
    on_loop: list[str] = []  # queries of the loop's connection
    off_loop: list[str] = []  # queries of the reader's connection, in its worker thread
    threads: set[str] = set()

    def trace_reader(db: Any) -> None:
        def trace(sql: str) -> None:
            off_loop.append(sql)
            threads.add(threading.current_thread().name)

        db.conn.set_trace_callback(trace)

    OffLoopReader.on_open.append(trace_reader)
    node.service.db.conn.set_trace_callback(on_loop.append)
    try:
        answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "GET", "/log", None, 60)
    finally:
        node.service.db.conn.set_trace_callback(None)
        OffLoopReader.on_open.remove(trace_reader)
    assert answer == expected  # the same list, in seq order
    page = "SELECT * FROM entries WHERE author = "
    assert not [q for q in on_loop if q.startswith(page)], "no page is read on the loop's connection"
    pages = [q for q in off_loop if q.startswith(page) and f"LIMIT {OWN_LOG_PAGE}" in q]
    assert len(pages) == -(-len(expected) // OWN_LOG_PAGE) + 1, off_loop  # a query per page, and the empty one that ends it
    assert threads and all(name.startswith("orgnode-reader") for name in threads)


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


def _core_args(fields: dict[str, Any]) -> dict[str, Any]:
    from node.core.requests import CandidateAdd

    return CandidateAdd.from_json(fields).core_args()
