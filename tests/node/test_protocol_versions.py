"""Protocol version negotiation with two versions of the message set (issue 10 item 8).

``V2`` below is a second message set defined only here: its sync messages start with ``2`` and
carry one more element, so a version-1 decoder refuses them (``unknown-version``) and a version-2
decoder refuses version-1 ones. A node given ``Versions((V1, V2))`` stands for a newer release; a
node with the default registry is today's version-1 node. All nodes are real (aiohttp servers on
127.0.0.1, SQLite homes, real signatures); only the registry a node is started with differs.
"""

from __future__ import annotations

import os
from collections import Counter
from typing import Any

import aiohttp

from node.core.clock import now_ms
from protocol.bodies import Note
from protocol.codec import decode, encode, expect_bool, expect_bytes, expect_int, expect_list, expect_str, expect_version
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.request_auth import sign_request
from protocol.statement import MAX_ENVELOPE_BYTES, Envelope
from protocol.sync import BATCH_LIMITS, PULL_LIMITS, RESULT_LIMITS, Batch, ItemResult, PullRequest, PushResults
from protocol.versions import SUPPORTED, V1, VERSIONS_HEADER, MessageSet, Versions, parse_versions
from tests.node.federation_helpers import PUSH, head, next_notes, pair, synced, wait_until

MARK = "v2-test-set"
USED: Counter[str] = Counter()  # which v2 message was decoded, and how often


def _tail(items: list[Any], name: str, length: int) -> None:
    expect_version(items, name, supported=2)
    expect_list(items, name, length)
    if expect_str(items[-1], f"{name}.mark", 64) != MARK:
        raise RemoteProtocolError(MALFORMED, f"{name} without the v2 mark")


def encode_batch(batch: Batch) -> bytes:
    return encode([2, list(batch.envelopes), batch.more, MARK])


def decode_batch(data: bytes) -> Batch:
    items = expect_list(decode(data, BATCH_LIMITS), "batch")
    _tail(items, "batch", 4)
    USED["batch"] += 1
    envelopes = tuple(expect_bytes(e, "envelope", max_len=MAX_ENVELOPE_BYTES) for e in expect_list(items[1], "envelopes"))
    return Batch(envelopes, expect_bool(items[2], "more"))


def encode_results(results: PushResults) -> bytes:
    return encode([2, [[r.id, r.outcome] for r in results.results], MARK])


def decode_results(data: bytes) -> PushResults:
    items = expect_list(decode(data, RESULT_LIMITS), "push results")
    _tail(items, "push results", 3)
    USED["results"] += 1
    pairs = [expect_list(p, "result", 2) for p in expect_list(items[1], "results")]
    return PushResults(tuple(ItemResult(expect_bytes(p[0], "id", 32), expect_str(p[1], "outcome", 64)) for p in pairs))


def encode_pull(request: PullRequest) -> bytes:
    return encode([2, [[a, s] for a, s in request.have], MARK])


def decode_pull(data: bytes) -> PullRequest:
    items = expect_list(decode(data, PULL_LIMITS), "pull request")
    _tail(items, "pull request", 3)
    USED["pull"] += 1
    pairs = [expect_list(p, "have", 2) for p in expect_list(items[1], "have")]
    return PullRequest(tuple((expect_bytes(p[0], "author", 32), expect_int(p[1], "seq")) for p in pairs))


V2 = MessageSet(2, encode_batch, decode_batch, encode_results, decode_results, encode_pull, decode_pull)
NEWER = Versions((V1, V2))


async def post(target: Any, path: str, body: bytes, identity: Any, version: int) -> tuple[int, dict[str, Any] | None, str]:
    """A signed POST with ``v=version``: status, JSON error body, and the OrgNode-Versions header."""
    auth = sign_request(identity, method="POST", path=path, destination=target.service.node_id, body=body,
                        now=now_ms(), nonce=os.urandom(16), version=version).header_value()
    async with aiohttp.ClientSession() as session:
        async with session.post(f"http://127.0.0.1:{target.port}{path}", data=body,
                                headers={"Authorization": auth, "Content-Type": "application/msgpack"}) as resp:
            error = await resp.json() if resp.content_type == "application/json" else None
            return resp.status, error, resp.headers.get(VERSIONS_HEADER, "")


def notes(runtime: Any, *texts: str) -> None:
    for text in texts:
        runtime.federation.append(Note.KIND, Note(text).to_value(), private=True)


async def test_a_newer_node_and_an_older_one_federate_in_version_1(fed_net):
    USED.clear()
    newer = await fed_net.start("Newer", versions=NEWER)
    older = await fed_net.start("Older")  # today's code: version 1 only
    await pair(newer, older)
    notes(newer, "from the newer node", "again")
    notes(older, "from the older node")
    await synced(older, newer)
    await synced(newer, older)
    assert newer.sync.peer_versions[older.service.node_id] == {1}
    await wait_until(lambda: older.sync.peer_versions.get(newer.service.node_id) == {1, 2}, what="older to see 1,2")
    assert sum(USED.values()) == 0  # not one v2 message was decoded anywhere
    # Positive control in the same test: the newer node does speak v2 to a node that can.
    newest = await fed_net.start("Newest", versions=NEWER)
    await pair(newer, newest)
    notes(newer, "to both")
    await synced(newest, newer)
    await wait_until(lambda: USED["batch"] > 0, what="a v2 batch between the two newer nodes")
    await synced(older, newer)


