"""`candidate import` sends its rows in batches, each added in one transaction (issue 11 item 2).

On a real node over its admin socket: a batch of rows is one durable commit (candidates, their
signed consent statements and outbox rows together), a refused row inside it leaves nothing behind
while the others go in, and the duplicate-email check is an index lookup, not a scan per row.
"""

from __future__ import annotations

import asyncio
from typing import Any

from node.http.admin_client import AdminClient
from storage.db import connect


def row(number: int, email: str, **extra: Any) -> dict[str, Any]:
    return {"row": number, "name": f"Person {number}", "email": email, "skills": "forklift, excel", "consent": "match,refer",
            "consent_scope": "all", "consent_evidence": "signed form", **extra}


async def test_a_batch_is_one_commit_and_a_refused_row_leaves_nothing(net):
    node = await net.start("Youth Futures")
    node.talent.add_candidate(name="Already Here", email="Taken@Example.org", skills=["cooking"])
    log_before = node.service.log.head(node.service.node_id).seq
    statements: list[str] = []
    node.service.db.conn.set_trace_callback(statements.append)
    rows = [row(i, f"p{i}@example.org") for i in range(2, 42)]
    rows.insert(5, row(99, "taken@example.org"))  # the same address as a recorded candidate, in another case
    rows.insert(9, row(100, "x@example.org", consent_scope=""))  # consent without a scope: refused by the model
    client = AdminClient(node.socket_path)
    answer = await asyncio.to_thread(client.call, "POST", "/candidates/import", {"rows": rows})
    node.service.db.conn.set_trace_callback(None)

    results = {r["row"]: r for r in answer["results"]}
    assert [r["row"] for r in answer["results"]] == [r["row"] for r in rows], "one result per row, in order"
    assert "already recorded" in results[99]["error"] and results[99].get("id") is None
    assert results[100]["field"] == "consent_scope"
    assert sum(1 for r in answer["results"] if "id" in r) == 40  # positive control: the good rows went in
    assert sum(1 for s in statements if s.strip().upper() == "COMMIT") == 1, "the whole batch is one durable commit"
    # 40 consent statements signed in the log; the refused rows left no candidate and no statement.
    assert node.service.log.head(node.service.node_id).seq == log_before + 40
    emails = [c.email for c in node.talent.store.candidates()]
    assert emails.count("Taken@Example.org") == 1 and "taken@example.org" not in emails and "x@example.org" not in emails


def test_the_duplicate_email_check_uses_an_index(tmp_path):
    db = connect(tmp_path / "node.db")
    plan = db.execute("EXPLAIN QUERY PLAN SELECT 1 FROM candidates WHERE lower(email) = lower(?) AND erased_at IS NULL "
                      "AND candidate_id IS NOT ?", ["a@example.org", None]).fetchall()
    assert any("candidates_email" in str(step[-1]) for step in plan), plan
