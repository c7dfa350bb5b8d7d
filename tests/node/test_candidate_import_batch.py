"""`candidate import` sends its rows in batches, each added in one transaction (issue 11 item 2).

On a real node over its admin socket: a batch of rows is one durable commit (candidates, their
signed consent statements and outbox rows together), a refused row inside it leaves nothing behind
while the others go in, and the duplicate-email check is an index lookup, not a scan per row.
"""

from __future__ import annotations

import asyncio
from typing import Any

from node.http.admin_client import AdminClient
from protocol.consent import Consent
from protocol.statement import verify_signature
from storage.db import connect
from tests.node.federation_helpers import head, pair, synced


def row(number: int, email: str, **extra: Any) -> dict[str, Any]:
    return {"row": number, "name": f"Person {number}", "email": email, "skills": "forklift, excel", "consent": "match,refer",
            "consent_scope": "all", "consent_evidence": "signed form", **extra}


async def test_a_batch_is_one_commit_and_a_refused_row_leaves_nothing(net):
    node = await net.start("Youth Futures")
    node.talent.add_candidate(name="Already Here", email="Taken@Example.org", skills=["cooking"])
    log_before = node.service.log.head(node.service.node_id).seq
    statements: list[str] = []
    node.talent.imports.on_writer_open.append(lambda db: db.conn.set_trace_callback(statements.append))
    rows = [row(i, f"p{i}@example.org") for i in range(2, 42)]
    rows.insert(5, row(99, "taken@example.org"))  # the same address as a recorded candidate, in another case
    rows.insert(9, row(100, "x@example.org", consent_scope=""))  # consent without a scope: refused by the model
    client = AdminClient(node.socket_path)
    answer = await asyncio.to_thread(client.call, "POST", "/candidates/import", {"rows": rows})

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
    batch = db.execute("EXPLAIN QUERY PLAN SELECT lower(email) AS k FROM candidates WHERE lower(email) IN (?, ?) "
                       "AND erased_at IS NULL", ["a@example.org", "b@example.org"]).fetchall()  # an import's batch lookup
    assert any("candidates_email" in str(step[-1]) for step in batch), batch


def import_transaction(statements: list[str]) -> list[str]:
    """The traced SQL of the import's transaction, from its BEGIN to its COMMIT (the sync loops of a
    paired node commit their own work before and after it on the same connection)."""
    first = next(i for i, s in enumerate(statements) if s.lstrip().startswith("INSERT INTO candidates"))
    begin = max(i for i in range(first) if s_is(statements[i], "BEGIN"))
    commit = next(i for i in range(first, len(statements)) if s_is(statements[i], "COMMIT"))
    assert not any(s_is(s, "COMMIT") for s in statements[begin:commit]), "no commit inside the import's transaction"
    return statements[begin:commit + 1]


def s_is(statement: str, word: str) -> bool:
    return statement.strip().upper().startswith(word)


async def test_a_batch_signs_its_consent_statements_together_and_a_partner_receives_them(net):
    """N imported candidates with consent: N consent statements with consecutive seqs, each signed
    by the node's key and chained to the one before, their outbox rows for the partner and the
    candidates in ONE commit; the partner then holds all N (its ingest checks every signature and
    the chain). Own appends in a batch go through the rollback gates (tests/test_layers.py)."""
    node = await net.start("Youth Futures")
    partner = await net.start("Open Hands")
    await pair(node, partner)
    await synced(partner, node)
    me = node.service.node_id
    before = head(node, node)
    statements: list[str] = []  # the writer connection's (the batch's SQL runs off the loop on it)
    node.talent.imports.on_writer_open.append(lambda db: db.conn.set_trace_callback(statements.append))
    rows = [row(i, f"p{i}@example.org") for i in range(2, 27)]
    rows.insert(3, row(50, "no-consent@example.org", consent="", consent_scope="", consent_evidence=""))
    answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "POST", "/candidates/import", {"rows": rows})

    n = len(rows) - 1
    window = import_transaction(statements)
    for write in ("INSERT INTO candidates", "INSERT INTO entries", "INSERT OR IGNORE INTO outbox", "INSERT INTO consents"):
        assert any(s.lstrip().startswith(write) for s in window), write  # all of it inside the one transaction
        assert not any(s.lstrip().startswith(write) for s in statements if s not in window), write
    # One read of the log head for signing (the high-water mark after is the last statement's own
    # seq), one of the trusted peers, for the whole batch: the old path read both for every statement.
    assert sum(1 for s in window if "SELECT seq, id FROM entries WHERE author = " in s and "ORDER BY seq DESC LIMIT 1" in s) == 1
    assert sum(1 for s in window if "SELECT * FROM peers WHERE state = " in s) == 1
    results = {r["row"]: r for r in answer["results"]}
    assert results[50]["consent_id"] is None and results[50]["id"]  # a row without consent is a candidate only
    signed = node.service.log.statements(me, after_seq=before)
    assert [s.seq for s in signed] == list(range(before + 1, before + n + 1)), "consecutive seqs"
    assert all(s.kind == Consent.KIND for s in signed)
    prev = node.service.log.id_at(me, before)
    for statement in signed:
        assert verify_signature(statement.header_bytes, statement.signature) == statement.header  # signed by the node
        assert statement.header.prev == prev and statement.header.key == node.service.identity.signing_public
        prev = statement.id
    # Each consent row names its own statement, whose body is that consent.
    consent_of = {Consent.from_value(s.body_value()).consent_id.hex(): s.id for s in signed}
    for r in rows:
        if r["row"] != 50:
            consent = node.talent.store.consent(bytes.fromhex(results[r["row"]]["consent_id"]))
            assert consent is not None and consent_of[consent.consent_id.hex()] == consent.statement_id
    await synced(partner, node)
    held = partner.service.log.statements(me, after_seq=before)
    assert [s.id for s in held] == [s.id for s in signed], "the partner holds every consent statement, in order"


async def test_a_duplicate_inside_one_batch_is_refused_as_if_the_first_were_stored(net):
    """The batch's rows are checked before any is stored: a second row with an address already in
    the batch is refused like one already recorded, folded as SQLite's lower() folds (ASCII only)."""
    node = await net.start("Youth Futures")
    rows = [row(2, "Same@Example.org"), row(3, "same@example.org"), row(4, "Ärzte@example.org"),
            row(5, "ärzte@example.org"), row(6, "other@example.org")]
    answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "POST", "/candidates/import", {"rows": rows})
    results = {r["row"]: r for r in answer["results"]}
    assert "already recorded" in results[3]["error"] and "id" not in results[3]
    assert all("id" in results[n] for n in (2, 4, 5, 6)), results  # positive control; non-ASCII case is not folded
    assert sorted(c.email for c in node.talent.store.candidates()) == sorted(
        ["Same@Example.org", "Ärzte@example.org", "ärzte@example.org", "other@example.org"])
    # The same rows one at a time give the same answers (the old path stored each row before the next).
    again = await net.start("Open Hands")
    singles = [await asyncio.to_thread(AdminClient(again.socket_path).call, "POST", "/candidates/import", {"rows": [r]})
               for r in rows]
    assert ["id" in s["results"][0] for s in singles] == ["id" in results[r["row"]] for r in rows]
