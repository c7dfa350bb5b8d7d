"""Issue 8 item 5: a relay recipient keeps no decryptable copy of a box addressed to it, whatever the
outcome of handling it: delivered, duplicate, off every trust path (unknown route), bad content,
over quota.

Three real nodes in a line (A–B–C; A's job reached C through B's re-share), real SQLite, real HPKE.
C seals boxes for A; B hands them to A in relay statements of its own, exactly as B forwards. For
each box, A's raw database files (main file + WAL) are read twice: at the moment the relay
statement arrived, before it is handled (positive control: the box is there), and after handling
with the WAL checkpointed (the canary's method): no slice of the box may remain. On the old code a
duplicate, an over-quota box and a box about an unknown job kept their bodies, which A can open.
"""

from __future__ import annotations

import os

import pytest

import node.core.relay
from protocol.audience import Audience
from protocol.bodies import Note
from protocol.relay import Relay, seal_relay
from protocol.statement import Statement
from tests.node.federation_helpers import db_bytes, wait_until
from tests.node.test_relay import line_with_reshared_job


def slices(box: bytes) -> list[bytes]:
    """Pieces of a sealed box spread over it (a long record may straddle SQLite pages)."""
    return [box[i:i + 48] for i in (64, len(box) // 2, len(box) - 112)]


def found(data: bytes, pieces: list[bytes]) -> bool:
    return any(p in data for p in pieces)


class Tracker:
    """Snapshots A's raw files when each relay statement arrives, before any reaction handles it."""

    def __init__(self, a) -> None:
        self.a = a
        self.before: dict[bytes, bytes] = {}
        a.federation.on_appended.insert(0, self.arrived)

    def arrived(self, statements: list[Statement]) -> None:
        # The reactions run in the transaction that stores the batch (issue 11 item 3), so at this point the
        # box may not have reached the files yet: the stored row, as the connection sees it, counts too.
        for s in statements:
            if s.kind == Relay.KIND:
                rows = self.a.service.db.query("SELECT body FROM entries WHERE id = ?", [s.id])
                self.before[s.id] = db_bytes(self.a.service.home.path) + b"".join(bytes(r["body"] or b"") for r in rows)

    async def handled(self, sid: bytes) -> bytes:
        """A's raw files once the relay statement ``sid`` arrived and its reaction finished, WAL checkpointed."""
        db = self.a.service.db
        await wait_until(lambda: sid in self.before and not list(db.query(
            "SELECT 1 FROM pending_reactions WHERE statement_id = ?", [sid])), what="the relay handled at A")
        self.a.service.log.checkpoint_wal()
        return db_bytes(self.a.service.home.path)


def hand_over(b, a, relay: Relay) -> bytes:
    """B hands ``relay`` (as it forwards a box) to A; returns the id of B's relay statement."""
    return b.federation.append(Relay.KIND, relay.forwarded().to_value(), private=True,
                               audience=Audience.only(a.service.node_id)).id


def note_of(node, text: str, *to: bytes) -> Statement:
    return node.federation.append(Note.KIND, Note(text, 1).to_value(), private=True, audience=Audience.only(*to))


OUTCOMES = ["delivered", "duplicate", "unknown-route", "bad-content", "over-quota"]


@pytest.mark.parametrize("outcome", OUTCOMES)
async def test_a_box_addressed_to_the_recipient_is_erased_whatever_the_outcome(net, monkeypatch, outcome):
    a, b, c, job = await line_with_reshared_job(net)
    a_id = a.service.node_id
    track = Tracker(a)
    keys = c.federation.encryption_keys(a_id)
    assert keys is not None

    def box(route: bytes = job.job_id, carried: Statement | None = None) -> Relay:
        statement = carried or note_of(c, marker, a_id)
        return seal_relay(c.service.identity, c.service.card_bundle(), [statement], a_id, keys, route)

    marker = f"Marker-{outcome}-{os.urandom(4).hex()}"
    delivered = outcome in ("delivered", "duplicate")
    if delivered:  # C's own relay, forwarded by B (the real path); a duplicate is B handing it over again
        sent = c.relays.send([note_of(c, marker, a_id)], a_id, job.job_id)
        relay = Relay.from_value(c.service.log.get(sent.id).body_value())
        forwarded = await wait_until(lambda: [s for s in b.service.log.of_kind(Relay.KIND) if s.author == b.service.node_id],
                                     what="B to forward C's box")
        sid = forwarded[0].id
        if outcome == "duplicate":
            await track.handled(sid)
            sid = hand_over(b, a, relay)
    elif outcome == "unknown-route":  # about a job A does not know: off every trust path through A
        relay = box(route=os.urandom(16))
        sid = hand_over(b, a, relay)
    elif outcome == "bad-content":  # it opens, but carries a statement not of its origin (B's, readable by nobody)
        relay = box(carried=note_of(b, marker))
        sid = hand_over(b, a, relay)
    else:  # over quota: A takes no more relays from B this hour
        monkeypatch.setattr(node.core.relay, "RELAY_QUOTA_COUNT", 0)
        relay = box()
        sid = hand_over(b, a, relay)

    after = await track.handled(sid)
    assert found(track.before[sid], slices(relay.sealed)), "positive control: the box was stored when it arrived"
    assert not found(after, slices(relay.sealed)), f"{outcome}: no copy of the box is left in the recipient's files"
    assert (marker.encode() in after) is delivered, "the carried plaintext is kept only when it was delivered"
