"""Delivery over time: catch-up after downtime, out-of-order delivery, idempotence, key rotation."""

from __future__ import annotations

import os
import time

from protocol.bodies import Note
from protocol.errors import REJECTED_BASE, UNKNOWN_KEY, WRONG_AUTHOR
from protocol.identity import Identity
from protocol.log import history_for
from protocol.statement import verify_signature
from protocol.sync import MAX_BATCH
from tests.node.federation_helpers import head, ids_from, integrity_ok, next_notes, note, pair, push, synced, wait_until


async def test_catch_up_after_downtime_by_pull_alone(fed_net):
    # A retries pushes only after a minute: C can only get the statements by pulling.
    a = await fed_net.start("Author", retry_base=60, retry_cap=60)
    c = await fed_net.start("Sleeper", sync_interval=1.0)
    await pair(a, c)
    await synced(c, a)
    home = await fed_net.stop(c)
    # More than one pull page (MAX_BATCH = 64): the puller must follow ``more``.
    made = [a.federation.append(Note.KIND, Note(f"while you slept {i}").to_value(), private=True) for i in range(MAX_BATCH + 6)]
    made.append(a.federation.append("org_card", a.service.org_card().to_value(), private=False))
    # A's one push attempt fails; it now backs off for ~a minute (by its clock, no sleep needed here).
    await wait_until(lambda: a.sync.delivery(c.service.node_id).attempts >= 1, what="A's failed push to the stopped C")
    assert not a.sync.delivery(c.service.node_id).ready(a.federation.clock())
    assert a.federation.peers.outbox_size(c.service.node_id) == len(made)

    started = time.monotonic()
    c2 = await fed_net.restart(home)
    await wait_until(lambda: head(c2, a) == head(a, a), timeout=2 * c2.service.config.sync_interval,
                     what="C to catch up within two sync intervals")
    elapsed = time.monotonic() - started
    assert elapsed < 2 * c2.service.config.sync_interval
    held = ids_from(c2, a)
    assert all(s.id in held for s in made)
    assert [s.body_value()["text"] for s in c2.service.log.statements(a.service.node_id) if s.kind == "note"] == [
        f"while you slept {i}" for i in range(MAX_BATCH + 6)
    ]
    # C's pull was authenticated contact: A's backoff resets and its outbox drains at once (duplicates).
    await wait_until(lambda: a.federation.peers.outbox_size(c2.service.node_id) == 0, 3, what="A's outbox to drain")
    assert len(ids_from(c2, a)) == len(set(ids_from(c2, a)))
    assert integrity_ok(c2.service.home.db_path)


async def test_out_of_order_is_held_then_applied_and_duplicates_are_noops(fed_net):
    a = await fed_net.start("Sender")
    b = await fed_net.start("Receiver")
    await pair(a, b)
    await synced(b, a)
    await fed_net.halt(a)  # from here on A's statements are crafted with its identity and pushed by hand
    s1, s2, s3, s4 = next_notes(a, ["one", "two", "three", "four"])
    base = head(b, a)
    assert (await push(a, b, s4, s3)).results() == ["held", "held"]
    assert head(b, a) == base
    assert {bytes(r["id"]) for r in b.service.db.query("SELECT id FROM held")} == {s3.id, s4.id}
    assert (await push(a, b, s2)).results() == ["held"]
    assert (await push(a, b, s1)).results() == ["appended"]  # releases 2, 3 and 4 in order
    assert head(b, a) == base + 4
    assert ids_from(b, a)[-4:] == [s1.id, s2.id, s3.id, s4.id]
    assert not list(b.service.db.query("SELECT 1 FROM held"))
    # The same statements again (another request, same envelopes): one effect only.
    assert (await push(a, b, s1, s2, s3, s4)).results() == ["duplicate"] * 4
    assert len(ids_from(b, a)) == base + 4


