"""A page of a peer's statements goes in all at once (one savepoint, one quota charge) unless an item
is refused; then it is taken again item by item and must store exactly what taking the same items one
by one stores (node/core/intake.py, issue 11 item 3). The positive control is a second reader given
the same items as pages of one."""

from __future__ import annotations

import os
from typing import Any

from protocol.bodies import Note
from protocol.jobs import Job, Skill
from protocol.sealing import seal_statement_body
from protocol.statement import Envelope, Statement, sign_statement
from protocol.sync import Batch
from storage.quotas import PeerQuota
from storage.statement_rows import stored_size
from tests.node.federation_helpers import pair, synced


def _job(author: Any, seq: int, prev: bytes | None, now: int, *, bad: bool = False) -> Statement:
    body = (Note("not a job").to_value() if bad else
            Job(job_id=os.urandom(16), version=1, title=f"Job {seq}", skills=(Skill("driving"),), date_posted=now).to_value())
    return sign_statement(author, kind=Job.KIND, seq=seq, prev=prev, now=now, body=body, private=True, salt=os.urandom(32))


def _chain(author: Any, after: tuple[int, bytes | None], now: int, bad_at: int | None, n: int) -> list[Statement]:
    """``n`` statements continuing ``after``; the one at index ``bad_at`` has a body that is not a job."""
    seq, prev = after
    out = []
    for i in range(n):
        statement = _job(author, seq + 1 + i, prev, now, bad=i == bad_at)
        out.append(statement)
        prev = statement.id
    return out


def _sealed(statements: list[Statement], reader: Any) -> list[bytes]:
    keys = reader.service.identity.encryption_public
    return [Envelope(s.header_bytes, s.signature, seal_statement_body(s, reader.service.node_id, keys)).encode()
            for s in statements]


def _state(node: Any, author: bytes, usage_before: int) -> dict[str, Any]:
    """What a reader keeps of the author's statements (times left out: each node has its clock)."""
    db = node.service.db
    usage = list(db.query("SELECT stored_bytes, refused FROM peer_usage WHERE peer = ?", [author]))
    return {
        "entries": [(bytes(r["id"]), r["seq"], r["has_body"])
                    for r in db.query("SELECT id, seq, body IS NOT NULL AS has_body FROM entries WHERE author = ? ORDER BY seq",
                                      [author])],
        "rejected": sorted((bytes(r["id"]), r["code"]) for r in db.query("SELECT id, code FROM rejected")),
        "held": sorted(bytes(r["id"]) for r in db.query("SELECT id FROM held")),
        "jobs": sorted((bytes(r["job_id"]), bytes(r["statement_id"]))
                       for r in db.query("SELECT job_id, statement_id FROM jobs WHERE author = ?", [author])),
        "stored_bytes": usage[0]["stored_bytes"] - usage_before if usage else None,
        "refused": usage[0]["refused"] if usage else None,
        "pending_reactions": len(node.federation.reactions.pending()),
    }


async def _two_readers(net: Any) -> tuple[Any, Any, Any]:
    a = await net.start("Author Org", sync_interval=3600)
    b = await net.start("Reader Org", sync_interval=3600)
    c = await net.start("Control Org", sync_interval=3600)
    await pair(a, b)
    await pair(a, c)
    await synced(b, a)
    await synced(c, a)
    assert b.service.log.head(a.service.node_id) == c.service.log.head(a.service.node_id)
    return a, b, c


def _usage(node: Any, author: bytes) -> int:
    rows = list(node.service.db.query("SELECT stored_bytes FROM peer_usage WHERE peer = ?", [author]))
    return int(rows[0]["stored_bytes"]) if rows else 0


async def _page_against_control(net: Any, order: list[int], bad_at: int | None, n: int,
                                quota_items: int | None = None) -> tuple[list[str], dict[str, Any], list[str], list[Statement]]:
    """The statements in ``order`` as one page to B and as pages of one to C; returns B's outcomes, B's
    state (asserted equal to C's), the SQL B ran and the statements (in their log's order)."""
    a, b, c = await _two_readers(net)
    a_id = a.service.node_id
    head = b.service.log.head(a_id)
    statements = _chain(a.service.identity, (head.seq, head.id), b.federation.clock(), bad_at, n)
    before = {id(node): _usage(node, a_id) for node in (b, c)}
    if quota_items is not None:  # room for exactly that many of the new statements
        for node in (b, c):
            node.service.log.quota = PeerQuota(stored_bytes=before[id(node)] + sum(map(stored_size, statements[:quota_items])))
    page = [_sealed(statements, b)[i] for i in order]
    singles = [_sealed(statements, c)[i] for i in order]
    sql: list[str] = []
    b.service.db.conn.set_trace_callback(sql.append)
    try:
        outcomes = [r.outcome for r in b.federation.take_batch(a_id, Batch(tuple(page))).results]
    finally:
        b.service.db.conn.set_trace_callback(None)
    control = [r.outcome for raw in singles for r in c.federation.take_batch(a_id, Batch((raw,))).results]
    assert outcomes == control
    state = _state(b, a_id, before[id(b)])
    assert state == _state(c, a_id, before[id(c)])
    return outcomes, state, sql, statements


