"""Issue 10 item 7: a link that cuts every connection after N bytes must not stall replication.

Two real nodes talk only through ``FaultProxy``s (tests/faults/proxy.py) that reset every connection
once 8 KiB have passed. A full batch of 64 notes is far larger than that, so a sender that always
retries the same batch never gets one through (the old code: push and pull both stalled). The node
halves its push batch and its pull page after each cut transfer, so every statement arrives.
"""

from __future__ import annotations

from protocol.bodies import Note
from protocol.sync import MAX_BATCH
from tests.conftest import free_port
from tests.faults.proxy import FaultProxy
from tests.node.federation_helpers import head, ids_from, pair, wait_until

CUT = 8 * 1024


async def proxied_pair(net):
    """A and B, each reaching the other only through its own proxy (the URL in each node's card)."""
    to_a, to_b = FaultProxy(0, listen_port=free_port()), FaultProxy(0, listen_port=free_port())
    a = await net.start("A", url=f"http://127.0.0.1:{to_a.listen[1]}")
    b = await net.start("B", url=f"http://127.0.0.1:{to_b.listen[1]}")
    to_a.target, to_b.target = ("127.0.0.1", a.port), ("127.0.0.1", b.port)
    await to_a.start()
    await to_b.start()
    await pair(a, b)
    return a, b, to_a, to_b


async def test_a_link_cut_after_8_kib_still_delivers_every_statement(net):
    a, b, to_a, to_b = await proxied_pair(net)
    try:
        # Positive control: through the proxies, with no fault yet, a statement arrives.
        a.federation.append(Note.KIND, Note("before the fault").to_value(), private=True)
        await wait_until(lambda: head(b, a) == head(a, a), 10, what="the first note to arrive")

        to_a.cut_after_bytes = to_b.cut_after_bytes = CUT
        made = [a.federation.append(Note.KIND, Note(f"over a cut link {i} " + "x" * 300).to_value(), private=True)
                for i in range(200)]
        await wait_until(lambda: head(b, a) == head(a, a), 60, what="all 200 statements through the cut link")
        assert to_a.stats.resets + to_b.stats.resets > 0, "the proxies never cut a connection: no fault was tested"
        held = ids_from(b, a)
        assert len(held) == len(set(held)) == head(a, a)
        assert {s.id for s in made} <= set(held)
        # The sizes came down under the cut (and grow back after successes, never above a full batch).
        sizes = [a.sync.push_sizes[b.service.node_id].size, b.sync.pull_sizes[a.service.node_id].size]
        assert all(1 <= s <= MAX_BATCH for s in sizes)
    finally:
        await to_a.stop()
        await to_b.stop()


async def test_pull_pages_shrink_too(net):
    """With A's sender stopped, only B's pulls can carry A's log over the cut link."""
    a, b, to_a, to_b = await proxied_pair(net)
    try:
        await a.sync.stop()  # no pushes from A from here on: B must pull
        to_a.cut_after_bytes = to_b.cut_after_bytes = CUT
        for i in range(150):
            a.federation.append(Note.KIND, Note(f"pulled over a cut link {i} " + "x" * 300).to_value(), private=True)
        await wait_until(lambda: head(b, a) == head(a, a), 60, what="B to pull all of A's log through the cut link")
        assert to_a.stats.resets > 0
    finally:
        await to_a.stop()
        await to_b.stop()
