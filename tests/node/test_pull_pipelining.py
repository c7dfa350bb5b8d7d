"""A catch-up pull asks for the next page while it takes in the page it has (one page ahead, issue
11 item 4): pages are still taken in order, each asked once, and a pull that stops (an error, the
end) drops the page it asked ahead. A peer's last contact is written at most once a second."""

from __future__ import annotations

import asyncio

from node.http.federation_api import CONTACT_RESOLUTION_MS
from protocol.bodies import Note
from protocol.statement import Envelope, Header
from protocol.sync import MAX_BATCH, PullRequest
from tests.node.federation_helpers import PULL, pair, synced, wait_until

PAGES = 5


async def _backlog_without_pushes(net, n: int = MAX_BATCH * PAGES - 3):
    """A and B paired and synced, then ``n`` private notes at A that only a pull of B can bring (the
    outbox emptied, the push sender not woken)."""
    a = await net.start("Pipeline Author", sync_interval=30)
    b = await net.start("Pipeline Reader", sync_interval=30)
    await pair(a, b)
    await synced(b, a)
    start = b.service.log.head(a.service.node_id).seq
    a.federation.on_outbox = lambda peers: None
    for i in range(n):
        a.federation.append(Note.KIND, Note(f"paged {i}").to_value(), private=True)
    a.service.db.execute("DELETE FROM outbox")
    return a, b, start


def _seq(envelope: bytes) -> int:
    return Header.decode(Envelope.decode(envelope).header_bytes).seq


def _spy(b, events: list[tuple[str, int]], tasks: list[asyncio.Task]):
    """Record every pull B asks (the have seq) and every page it takes in (its first seq), in order."""
    post, take = b.sync.negotiation.post, b.federation.take_batch

    async def asking(client, url, path, peer_id, encode, headers=None):
        if path == PULL:
            request = PullRequest.decode(encode(b.sync.negotiation.versions.choose(None)))
            events.append(("ask", dict(request.have).get(peer_id, 0)))
            tasks.append(asyncio.current_task())
        return await post(client, url, path, peer_id, encode, headers)

    def taking(origin, batch):
        events.append(("take", _seq(batch.envelopes[0])))
        return take(origin, batch)

    b.sync.negotiation.post = asking
    b.federation.take_batch = taking


async def test_a_pipelined_pull_takes_every_page_in_order_and_asks_the_next_before_taking_one(net):
    a, b, start = await _backlog_without_pushes(net)
    a_id = a.service.node_id
    events: list[tuple[str, int]] = []
    _spy(b, events, [])
    report = await b.sync.pull_from(a_id, a.service.config.url)
    assert report.ok and report.appended == MAX_BATCH * PAGES - 3
    seqs = [s.seq for s in b.service.log.statements(a_id)]
    assert seqs == list(range(1, a.service.log.head(a_id).seq + 1))  # all of A's log, none missing
    asks = [seq for kind, seq in events if kind == "ask"]
    takes = [seq for kind, seq in events if kind == "take"]
    assert asks == [start + MAX_BATCH * k for k in range(PAGES)]  # each page asked once, none again
    assert takes == [seq + 1 for seq in asks]  # taken in order
    for k in range(PAGES - 1):  # the next page was asked before this one was taken in
        assert events.index(("ask", asks[k + 1])) < events.index(("take", takes[k]))


async def test_a_pull_stopped_by_a_refused_page_drops_the_page_asked_ahead(net):
    a, b, start = await _backlog_without_pushes(net)
    a_id = a.service.node_id
    events: list[tuple[str, int]] = []
    tasks: list[asyncio.Task] = []
    _spy(b, events, tasks)
    take = b.federation.take_batch

    def taking(origin, batch):
        if sum(kind == "take" for kind, _ in events) == 3:  # an admin stops trusting A as the 4th page comes
            b.federation.set_state(a_id, "removed")
        return take(origin, batch)

    b.federation.take_batch = taking
    report = await b.sync.pull_from(a_id, a.service.config.url)
    assert not report.ok and report.error == "untrusted-sender"
    assert report.appended == 3 * MAX_BATCH  # pages 1-3; the fourth was refused as a whole
    assert b.service.log.head(a_id).seq == start + 3 * MAX_BATCH
    asks = [seq for kind, seq in events if kind == "ask"]
    assert asks == [start + MAX_BATCH * k for k in range(5)]  # the fifth was asked ahead, and is never taken
    assert [kind for kind, _ in events].count("take") == 4
    await wait_until(lambda: all(t.done() for t in tasks), what="the page asked ahead to be dropped")
    assert tasks[-1].cancelled() or tasks[-1].exception() is None


async def test_a_peers_last_contact_is_written_once_a_second(net):
    a = await net.start("Contact Server", sync_interval=30)
    b = await net.start("Contact Client", sync_interval=30)
    await pair(a, b)
    await synced(b, a)
    a_id, b_id, url = a.service.node_id, b.service.node_id, a.service.config.url
    t0 = a.federation.clock() + 10_000
    request = PullRequest(((a_id, a.service.log.head(a_id).seq),)).encode()

    async def contact_at(ms: int) -> int | None:
        a.federation.clock = lambda: ms
        assert (await b.client.post(url, PULL, a_id, request)).status == 200
        return a.federation.peers.get(b_id).last_contact

    assert await contact_at(t0) == t0  # recorded
    assert await contact_at(t0 + CONTACT_RESOLUTION_MS - 1) == t0  # within the resolution: not written again
    assert await contact_at(t0 + CONTACT_RESOLUTION_MS) == t0 + CONTACT_RESOLUTION_MS  # and then it is
    assert await contact_at(t0 - 5_000) == t0 - 5_000  # a clock set back is written at once
