"""Two partners rotating their keys at the same moment still converge (issue 15 item 4).

Real nodes on 127.0.0.1, real pairing, real sync. Before the fix a partner learnt a rotation only
from the rotated node's log, over requests signed with its own key: once both had rotated neither
could authenticate to the other, for good (the control below shows that failure, which is what the
first test would see). Now a request that fails its signature check makes the receiver fetch the
sender's card bundle and adopt a key history that carries its own on (node/core/key_refresh.py).
The pull interval is 30 s, so convergence within the test comes from the refused pushes alone.
"""

from __future__ import annotations

import logging
import os

import pytest

from node.core.clock import now_ms
from node.runtime import NodeRuntime
from protocol.bodies import Note
from protocol.identity import Identity
from protocol.request_auth import RequestAuth, signed_bytes
from tests.conftest import free_port
from tests.node.federation_helpers import PUSH, batch_of, head, next_notes, pair, push, signed_post, synced, wait_until

SLOW_PULLS = {"sync_interval": 30.0, "retry_base": 0.1, "retry_cap": 0.5}


async def two_partners(fed_net) -> tuple[NodeRuntime, NodeRuntime]:
    a = await fed_net.start("Alpha", **SLOW_PULLS)
    b = await fed_net.start("Beta", **SLOW_PULLS)
    await pair(a, b)
    a.federation.append(Note.KIND, Note("before").to_value(), private=True)
    b.federation.append(Note.KIND, Note("before").to_value(), private=True)
    await synced(b, a)
    await synced(a, b)
    return a, b


def rotate_both(a: NodeRuntime, b: NodeRuntime) -> None:
    """Both rotate in one turn of the loop (no request of either is signed in between), then each
    appends a note signed with its new key."""
    a.federation.rotate_key()
    b.federation.rotate_key()
    for rt in (a, b):
        rt.federation.append(Note.KIND, Note("after").to_value(), private=True)


def events(caplog: pytest.LogCaptureFixture, name: str) -> int:
    return sum(1 for r in caplog.records if r.getMessage() == name)


async def test_two_partners_rotating_at_the_same_moment_converge(fed_net, caplog):
    caplog.set_level(logging.INFO, logger="orgnode")
    a, b = await two_partners(fed_net)
    rotate_both(a, b)
    await wait_until(lambda: head(b, a) == head(a, a) and head(a, b) == head(b, b), timeout=10, what="both logs across")
    for holder, author in ((a, b), (b, a)):
        history = holder.service.log.key_history(author.service.node_id)
        assert history is not None and history.current_key == author.service.identity.signing_public
        assert len(history.periods) == 2
        assert holder.federation.peers.get(author.service.node_id).invalid_count == 0
    assert events(caplog, "key.rotation-learnt") >= 2  # each learnt the other's rotation from its card


async def test_control_without_the_card_refresh_two_rotations_stall(fed_net):
    """The old behaviour (no ``learn_rotations``): each side's pushes are refused again and again and
    a push signed with the new key is refused ``bad-signature``; neither takes the other's rotation."""
    a, b = await two_partners(fed_net)
    for rt in (a, b):
        rt.fed_state.learn_rotations = None
    rotate_both(a, b)
    await wait_until(lambda: a.sync.delivery(b.service.node_id).attempts >= 3 and b.sync.delivery(a.service.node_id).attempts >= 3,
                     timeout=10, what="three refused pushes each way")
    assert head(b, a) < head(a, a) and head(a, b) < head(b, b)
    answer = await push(a, b, *next_notes(a, ["signed with the new key"]))
    assert (answer.status, answer.error) == (401, "bad-signature")


async def test_a_rotated_away_key_stays_refused_and_fetches_nothing(fed_net, caplog):
    a, b = await two_partners(fed_net)
    old = a.service.identity
    a.federation.rotate_key()
    a.federation.append(Note.KIND, Note("after").to_value(), private=True)
    await wait_until(lambda: head(b, a) == head(a, a), timeout=10, what="A's rotation at B")
    caplog.set_level(logging.INFO, logger="orgnode")
    caplog.clear()
    before = head(b, a)
    answer = await push(old, b, *next_notes(a, ["honest statement, request signed with the old key"]))
    assert (answer.status, answer.error) == (401, "bad-signature")
    assert b"rotated-away key" in answer.body
    assert head(b, a) == before
    assert not [r for r in caplog.records if r.getMessage().startswith("key.")]  # no card fetched for it
    assert b.service.log.key_history(a.service.node_id).current_key == a.service.identity.signing_public


def forged_auth(stranger: Identity, origin: bytes, destination: bytes, body: bytes) -> str:
    """A request naming ``origin`` but signed by a stranger's key."""
    ts, nonce = now_ms(), os.urandom(16)
    signature = stranger.sign(signed_bytes("POST", PUSH, origin, destination, ts, nonce, body))
    return RequestAuth(origin, destination, ts, nonce, signature).header_value()


async def test_forged_requests_naming_a_partner_are_refused_and_fetch_its_card_at_most_once(fed_net, caplog):
    a, b = await two_partners(fed_net)
    caplog.set_level(logging.INFO, logger="orgnode")
    caplog.clear()
    stranger = Identity.from_random(os.urandom)
    held = b.service.log.key_history(a.service.node_id)
    for text in ("one", "two", "three", "four", "five"):
        body = batch_of(*next_notes(a, [text], identity=stranger))
        answer = await signed_post(b, PUSH, body, auth=forged_auth(stranger, a.service.node_id, b.service.node_id, body))
        assert (answer.status, answer.error) == (401, "bad-signature")
    assert events(caplog, "key.refresh-nothing-new") == 1  # then quiet for MIN_INTERVAL_MS
    assert b.service.log.key_history(a.service.node_id) == held
    assert b.federation.peers.get(a.service.node_id).invalid_count == 0  # not blamed on the partner it names


async def test_a_card_that_cannot_be_fetched_adopts_nothing_and_the_request_stays_refused(fed_net, caplog):
    """B cannot reach A back (its trust-list URL for A points at a closed port): A's requests after
    its rotation are refused ``bad-signature``, the failed fetch is logged, B's key history is unchanged."""
    a, b = await two_partners(fed_net)
    held = b.service.log.key_history(a.service.node_id)
    assert b.federation.peers.follow_card_url(a.service.node_id, f"http://127.0.0.1:{free_port()}")
    caplog.set_level(logging.INFO, logger="orgnode")
    a.federation.rotate_key()
    answer = await push(a, b, *next_notes(a, ["signed with the new key"]))
    assert (answer.status, answer.error) == (401, "bad-signature")
    assert events(caplog, "key.refresh-failed") == 1
    assert b.service.log.key_history(a.service.node_id) == held