async def test_two_newer_nodes_speak_version_2(fed_net):
    USED.clear()
    a = await fed_net.start("Alpha", versions=NEWER)
    b = await fed_net.start("Beta", versions=NEWER)
    await pair(a, b)
    notes(a, "first")  # the first exchange is v1 (versions not yet known), every answer teaches them
    await synced(b, a)
    await wait_until(lambda: a.sync.peer_versions.get(b.service.node_id) == {1, 2}, what="a to learn b's versions")
    before = USED.copy()
    notes(a, "second", "third")
    notes(b, "from beta")
    await synced(b, a)
    await synced(a, b)
    await wait_until(lambda: USED["batch"] > before["batch"] and USED["results"] > before["results"]
                     and USED["pull"] > before["pull"], what="v2 push, push results and pull")
    assert b.sync.peer_versions[a.service.node_id] == {1, 2}


async def test_a_version_1_node_refuses_version_2_and_stores_nothing(fed_net):
    older = await fed_net.start("Older")
    sender = await fed_net.start("Sender", versions=NEWER)
    await pair(sender, older)
    await synced(older, sender)
    held = head(older, sender)
    statement = next_notes(sender, ["sent as v2"])[0]
    body_v2 = V2.encode_batch(Batch((Envelope.of(statement).encode(),)))
    body_v1 = V1.encode_batch(Batch((Envelope.of(statement).encode(),)))
    identity = sender.service.identity

    status, error, advertised = await post(older, PUSH, body_v2, identity, version=2)
    assert (status, error["error"] if error else None, advertised) == (400, "unknown-version", "1")
    status, error, _ = await post(older, PUSH, body_v2, identity, version=1)  # a v2 body under v=1
    assert (status, error["error"] if error else None) == (400, "unknown-version")
    status, error, _ = await post(older, PUSH, body_v1, identity, version=3)  # a version nobody speaks
    assert (status, error["error"] if error else None) == (400, "unknown-version")
    assert head(older, sender) == held  # nothing stored
    # Positive control: the very same statement in version 1 is taken.
    status, error, _ = await post(older, PUSH, body_v1, identity, version=1)
    assert status == 200 and error is None
    assert head(older, sender) == held + 1


async def test_a_peer_downgraded_to_version_1_is_reached_again_at_once(fed_net):
    """The newer node learnt {1, 2} from a peer that is then restarted by an older release: its v2
    push is refused (unknown-version, advertising 1), it falls back to v1 in the same attempt and
    records the peer's versions; nothing is lost."""
    USED.clear()
    a = await fed_net.start("Alpha", versions=NEWER)
    b = await fed_net.start("Beta", versions=NEWER)
    await pair(a, b)
    notes(a, "one")
    await synced(b, a)
    await wait_until(lambda: a.sync.peer_versions.get(b.service.node_id) == {1, 2}, what="a to learn b's versions")
    home = await fed_net.stop(b)
    b_old = await fed_net.restart(home, versions=SUPPORTED)  # the same home, run by a version-1 release
    notes(a, "two", "three")
    await synced(b_old, a)
    assert a.sync.peer_versions[b_old.service.node_id] == {1}
    assert a.sync.delivery(b_old.service.node_id).attempts == 0  # the fallback was not a failed push


def test_versions_header_parsing():
    assert parse_versions(None) == {1}
    assert parse_versions("1") == {1} and parse_versions("1, 2") == {1, 2} and parse_versions("2,1") == {1, 2}
    for bad in ("", "x", "1,,2", "0", "256", "1;2", "01x", "1," * 20 + "1", " ".join(["1"] * 40), "١"):
        assert parse_versions(bad) == {1}, bad
    assert NEWER.choose(None) is V1 and NEWER.choose({1, 2}) is V2 and NEWER.choose({2, 9}) is V2
    assert SUPPORTED.choose({1, 2}) is V1 and SUPPORTED.header_value() == "1" and NEWER.header_value() == "1,2"


def _refuse(data: bytes) -> Any:
    raise RemoteProtocolError("unknown-version", "this build advertises 2 but cannot read it")


async def test_a_peer_that_advertises_2_but_refuses_it_is_reached_in_version_1(fed_net, caplog):
    """A broken (or lying) peer that keeps advertising ``1,2`` while refusing v2: the refused version
    is dropped from what the sender records, so it falls back to v1 instead of retrying v2 forever."""
    USED.clear()
    broken = Versions((V1, MessageSet(2, encode_batch, _refuse, encode_results, _refuse, encode_pull, _refuse)))
    a = await fed_net.start("Alpha", versions=NEWER)
    b = await fed_net.start("Liar", versions=broken)
    await pair(a, b)
    a.sync.peer_versions[b.service.node_id] = frozenset({1, 2})  # as if learnt from its header
    notes(a, "one", "two")
    await synced(b, a)
    await wait_until(lambda: a.sync.peer_versions[b.service.node_id] == {1}, what="a to drop the refused version")
    fallbacks = sum(r.getMessage() == "peer.version-fallback" for r in caplog.records)
    assert 1 <= fallbacks <= 2  # the first push and pull (in flight together) may each be refused once
    notes(a, "three", "four")
    await synced(b, a)
    for _ in range(3):
        await b.sync.pull_from(a.service.node_id, a.service.config.url)  # answers keep advertising 1,2
        await a.sync.pull_from(b.service.node_id, b.service.config.url)
    assert a.sync.peer_versions[b.service.node_id] == {1}
    assert sum(r.getMessage() == "peer.version-fallback" for r in caplog.records) == fallbacks  # no more retries
    assert a.sync.delivery(b.service.node_id).attempts == 0
