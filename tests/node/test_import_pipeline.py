"""A CSV import's batches off the event loop and two in flight (issue 11 item 2).

Real nodes over their admin socket and the real `orgnode candidate import` command: the node keeps
answering /health while a batch's rows are checked and signed (in a worker thread); two batches sent
at once are stored in order with their consent statements chained; a batch signed ahead on a head
that did not come to be is signed again, so the log never forks; the CLI's report is the same.
"""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
import threading
import urllib.request
from typing import Any

import sqlite_utils

from node.core.errors import UserError
from node.http.admin_client import AdminClient
from protocol.bodies import Note
from protocol.consent import Consent
from protocol.statement import verify_signature
from tests.node.federation_helpers import head, pair, synced, wait_until
from tests.node.test_candidate_import_batch import row


def rows_for(start: int, count: int, prefix: str) -> list[dict[str, Any]]:
    return [row(n, f"{prefix}{n}@example.org") for n in range(start, start + count)]


def chain_ok(node: Any, after_seq: int) -> list[Any]:
    """The node's own statements after ``after_seq``: consecutive, each signed and chained to the one before."""
    me = node.service.node_id
    signed = node.service.log.statements(me, after_seq=after_seq)
    assert [s.seq for s in signed] == list(range(after_seq + 1, after_seq + len(signed) + 1)), "consecutive seqs"
    prev = node.service.log.id_at(me, after_seq)
    for statement in signed:
        assert verify_signature(statement.header_bytes, statement.signature) == statement.header
        assert statement.header.prev == prev, "chained to the statement before"
        prev = statement.id
    return signed


def poll_health(port: int, flow: Any, stop: threading.Event, seen: list[tuple[int, int]]) -> None:
    """GET /health again and again (a blocking client in its own thread, not on the node's loop);
    record each answer that came back while the SAME batch was being staged from before the request
    was sent until after its answer arrived."""
    while not stop.is_set():
        before = (flow.staging_started, flow.staging_done)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as resp:
            ok = resp.status == 200 and json.loads(resp.read())["status"] == "ok"
        after = (flow.staging_started, flow.staging_done)
        if ok and before == after and before[0] > before[1]:
            seen.append(before)


