"""Catch-up of a node that was offline (issue 11 item 4): each body of the backlog is sealed for it
once (the pull claims it from the push sender, and a starting node's own-log recovery request
holds the sender until its pull comes), a catch-up pages through an empty request bucket,
and a refused request says when to retry."""

from __future__ import annotations

from node.core.envelopes import PULL_EXPECTED_MS
from node.core.limits import PeerLimits
from protocol.bodies import Note
from protocol.sync import PullRequest
from tests.node.federation_helpers import PULL, pair, synced, wait_until

BACKLOG = 64 * 6 + 10  # seven pages


async def _offline_backlog(net, limits: PeerLimits | None = None):
    a = await net.start("Backlog Author", sync_interval=30)
    b = await net.start("Backlog Reader", sync_interval=30)
    await pair(a, b)
    await synced(b, a)
    home = await net.stop(b)
    for i in range(BACKLOG):
        a.federation.append(Note.KIND, Note(f"while you were away {i}").to_value(), private=True)
    if limits is not None:
        a.fed_state.limits = limits
    return a, home


async def test_a_backlog_is_sealed_once_for_a_rejoining_node(net):
    a, home = await _offline_backlog(net)
    sealed: dict[bytes, int] = {}
    a.federation.outbound_hooks.append(lambda body, statement: sealed.__setitem__(statement.id, sealed.get(statement.id, 0) + 1))
    b = await net.restart(home)
    await synced(b, a, timeout=30)
    assert len(sealed) >= BACKLOG  # positive control: the whole backlog was sealed for the reader
    twice = sum(1 for n in sealed.values() if n > 1)
    # At most two pages are sealed twice: the first (a push already on the wire as the first pull arrives) and the last
    # (pulled, then still in the outbox until the reader's next have vector acknowledges it). The old
    # code pushed the whole backlog while it was being pulled.
    assert twice <= 2 * 64, f"{twice} bodies sealed twice"
    await wait_until(lambda: a.federation.peers.outbox_size(b.service.node_id) == 0, timeout=10,
                     what="the reader's outbox to empty")


async def test_a_node_asking_for_its_own_log_back_holds_the_push_sender_until_it_pulls(net):
    # A starting node first asks its partners for its own log (own-log recovery); that request is
    # contact and woke the push sender, which pushed the backlog while the reader pulled it (138
    # bodies sealed twice in the test above). Now the recovery request holds the sender briefly.
    a = await net.start("Recovery Server", sync_interval=30)
    b = await net.start("Recovery Asker", sync_interval=30)
    await pair(a, b)
    await synced(b, a)
    a_id, b_id, url = a.service.node_id, b.service.node_id, a.service.config.url
    now = a.federation.clock()
    assert a.federation.pull_claimed_until(b_id, now) is None  # control: nothing holds the sender yet
    recovery = await b.client.post(url, PULL, a_id, PullRequest(((b_id, b.service.log.head(b_id).seq),)).encode())
    assert recovery.status == 200
    now = a.federation.clock()
    until = a.federation.pull_claimed_until(b_id, now)
    assert until is not None and now < until <= now + PULL_EXPECTED_MS
    assert a.federation.pull_claimed_until(b_id, until) is None  # the hold ends if no pull comes
    # The pull that was expected comes (a's whole log in one page): the sender is free at once.
    answer = await b.client.post(url, PULL, a_id, PullRequest(((a_id, 0),)).encode())
    assert answer.status == 200
    assert a.federation.pull_claimed_until(b_id, a.federation.clock()) is None


async def test_a_catch_up_pages_through_an_empty_request_bucket(net):
    # Three requests of burst and (practically) no refill: the old limit stopped the catch-up after
    # three pages, until the next sync interval.
    a, home = await _offline_backlog(net, PeerLimits(rate=0.001, burst=3))
    a.service.db.execute("DELETE FROM outbox")  # nothing to push: only the reader's pull can bring the backlog
    b = await net.restart(home)
    # The whole backlog in the first pull cycle (the next is 30 s away), more than three pages.
    await synced(b, a, timeout=10)
    # The bucket is empty now: a request that continues no catch-up is refused, and says when to retry.
    answer = await b.client.post(a.service.config.url, PULL, a.service.node_id, PullRequest(((a.service.node_id, 0),)).encode())
    assert answer.status == 429 and answer.error_code == "rate-limited"
    assert answer.retry_after is not None and answer.retry_after >= 1


async def test_a_pull_answer_is_one_sealed_page_only_for_an_asker_that_asks(net):
    from protocol.page_seal import ASK_SEALED_PAGES, open_page
    from protocol.sync import Batch

    a, home = await _offline_backlog(net)
    b = await net.restart(home)
    await synced(b, a, timeout=30)
    request = PullRequest(((a.service.node_id, 1),)).encode()
    url, a_id = a.service.config.url, a.service.node_id
    paged = Batch.decode((await b.client.post(url, PULL, a_id, request, headers=ASK_SEALED_PAGES)).body)
    plain = Batch.decode((await b.client.post(url, PULL, a_id, request)).body)
    # Without the header (a node from before sealed pages): the version-1 answer, each body sealed alone.
    assert plain.page is None and len(plain.envelopes) == 64
    # With it: the same statements, the readable bodies in one page that opens with one KEM.
    assert paged.page is not None and len(paged.envelopes) == 64
    assert sum(item is not None for item in paged.page.items) >= 60
    opener = open_page(paged.page, b.service.identity, 64)
    from protocol.statement import Envelope

    first = next(i for i, item in enumerate(paged.page.items) if item is not None)
    statement = Envelope.decode(paged.envelopes[first]).open_plain()
    assert opener.open(first, statement.id, paged.page.items[first] or b"")