def _count(sql: list[str], text: str) -> int:
    return sum(1 for s in sql if text in s)


async def test_a_clean_page_goes_in_at_once_and_charges_the_quota_once(net):
    outcomes, state, sql, made = await _page_against_control(net, list(range(20)), None, 20)
    assert outcomes == ["appended"] * 20
    assert len(state["jobs"]) == 20 and state["pending_reactions"] == 0
    assert state["stored_bytes"] == sum(map(stored_size, made))
    assert _count(sql, "INSERT INTO entries") == 20  # no item taken twice
    assert _count(sql, "UPDATE peer_usage SET stored_bytes") == 1  # the control charged once per page of one
    assert _count(sql, "ROLLBACK") == 0


async def test_a_bad_item_in_the_middle_rolls_the_page_back_and_it_is_taken_item_by_item(net):
    outcomes, state, sql, made = await _page_against_control(net, list(range(6)), 3, 6)
    assert outcomes == ["appended"] * 3 + ["bad-body", "rejected-base", "rejected-base"]
    assert len(state["jobs"]) == 3 and len(state["rejected"]) == 3
    # The three good items went in, were rolled back with the page, and went in again one by one.
    assert _count(sql, "INSERT INTO entries") == 6
    assert _count(sql, "ROLLBACK TO SAVEPOINT") >= 2  # the page's savepoint, then the bad item's own


async def test_a_page_over_the_peers_quota_stores_what_item_by_item_stores(net):
    outcomes, state, _, made = await _page_against_control(net, list(range(6)), None, 6, quota_items=3)
    assert outcomes == ["appended"] * 3 + ["over-quota", "held", "held"]  # the rest follow a refused item: held (a gap)
    assert state["refused"] == 1 and len(state["jobs"]) == 3
    assert state["stored_bytes"] == sum(map(stored_size, made[:3]))


async def test_a_bad_held_statement_released_inside_the_page_keeps_the_charges_of_the_others(net):
    # The bad 4th arrives before the 3rd: held, then released by the 3rd and refused in its own
    # savepoint, inside the page's. The page goes on at once (no refusal reaches it), and the charge
    # of the 3rd, not yet written when the 4th was refused, must not be lost with the memo.
    outcomes, state, sql, made = await _page_against_control(net, [0, 1, 3, 2], 3, 4)
    assert outcomes == ["appended", "appended", "held", "appended"]
    assert [code for _, code in state["rejected"]] == ["bad-body"] and len(state["jobs"]) == 3
    assert _count(sql, "INSERT INTO entries") == 3  # the page was not taken twice
    assert state["stored_bytes"] == sum(map(stored_size, made[:3]))  # the held bad one is charged nothing


async def test_an_out_of_order_page_goes_in_at_once(net):
    outcomes, state, sql, made = await _page_against_control(net, [0, 2, 1, 4, 3, 5], None, 6)
    assert outcomes == ["appended", "held", "appended", "held", "appended", "appended"]
    assert len(state["jobs"]) == 6 and state["held"] == []
    assert _count(sql, "INSERT INTO entries") == 6


async def test_a_failing_reaction_in_a_page_runs_once_and_the_others_take_effect_once(net):
    # The page's reactions run under one savepoint; one fails: all are rolled back, the ones before it
    # run again one by one, the failed one is queued (not run twice), the ones after it run.
    a, b, _ = await _two_readers(net)
    a_id, now = a.service.node_id, b.federation.clock()
    head = b.service.log.head(a_id)
    statements, prev = [], head.id
    for i in range(5):
        job = Job(job_id=os.urandom(16), version=1, title=f"Job {i}", skills=(Skill("driving"),), date_posted=now, hops=2)
        statement = sign_statement(a.service.identity, kind=Job.KIND, seq=head.seq + 1 + i, prev=prev, now=now,
                                   body=job.to_value(), private=True, salt=os.urandom(32))
        statements.append(statement)
        prev = statement.id
    calls: list[bytes] = []

    def hook(appended: list[Statement]) -> None:
        calls.extend(s.id for s in appended)
        if appended[0].id == statements[2].id:
            raise RuntimeError("injected fault")

    b.federation.on_appended.append(hook)
    own_before = b.service.log.head(b.service.node_id).seq
    outcomes = [r.outcome for r in b.federation.take_batch(a_id, Batch(tuple(_sealed(statements, b)))).results]
    assert outcomes == ["appended"] * 5
    assert calls.count(statements[2].id) == 1  # the failed reaction ran once
    assert b.federation.reactions.pending() == [statements[2].id]
    # Every other job was re-shared exactly once (hops 2): their reactions took effect once.
    reshared = [s for s in b.service.log.statements(b.service.node_id, after_seq=own_before) if s.kind == "reshare"]
    assert sorted(b.federation.reshares.has(s.id) for s in statements) == [False, True, True, True, True]
    assert len(reshared) == 4
    assert not b.federation.reshares.has(statements[2].id)
