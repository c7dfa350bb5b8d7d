"""Long reads off the event loop (issue 11; node/core/off_loop_reads.py).

Real nodes with a log of thousands of own statements (appended through ``Federation.append_own_many``,
signed and stored as any own statement): ``/health`` on the federation port is answered in full while
``POST /impact`` counts the figures and while ``GET /log`` reads and views a page, each in a worker
thread on a read-only connection. The control runs the same impact count on the loop: the same poller
then sees no answer while it runs, so the poller can tell a held loop from a free one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest

from node.core.off_loop_reads import OffLoopReader
from node.core.views import statement_view
from node.http.admin_client import AdminClient
from protocol.bodies import Note
from protocol.impact import compute

Progress = Callable[[], tuple[int, int]]


def reader_progress() -> tuple[int, int]:
    return OffLoopReader.started, OffLoopReader.finished


class Poller:
    """GET /health again and again from a thread (not the node's loop); ``seen``: each answer that came
    back while the SAME read was under way (``progress()``: reads begun, finished) from before the
    request was sent until after its answer arrived."""

    def __init__(self, port: int, progress: Progress) -> None:
        self.port, self.progress = port, progress
        self.seen: list[tuple[int, int]] = []
        self.answered = 0
        self._answer = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _poll(self) -> None:
        while not self._stop.is_set():
            before = self.progress()
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=30) as resp:
                ok = resp.status == 200 and json.loads(resp.read())["status"] == "ok"
            after = self.progress()
            if ok and before == after and before[0] > before[1]:
                self.seen.append(before)
            with self._answer:
                self.answered += ok
                self._answer.notify_all()

    def _wait_answered(self, n: int) -> None:
        with self._answer:
            assert self._answer.wait_for(lambda: self.answered >= n, timeout=60), "the poller got no answer"

    async def __aenter__(self) -> Poller:
        self._thread.start()
        await asyncio.to_thread(self._wait_answered, 1)
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.to_thread(self._wait_answered, self.answered + 1)  # it ran after the work too
        self._stop.set()
        await asyncio.to_thread(self._thread.join, 30)


@pytest.fixture
async def big_node(net):
    node = await net.start("Youth Futures")
    for start in range(0, 20_000, 5_000):
        node.federation.append_own_many(Note.KIND, [Note(f"note {n}").to_value() for n in range(start, start + 5_000)],
                                        private=True)
    return node


async def test_health_answers_while_impact_is_counted_and_not_while_the_loop_counts_it(big_node):
    node = big_node
    client = AdminClient(node.socket_path)
    answers = []
    async with Poller(node.port, reader_progress) as poller:
        for _ in range(5):  # one report is enough on any machine seen so far; a few more for a slow one
            answers.append(await asyncio.to_thread(client.call, "POST", "/impact", {}, 120))
            if poller.seen:
                break
    assert poller.seen, "no /health answer came back while the impact figures were counted"
    # The figures are those of the count on the loop's connection, over the same statements.
    held = node.provenance.held_statements()
    assert len(held) > 20_000
    for answer in answers:
        expected = compute(node.service.node_id, held, answer["since"], answer["until"]).figures
        assert {k: answer[k] for k in expected} == expected
    assert answers[0]["statements_exchanged"] >= 20_000  # positive control: every note was counted

    # Control: the same count on the loop. The poller keeps asking, and no answer comes back while it runs.
    on_loop = [0, 0]
    async with Poller(node.port, lambda: (on_loop[0], on_loop[1])) as control:
        on_loop[0] += 1
        node.provenance.impact(0, node.federation.clock())
        on_loop[1] += 1
    assert control.answered >= 2 and control.seen == []


async def test_health_answers_while_the_own_log_is_read_and_it_is_the_same_list(big_node):
    node = big_node
    client = AdminClient(node.socket_path)
    answers = []
    async with Poller(node.port, reader_progress) as poller:
        for _ in range(3):
            answers.append(await asyncio.to_thread(client.call, "GET", "/log", None, 120))
            if poller.seen:
                break
    assert poller.seen, "no /health answer came back while a page of the log was read"
    expected = [statement_view(s) for s in node.service.own_statements()]
    assert len(expected) > 20_000 and all(answer == expected for answer in answers)
