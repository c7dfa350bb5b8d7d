"""Issue 8 item 4: an erasure commits on its own; the erasure receipt is a separate, retried step.

Three real nodes in a line (A–B–C, A's job reached C through B's re-share), real SQLite, real crypto:
C refers a candidate to A through B, then the candidate withdraws. At A, sending the receipt back
fails with a real protocol error from the real sealing code: the withdrawer's org card as held at A
names a low-order X25519 point (what a hostile or broken card carries), so HPKE refuses to seal to
it (``malformed``). On the old code that error, raised inside the withdrawal's savepoint, rolled
the erasure back while the reaction counted as done: the profile stayed at A for good. Then the
key is usable again but A has no path back (its admin removed B, the only hop): on the old code a
receipt without a path was logged and never tried again.
"""

from __future__ import annotations

from node.core.clock import now_ms
from tests.node.federation_helpers import db_bytes, pair, wait_until
from tests.node.test_relay import line_with_reshared_job

LOW_ORDER_X25519 = bytes(32)  # the identity point: every X25519 exchange with it is refused


async def test_erasure_stands_when_the_receipt_fails_and_the_receipt_is_retried_until_it_arrives(net):
    a, b, c, job = await line_with_reshared_job(net)
    c_id = c.service.node_id
    marker = "Orsolya-Quennell-7731"
    candidate, _ = c.talent.add_candidate(name=f"{marker} Person", email="oq7731@example.org", skills=["driving"],
                                          consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    c.talent.refer(candidate.candidate_id, job.job_id, note="reliable")
    await wait_until(lambda: a.talent.store.referrals(), what="the relayed referral at A")
    rid = a.talent.store.referrals()[0].referral_id
    await wait_until(lambda: getattr(c.talent.store.referral(rid), "status", None) == "received", what="received at C")
    assert a.talent.store.profile(rid)["name"] == f"{marker} Person"
    a.service.log.checkpoint_wal()
    assert marker.encode() in db_bytes(a.service.home.path), "positive control: A holds the profile before the withdrawal"

    # The withdrawer's card as held at A becomes unusable for sealing (a low-order X25519 key).
    good = a.federation.encryption_keys(c_id)
    assert good is not None
    a.service.db.execute("UPDATE org_cards SET x25519 = ? WHERE node_id = ?", [LOW_ORDER_X25519, c_id])
    offset = [0]
    a.talent.clock = lambda: now_ms() + offset[0]  # A's clock for the retry schedule, advanced below

    c.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: a.talent.store.referral(rid).status == "withdrawn", what="the erasure at A")
    # The erasure is committed although the receipt could not be sealed; it is owed and retried.
    await wait_until(lambda: [d for d in a.talent.store.receipts_due(2**62) if d.attempts >= 2],
                     what="the receipt retried at A while the key is unusable")
    due = a.talent.store.receipts_due(2**62)[0]
    assert due.recipient == c_id and due.referral_ids == (rid,) and due.last_error == "malformed"
    assert a.talent.store.profile(rid) is None
    a.service.log.checkpoint_wal()
    assert marker.encode() not in db_bytes(a.service.home.path), "the profile is gone from A's files (main + WAL)"
    assert c.talent.store.disclosure(rid).acked_at is None, "no receipt could have reached C yet"

    # A holds C's usable keys again, but now has no path back to C: its admin removed B, the only hop.
    a.service.db.execute("UPDATE org_cards SET x25519 = ? WHERE node_id = ?", [good.x25519, c_id])
    a.federation.set_state(b.service.node_id, "removed")
    offset[0] = 2 * 3_600_000  # past any back-off
    await wait_until(lambda: a.talent.store.receipts_due(2**62)[0].last_error == "no-path",
                     what="the receipt retried at A without a path back")
    assert c.talent.store.disclosure(rid).acked_at is None

    # The path is back (A and B pair again): the next retry seals, relays and the receipt arrives.
    await pair(a, b)
    offset[0] = 4 * 3_600_000
    await wait_until(lambda: c.talent.store.disclosure(rid).acked_at is not None, timeout=10,
                     what="the retried erasure receipt acknowledged at C")
    assert a.talent.store.receipts_due(2**62) == []
    assert a.talent.store.profile(rid) is None