async def test_rejected_base_is_refused_and_survives_restart(fed_net):
    a = await fed_net.start("Sender")
    b = await fed_net.start("Receiver")
    await pair(a, b)
    await synced(b, a)
    await fed_net.halt(a)
    last = a.service.log.head(a.service.node_id)
    # A statement at A's next position claiming A but signed by another key: rejected and recorded.
    impostor = Identity.from_random(os.urandom)
    forged = note(Identity(impostor.signing_key, impostor.x25519_key, impostor.mlkem_key, a.service.identity.genesis_public),
                  last.seq + 1, last.id, "forged")
    on_forged = note(a.service.identity, last.seq + 2, forged.id, "builds on the forgery")
    # The successor arrives first (held: its base is not known yet), then the forged base.
    assert (await push(a, b, on_forged)).results() == ["held"]
    assert (await push(a, b, forged)).results() == [WRONG_AUTHOR]
    assert head(b, a) == last.seq
    # Sent again now, the successor is refused: its base was rejected (and is remembered).
    assert (await push(a, b, on_forged)).results() == [REJECTED_BASE]
    codes = {bytes(r["id"]): r["code"] for r in b.service.db.query("SELECT id, code FROM rejected")}
    assert codes == {forged.id: WRONG_AUTHOR, on_forged.id: REJECTED_BASE}

    home = await fed_net.stop(b)
    b2 = await fed_net.restart(home, confirmed=False)  # A is halted: B still waits to confirm its own log, and takes statements in
    on_on_forged = note(a.service.identity, last.seq + 3, on_forged.id, "two steps from the forgery")
    assert (await push(a, b2, forged, on_forged, on_on_forged)).results() == [REJECTED_BASE] * 3
    assert head(b2, a) == last.seq
    # The honest continuation is still accepted.
    # The honest continuation is still accepted; the copy of the successor held before its base was
    # rejected is dropped when its position comes up, never applied.
    honest = note(a.service.identity, last.seq + 1, last.id, "honest")
    assert (await push(a, b2, honest)).results() == ["appended"]
    assert head(b2, a) == last.seq + 1
    assert not list(b2.service.db.query("SELECT 1 FROM held"))
    assert ids_from(b2, a)[-1] == honest.id


async def test_key_rotation(fed_net):
    a = await fed_net.start("Rotator")
    b = await fed_net.start("Follower")
    await pair(a, b)
    before = [a.federation.append(Note.KIND, Note(f"old key {i}").to_value(), private=True) for i in range(3)]
    await synced(b, a)
    old_identity = a.service.identity
    rotation = a.federation.rotate_key()
    assert a.service.identity.signing_public != old_identity.signing_public
    after = [a.federation.append(Note.KIND, Note(f"new key {i}").to_value(), private=True) for i in range(3)]
    await synced(b, a)
    held = b.service.log.statements(a.service.node_id)
    assert [s.id for s in held][-7:] == [*(s.id for s in before), rotation.id, *(s.id for s in after)]
    assert all(s.header.key == old_identity.signing_public for s in held if s.seq <= rotation.seq)
    assert all(s.header.key == a.service.identity.signing_public for s in held if s.seq > rotation.seq)
    # Every statement B holds still verifies, each under the key valid at its seq (protocol code only).
    history = history_for(held[0], [s for s in held if s.kind == "key_rotation"])
    for s in held:
        verify_signature(s.header_bytes, s.signature)
        history.check_key(s.header.key, s.seq)
    # A's requests are now signed with the new key and accepted; none was scored as invalid.
    assert b.federation.peers.get(a.service.node_id).invalid_count == 0

    # A statement made with A's old key after the rotation: refused as a rotated-away key.
    late = next_notes(a, ["signed with the retired key"], identity=old_identity)
    answer = await push(a, b, *late)
    assert answer.results() == [UNKNOWN_KEY]
    assert head(b, a) == head(a, a)
    # A request signed with the retired key is not authenticated either.
    honest = next_notes(a, ["fine"])
    answer = await push(old_identity, b, *honest)
    assert (answer.status, answer.error) == (401, "bad-signature")
    assert head(b, a) == head(a, a)


async def test_large_catch_up_pages_through_in_one_pull_cycle(fed_net):
    """Several full pages of sealed (ML-KEM) bodies — each answer larger than one network read —
    arrive in a single pull cycle: answers are read to the end, not to the first chunk."""
    a = await fed_net.start("Alpha", sync_interval=60)
    b = await fed_net.start("Beta", sync_interval=60)
    for i in range(5 * MAX_BATCH):
        a.federation.append(Note.KIND, Note(f"backlog {i} " + "x" * 200).to_value(), private=True)
    start = time.monotonic()
    await pair(a, b)  # becoming trusted triggers one pull cycle; the next is 60 s away
    target = a.service.log.head(a.service.node_id).seq
    await wait_until(lambda: head(b, a) >= target, timeout=20, what="the whole backlog")
    assert time.monotonic() - start < 20
    assert [s.body is not None for s in b.service.log.statements(a.service.node_id)].count(True) >= 5 * MAX_BATCH
