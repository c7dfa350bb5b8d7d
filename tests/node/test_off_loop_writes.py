"""A CSV import's batch stored off the event loop (issue 11: no request holds the loop > 50 ms).

Real nodes over their admin socket and federation port: /health is answered in full while a batch's
transaction runs in the writer thread (and never while it runs on the loop: the control); a request
that writes arrives while a batch is held open, waits for the write turn on the loop (which keeps
serving), then goes in after the batch with its statement chained after the batch's; a batch that
fails inside its transaction leaves nothing and the batch after it goes in whole.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from typing import Any

from node.core.errors import UserError
from node.http.admin_client import AdminClient
from protocol.consent import Consent
from tests.node.federation_helpers import head, wait_until
from tests.node.test_candidate_import_batch import row
from tests.node.test_import_pipeline import HeldBatch, chain_ok, rows_for, two_in_flight


def poll_health(port: int, flow: Any, stop: threading.Event, seen: list[tuple[int, int]]) -> None:
    """GET /health again and again from a thread (not the node's loop); record each answer that came
    back while the SAME batch's transaction was running from before the request until its answer."""
    while not stop.is_set():
        before = (flow.storing_started, flow.storing_done)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=30) as resp:
            ok = resp.status == 200 and json.loads(resp.read())["status"] == "ok"
        after = (flow.storing_started, flow.storing_done)
        if ok and before == after and before[0] > before[1]:
            seen.append(before)


async def health_during_batches(node: Any, attempts: int, sent: list[int], prefix: str) -> list[tuple[int, int]]:
    client = AdminClient(node.socket_path)
    flow = node.talent.imports
    seen: list[tuple[int, int]] = []
    stop = threading.Event()
    poller = threading.Thread(target=poll_health, args=(node.port, flow, stop, seen), daemon=True)
    poller.start()
    try:
        for attempt in range(attempts):
            answer = await asyncio.to_thread(client.call, "POST", "/candidates/import",
                                             {"rows": rows_for(2, 2000, f"{prefix}{attempt}-")}, 120)
            assert all("id" in r for r in answer["results"])  # every batch went in whole
            sent.append(len(answer["results"]))
            if seen and node.talent.store_off_loop:
                break
    finally:
        stop.set()
        await asyncio.to_thread(poller.join, 30)
    return seen


async def test_health_answers_while_a_batch_is_stored_and_never_while_the_loop_stores_it(net):
    node = await net.start("Youth Futures")
    node.talent.vocabulary()
    sent: list[int] = []
    seen = await health_during_batches(node, 5, sent, "off")
    assert seen, "no /health answer came back while a batch's transaction ran in the writer thread"
    # Control: the same batches stored on the loop's connection. The loop is held from a batch's first
    # statement to its commit, so no answer can come back while one runs: the check above can fail.
    node.talent.store_off_loop = False
    assert await health_during_batches(node, 2, sent, "on") == []
    assert len(node.talent.store.candidates()) == sum(sent) >= 3 * 2000


async def test_a_write_request_waits_for_the_batch_on_the_loop_then_follows_it_in_the_log(net):
    node = await net.start("Youth Futures")
    node.talent.vocabulary()
    held = HeldBatch()
    node.talent.imports.on_writer_open.append(held.install)
    before = head(node, node)
    client = AdminClient(node.socket_path)
    batch = asyncio.create_task(asyncio.to_thread(client.call, "POST", "/candidates/import", {"rows": rows_for(2, 50, "w")}, 120))
    assert await asyncio.to_thread(held.entered.wait, 60), "the batch's transaction started"
    assert node.federation.writes.held  # the write turn is the batch's while its transaction is open
    late = {k: v for k, v in row(0, "late@example.org").items() if k != "row"}
    add = asyncio.create_task(asyncio.to_thread(client.call, "POST", "/candidates/add", late))
    await wait_until(lambda: node.federation.writes.waiting == 1, timeout=30, what="the add to wait for the write turn")
    # The loop is free meanwhile: /health is answered while the batch is still open and the add waits.
    health = await asyncio.to_thread(lambda: urllib.request.urlopen(f"http://127.0.0.1:{node.port}/health", timeout=30).read())
    assert json.loads(health)["status"] == "ok" and not held.release.is_set() and not add.done()
    held.release.set()
    answer, added = await batch, await add
    assert all("id" in r for r in answer["results"]) and added["id"]
    signed = chain_ok(node, before)  # one chain: the batch's 50, then the add's consent statement after them
    assert len(signed) == 51 and all(s.kind == Consent.KIND for s in signed)
    last = Consent.from_value(signed[-1].body_value())
    assert node.talent.store.consent(last.consent_id).candidate_id.hex() == added["id"]
    assert len(node.talent.store.candidates()) == 51


async def test_a_batch_that_fails_in_its_transaction_leaves_nothing_and_the_next_goes_in(net):
    node = await net.start("Youth Futures")
    node.talent.vocabulary()
    # A real failure inside the first batch's transaction, after some of its rows were inserted.
    node.service.db.execute("CREATE TRIGGER test_refuse BEFORE INSERT ON candidates WHEN new.email = 'f30@example.org' "
                            "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END")
    before = head(node, node)
    client = AdminClient(node.socket_path)
    first, second = rows_for(2, 100, "f"), rows_for(200, 100, "g")

    failed, answer = await two_in_flight(node, client, first, second)  # the second signed ahead on the first
    assert isinstance(failed, UserError), failed
    assert all("id" in r for r in answer["results"])  # positive control: the batch after it went in whole
    emails = {c.email for c in node.talent.store.candidates()}
    assert not any(e.startswith("f") for e in emails) and len(emails) == 100
    signed = chain_ok(node, before)  # signed again on the head the failed batch did not leave
    assert len(signed) == 100 and node.talent.imports.in_flight == 0 and not node.federation.writes.held
    node.talent.add_candidate(name="After", email="after@example.org", skills=["excel"])  # the loop writes again
    assert len(node.talent.store.candidates()) == 101