class HeldBatch:
    """Holds the writer thread inside a batch's transaction (a trace callback on the writer's own
    connection, at the batch's first candidate insert) until ``release`` is set."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def install(self, db: sqlite_utils.Database) -> None:
        def trace(statement: str) -> None:
            if statement.lstrip().startswith("INSERT INTO candidates") and not self.entered.is_set():
                self.entered.set()
                self.release.wait(60)

        db.conn.set_trace_callback(trace)


async def two_in_flight(node: Any, client: AdminClient, first: list[dict[str, Any]], second: list[dict[str, Any]]) -> list[Any]:
    """Import ``first`` and ``second`` with both in flight for sure: the first batch's transaction is
    held open (``HeldBatch``) until the second was checked and signed ahead on the head the first
    will leave; then both go on. Returns each answer, or the ``UserError`` it raised."""
    flow = node.talent.imports
    held = HeldBatch()
    flow.on_writer_open.append(held.install)

    async def send(rows: list[dict[str, Any]]) -> Any:
        try:
            return await asyncio.to_thread(client.call, "POST", "/candidates/import", {"rows": rows}, 120)
        except UserError as exc:
            return exc

    try:
        sending = [asyncio.create_task(send(first))]
        assert await asyncio.to_thread(held.entered.wait, 60), "the first batch's transaction started"
        sending.append(asyncio.create_task(send(second)))
        await wait_until(lambda: flow.staging_done >= 2, timeout=60, what="the second batch checked and signed")
        assert flow.in_flight == 2 and not held.release.is_set(), "both batches in flight at once"
    finally:
        held.release.set()
        flow.on_writer_open.remove(held.install)
    return list(await asyncio.gather(*sending))


async def test_health_answers_while_an_import_batch_is_checked_and_signed(net):
    """The rows of a batch are checked and its consent statements signed off the event loop: /health
    is answered in full while that work is under way (the old handler did it on the loop, so no
    request was served from the start of a batch to its answer)."""
    node = await net.start("Youth Futures")
    node.talent.vocabulary()
    client = AdminClient(node.socket_path)
    flow = node.talent.imports
    seen: list[tuple[int, int]] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_health, args=(node.port, flow, stop, seen), daemon=True)
    poller.start()
    answers = []
    try:
        for attempt in range(5):  # one batch is enough on any machine seen so far; a few more for a slow one
            rows = rows_for(2, 1000, f"a{attempt}-")
            answers.append(await asyncio.to_thread(client.call, "POST", "/candidates/import", {"rows": rows}, 120))
            if seen:
                break
    finally:
        stop.set()
        await asyncio.to_thread(poller.join, 10)
    assert seen, "no /health answer came back while a batch was being staged"
    # Positive control: every batch went in whole.
    assert all(all("id" in r for r in a["results"]) for a in answers)
    assert len(node.talent.store.candidates()) == 1000 * len(answers)


async def test_two_batches_sent_at_once_are_stored_in_order_and_chained(net):
    """The second batch is checked and signed while the first is stored, on the head the first
    leaves: both land, every consent statement chained to the one before, the partner takes them all."""
    node = await net.start("Youth Futures")
    partner = await net.start("Open Hands")
    await pair(node, partner)
    await synced(partner, node)
    before = head(node, node)
    client = AdminClient(node.socket_path)
    first, second = rows_for(2, 300, "p"), rows_for(302, 300, "p")
    second[10] = row(312, "p5@example.org")  # an address of the first batch, not yet committed when the second is checked
    answers = await two_in_flight(node, client, first, second)
    by_row = {r["row"]: r for a in answers for r in a["results"]}
    assert "already recorded" in by_row[312]["error"], "a duplicate of the batch in flight is refused"
    assert sum(1 for r in by_row.values() if "id" in r) == 599  # positive control
    signed = chain_ok(node, before)
    assert len(signed) == 599 and all(s.kind == Consent.KIND for s in signed)
    consent_of = {Consent.from_value(s.body_value()).consent_id.hex(): s.id for s in signed}
    for result in by_row.values():
        if "id" in result:
            stored = node.talent.store.consent(bytes.fromhex(result["consent_id"]))
            assert stored is not None and consent_of[stored.consent_id.hex()] == stored.statement_id
    await synced(partner, node)
    assert [s.id for s in partner.service.log.statements(node.service.node_id, after_seq=before)] == [s.id for s in signed]


async def test_a_batch_signed_ahead_is_signed_again_when_the_log_moved(net):
    """A batch signed on a head that another own statement has since extended is not appended as
    signed (two statements would share a seq): it is signed again on the real head."""
    node = await net.start("Youth Futures")
    talent = node.talent
    talent.vocabulary()
    args = [(r["row"], _core_args(r), None) for r in rows_for(2, 20, "s")]
    before = head(node, node)
    staged = talent._stage(args, None, set(), talent._signing_base())
    assert staged.presigned is not None and staged.presigned.statements[0].seq == before + 1
    note = node.federation.append(Note.KIND, Note("in between").to_value(), private=True)
    assert note.seq == before + 1  # the seq the batch was signed for is taken
    talent._write(staged)
    signed = chain_ok(node, before)
    assert [s.kind for s in signed] == [Note.KIND] + [Consent.KIND] * 20
    assert {s.id for s in signed[1:]}.isdisjoint(s.id for s in staged.presigned.statements)  # signed again
    assert len(talent.store.candidates()) == 20


def _core_args(fields: dict[str, Any]) -> dict[str, Any]:
    from node.core.requests import CandidateAdd

    return CandidateAdd.from_json(fields).core_args()


async def test_the_cli_report_over_several_batches_in_flight_is_in_file_order(net, tmp_path):
    """`orgnode candidate import` over 3 batches, two in flight: the ids in the file's order, the
    rows the node refused (in the second and third batch) reported with their row numbers."""
    node = await net.start("Youth Futures")
    node.talent.add_candidate(name="Here Already", email="p700@example.org", skills=["excel"])
    node.talent.add_candidate(name="Here Too", email="p1150@example.org", skills=["excel"])
    path = tmp_path / "people.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["name", "email", "skills", "consent", "consent_scope", "consent_evidence"])
        for i in range(1200):
            w.writerow([f"Person {i}", f"p{i}@example.org", "forklift, excel", "match,refer", "all", "signed form"])
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "node.cli.main", "--home", str(node.service.home.path), "candidate", "import", str(path),
        "--json", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 1, err  # rows were refused
    report = json.loads(out)
    assert report["imported"] == 1198 and report["refused"] == 2 and report["total"] == 1200
    assert [e["row"] for e in report["errors"]] == [702, 1152]  # file row = index + 2 (header is row 1)
    assert all(e["column"] == "email" and "already recorded" in e["error"] for e in report["errors"])
    assert len(node.talent.store.candidates()) == 1200
    email_of = {c.candidate_id.hex(): c.email for c in node.talent.store.candidates()}
    expected = [f"p{i}@example.org" for i in range(1200) if i not in (700, 1150)]
    assert [email_of[i] for i in report["candidate_ids"]] == expected, "ids in the order of the file"


async def test_the_import_settings_are_put_back_when_the_import_ends(net):
    """While an import runs its writer connection (node/core/off_loop_writes.py) has a bigger page
    cache and a longer WAL, and the loop's connection leaves checkpoints to it; afterwards the loop's
    connection has its own settings again and the writer connection is closed (an idle node does
    not keep the import's memory)."""
    node = await net.start("Youth Futures")
    db = node.service.db

    def settings(of) -> tuple[int, int]:  # type: ignore[no-untyped-def]
        return of.execute("PRAGMA cache_size").fetchone()[0], of.execute("PRAGMA wal_autocheckpoint").fetchone()[0]

    own = settings(db)
    replaced = node.talent.store.tune_for_import()
    assert replaced == own and settings(db) != own  # positive control: the import settings differ
    node.talent.store.tune_for_import(replaced)
    assert settings(db) == own
    writer_settings: list[tuple[int, int]] = []
    node.talent.imports.on_writer_open.append(lambda w: writer_settings.append(settings(w)))
    answer = await asyncio.to_thread(AdminClient(node.socket_path).call, "POST", "/candidates/import",
                                     {"rows": rows_for(2, 50, "t")})
    assert all("id" in r for r in answer["results"]) and node.talent.imports.active == 0
    # The writer's cache and WAL for the import; the loop's own checkpoint setting was kept to put back.
    assert writer_settings == [(-65_536, 10_000)] and node.talent.imports.writer is None
    assert node.talent.imports.loop_checkpoint == own[1]
    assert settings(db) == own
