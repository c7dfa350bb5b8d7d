"""Referrals through the trust path: C learns A's job only through B's re-share, refers a
candidate to A through B, and the whole loop (statuses, hire, withdrawal, erasure receipt) runs
through B without B ever reading a byte of it."""

from __future__ import annotations

import pytest

from node.cli.common import withdrawal_text
from node.cli.referrals import _referral_lines
from node.core.clock import now_ms
from protocol.relay import (
    WITHDRAWAL_ACK_MS,
    WITHDRAWAL_NO_PATH_RECHECK_MS,
    WITHDRAWAL_RETRY_CAP_MS,
    next_retry_hop,
    withdrawal_retry_at,
)
from tests.node.federation_helpers import Net, checkpoint_held, db_bytes, pair, synced, wait_until


async def line_with_reshared_job(net: Net):
    """A–B–C in a line (A and C are not partners); A's job (hops 2) has reached C through B."""
    a = await net.start("Northwind", sector="company")
    b = await net.start("Green Works", sector="social_enterprise")
    c = await net.start("Youth Futures", sector="nonprofit")
    await pair(a, b)
    await pair(b, c)
    job = a.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: c.talent.store.job(job.job_id) is not None, what="re-shared job at C")
    return a, b, c, job


async def test_referral_to_a_reshared_job_travels_the_trust_path(net):
    a, b, c, job = await line_with_reshared_job(net)
    assert c.talent.store.job(job.job_id).via == b.service.node_id
    marker = "Quillon-Marsh-5521"
    candidate, _ = c.talent.add_candidate(name=f"{marker} Person", email="qm@example.org", skills=["driving"],
                                          consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    c.talent.refer(candidate.candidate_id, job.job_id, note="reliable")
    await wait_until(lambda: a.talent.store.referrals(), what="relayed referral at A")
    rid = a.talent.store.referrals()[0].referral_id
    assert a.talent.store.profile(rid)["name"] == f"{marker} Person"
    assert a.talent.store.referrals()[0].referrer == c.service.node_id
    # A's automatic "received" and later statuses reach C through B.
    await wait_until(lambda: getattr(c.talent.store.referral(rid), "status", None) == "received", what="received at C")
    a.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: c.talent.store.referral(rid).status == "hired", what="hire at C")
    # B relayed everything but holds none of the candidate's data.
    assert marker.encode() not in db_bytes(b.service.home.path)
    # Withdrawal reaches A through B; A erases and its receipt comes back.
    c.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: c.talent.store.disclosure(rid).acked_at is not None, what="erasure acknowledged at C")
    assert a.talent.store.profile(rid) is None
    assert marker.encode() not in db_bytes(a.service.home.path)


async def test_no_path_no_referral(net):
    a = await net.start("Northwind", sector="company")
    b = await net.start("Green Works", sector="social_enterprise")
    await pair(a, b)
    job = a.talent.post_job(title="Driver", skills=["driving"], hops=1)
    await wait_until(lambda: b.talent.store.job(job.job_id) is not None)
    # B is a direct partner: direct referral works; hops=1 means nobody beyond B ever sees the job.
    candidate, _ = b.talent.add_candidate(name="Direct Person", email="d@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    b.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: a.talent.store.referrals())


async def test_audit_export_of_a_relayed_referral_fetches_the_employers_proofs(net):
    """Issue 13 item 2: a referral C made on its own initiative to A's re-shared job (A is not C's
    partner) is exported with A's checkpoint and proofs, fetched through B, and verifies; with B
    down the export is refused and says why (before: always "not a direct partner")."""
    from node.core import path_proofs
    from protocol import audit

    a, b, c, job = await line_with_reshared_job(net)
    candidate, _ = c.talent.add_candidate(name="Relayed Person", email="rp@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    rid = bytes.fromhex(c.talent.refer(candidate.candidate_id, job.job_id)["id"])
    await wait_until(lambda: getattr(c.talent.store.referral(rid), "status", None) == "received", what="received at C")
    with pytest.raises(Exception, match="not a direct partner"):
        c.provenance.export_referral(rid, redact=True)  # without the path: refused, saying why
    await checkpoint_held(b, c)
    report = audit.verify(await path_proofs.export_referral(c.provenance, c.paths, rid, redact=True))
    assert report.valid and report.passed == list(audit.CHECKS), report.failed
    await net.halt(b)
    with pytest.raises(Exception, match="could not be fetched through the trust path"):
        await path_proofs.export_referral(c.provenance, c.paths, rid, redact=True)


async def test_impact_counts_referrals_through_the_trust_path(net):
    a, b, c, job = await line_with_reshared_job(net)
    candidate, _ = c.talent.add_candidate(name="Path Person", email="pp@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    c.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: a.talent.store.referrals())
    rid = a.talent.store.referrals()[0].referral_id
    a.talent.update_referral(rid, "in_process", "")
    await wait_until(lambda: c.talent.store.referral(rid).status == "in_process")
    at_a = a.provenance.impact(0, 2**62)
    assert at_a.figures["referrals_received"] == 1
    assert at_a.partners[c.service.node_id.hex()]["referrals_received_from"] == 1
    at_c = c.provenance.impact(0, 2**62)
    assert at_c.figures["referrals_sent"] == 1 and at_c.figures["referrals_accepted"] == 1


async def test_a_partner_cannot_hijack_the_way_back_to_a_non_partner(net):
    """Issue 8 item 8. X–P–H in a line (X's job reached H through P's re-share), and H's other partner
    M. M is first to claim the way back to X: it hands H a relay "from X" (an unauthenticated origin)
    to forward. H must still send to X along the job's own path (P), so X's referral and the
    withdrawal reach X and are acknowledged; on the old code they went to M, which swallowed them."""
    import os

    from protocol.audience import Audience
    from protocol.relay import Relay

    x, p, h, job = await line_with_reshared_job(net)
    m = await net.start("Mallory Partners", sector="nonprofit")
    await pair(h, m)
    forged = Relay(x.service.node_id, p.service.node_id, job.job_id, 8, 1, os.urandom(200))
    m.federation.append(Relay.KIND, forged.to_value(), private=True, audience=Audience.only(h.service.node_id))
    await wait_until(lambda: list(h.service.db.query("SELECT 1 FROM relay_routes WHERE node_id = ?", [x.service.node_id])),
                     what="H to have seen M's claim")
    assert h.relays.next_hop(x.service.node_id, job.job_id) == p.service.node_id

    candidate, _ = h.talent.add_candidate(name="Route Person", email="rp@example.org", skills=["driving"],
                                          consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    h.talent.refer(candidate.candidate_id, job.job_id, note="reliable")
    await wait_until(lambda: x.talent.store.referrals(), what="the referral at X, through P")
    rid = x.talent.store.referrals()[0].referral_id
    h.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: h.talent.store.disclosure(rid).acked_at is not None, what="the erasure acknowledged at H")
    assert x.talent.store.profile(rid) is None
    # X learnt the way back to H from H's verified box; like every learnt route it expires.
    from node.core.relay import RELAY_ROUTE_TTL_MS

    assert x.relays.next_hop(h.service.node_id, job.job_id) == p.service.node_id
    x.service.db.execute("UPDATE relay_routes SET updated_at = updated_at - ? WHERE node_id = ?",
                         [RELAY_ROUTE_TTL_MS + 1, h.service.node_id])
    assert x.relays.next_hop(h.service.node_id, job.job_id) is None


async def diamond_with_referral(net: Net):
    """H(older)–B–J and H–C–J: J's job (hops 2) reaches H re-shared by both B and C; H refers a
    candidate to J, the referral travels through the job's own path (the first re-sharer, ``first``)
    and J says "received"."""
    h = await net.start("Holder Org", sector="nonprofit")
    b = await net.start("Bridge One", sector="nonprofit")
    c = await net.start("Bridge Two", sector="nonprofit")
    j = await net.start("Jobs Inc", sector="company")
    for x, y in ((h, b), (h, c), (b, j), (c, j)):
        await pair(x, y)
    job = j.talent.post_job(title="Welder", skills=["welding"], hops=2)
    await wait_until(lambda: h.talent.store.job(job.job_id) is not None, what="re-shared job at H")
    reshared_by = lambda: {s.author for s in h.service.log.of_kind("reshare")}  # noqa: E731
    await wait_until(lambda: {b.service.node_id, c.service.node_id} <= reshared_by(), what="both re-shares at H")
    first = b if h.talent.store.job(job.job_id).via == b.service.node_id else c
    other = c if first is b else b
    marker = "Ondrela-Vask-7730"
    candidate, _ = h.talent.add_candidate(name=f"{marker} Person", email="ov@example.org", skills=["welding"],
                                          consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    h.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: j.talent.store.referrals(), what="relayed referral at J")
    rid = j.talent.store.referrals()[0].referral_id
    await wait_until(lambda: getattr(h.talent.store.referral(rid), "status", None) == "received", what="received at H")
    return h, first, other, j, candidate, rid, marker


async def test_a_withdrawal_swallowed_by_one_path_is_retried_through_another(net):
    """Issue 8 item 8: the hop on the job's own path takes the withdrawal and swallows it (a real
    node that dropped the recipient from its trust list, so it carries the box nowhere). Before the
    deadline nothing is re-sent and the recipient still holds the profile (positive control that the
    path is really dead); once the holder's clock passes the deadline, the withdrawal goes through
    the other partner that re-shared the job, the recipient erases and its receipt comes back."""
    h, first, other, j, candidate, rid, marker = await diamond_with_referral(net)
    clock = [now_ms()]
    h.federation.clock = lambda: clock[0]
    first.federation.set_state(j.service.node_id, "removed")  # the swallowing hop: it has no way on to J

    h.talent.withdraw_consent(candidate.candidate_id)
    delivery = h.talent.store.withdrawals_due(2**62)[0]
    assert delivery.vias == (first.service.node_id,) and delivery.attempts == 1
    # The swallowing hop has taken the box (it holds H's relay), yet J has erased nothing.
    await synced(first, h)
    assert j.talent.store.profile(rid) is not None
    assert h.talent.retry_withdrawals(clock[0]) == []  # not due yet
    view = h.talent.candidate_view(h.talent.store.candidate(candidate.candidate_id))["disclosures"][0]
    assert view["acknowledged"] is False and view["withdrawal"]["state"] == "sent"

    clock[0] += WITHDRAWAL_ACK_MS + 1  # the sync engine's timer re-sends it, through the other path
    await wait_until(lambda: h.talent.store.disclosure(rid).acked_at is not None, what="erasure acknowledged at H")
    assert j.talent.store.profile(rid) is None
    assert marker.encode() not in db_bytes(j.service.home.path)
    delivery = h.talent.store.withdrawal_delivery(delivery.withdrawal, j.service.node_id)
    assert delivery.vias == (first.service.node_id, other.service.node_id) and delivery.acked_at is not None
    view = h.talent.candidate_view(h.talent.store.candidate(candidate.candidate_id))["disclosures"][0]
    assert view["withdrawal"]["state"] == "acknowledged" and view["withdrawal"]["next_retry_at"] is None
    assert [v["id"] for v in view["withdrawal"]["via"]] == [first.service.node_id.hex(), other.service.node_id.hex()]


async def test_a_resent_withdrawal_gets_the_receipt_again_when_the_first_was_swallowed(net):
    """The withdrawal got through, but the receipt coming back was swallowed: the hop on the way back
    stopped carrying boxes for the holder after forwarding the withdrawal. The re-sent withdrawal (the
    recipient has already erased) brings the same receipt back along the path it came by."""
    h, first, other, j, candidate, rid, _ = await diamond_with_referral(net)
    clock = [now_ms()]
    h.federation.clock = lambda: clock[0]
    # The hop takes the withdrawal, then stops carrying anything back to H, and only then forwards it
    # on to J: the receipt will be swallowed there. (Holding J back until H is dropped makes the order
    # certain: otherwise the receipt could come back through the hop before it drops H.)
    j.federation.set_state(first.service.node_id, "removed")
    h.talent.withdraw_consent(candidate.candidate_id)
    await synced(first, h)
    first.federation.set_state(h.service.node_id, "removed")
    j.federation.set_state(first.service.node_id, "trusted")
    await wait_until(lambda: j.talent.store.profile(rid) is None, what="erasure at J")
    receipts = lambda: [s for s in j.service.log.of_kind("erasure_receipt") if s.author == j.service.node_id]  # noqa: E731
    await wait_until(receipts, what="receipt appended at J")
    assert h.talent.store.disclosure(rid).acked_at is None
    clock[0] += WITHDRAWAL_ACK_MS + 1
    # Re-sent here at once (the timer would do the same): the admin sees it as retried.
    assert h.talent.retry_withdrawals(clock[0]) == [{"withdrawal": h.talent.store.disclosure(rid).withdrawal_statement.hex(),
                                                      "to": j.service.node_id.hex(), "via": other.service.node_id.hex()}]
    views = h.talent.list_referrals()
    assert withdrawal_text(h.talent.candidate_view(h.talent.store.candidate(candidate.candidate_id))["disclosures"][0]) == (
        f"; withdrawal sent, not yet acknowledged, retried via {other.service.config.name} "
        f"(2 sends through {first.service.config.name}, {other.service.config.name})")
    assert f"retried via {other.service.config.name}" in _referral_lines(views)
    assert h.talent.retry_withdrawals(clock[0]) == []  # the next try is hours away
    await wait_until(lambda: h.talent.store.disclosure(rid).acked_at is not None, what="receipt at H through the other path")
    assert len(receipts()) == 1  # the same receipt, sent again, not a second one
    assert "erasure acknowledged" in withdrawal_text(
        h.talent.candidate_view(h.talent.store.candidate(candidate.candidate_id))["disclosures"][0])


async def test_a_withdrawal_with_no_path_is_kept_and_sent_once_a_path_appears(net):
    """The only partner on the way to the job's organization was removed: the candidate's withdrawal
    still succeeds (it used to be refused for want of a route), is shown as not sent yet, and goes
    out by the timer once the partner is trusted again; the recipient erases and receipts."""
    a, b, c, job = await line_with_reshared_job(net)
    candidate, _ = c.talent.add_candidate(name="Pathless Person", email="pp@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    c.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: a.talent.store.referrals(), what="relayed referral at A")
    rid = a.talent.store.referrals()[0].referral_id
    c.federation.set_state(b.service.node_id, "removed")
    clock = [now_ms()]
    c.federation.clock = lambda: clock[0]

    result = c.talent.withdraw_consent(candidate.candidate_id)
    assert result["recipients_notified"] == [a.service.node_id.hex()]
    view = c.talent.candidate_view(c.talent.store.candidate(candidate.candidate_id))["disclosures"][0]
    assert view["withdrawal"]["state"] == "no-path" and "not sent yet" in withdrawal_text(view)
    withdrawal = c.talent.store.disclosure(rid).withdrawal_statement.hex()
    assert c.talent.retry_withdrawals(clock[0]) == [{"withdrawal": withdrawal, "to": a.service.node_id.hex(), "via": None}]
    assert c.talent.store.withdrawals_due(2**62)[0].attempts == 0
    assert a.talent.store.profile(rid) is not None

    await pair(b, c)  # the partner is trusted again: at the next look the timer sends it through B
    clock[0] += WITHDRAWAL_NO_PATH_RECHECK_MS + 1
    await wait_until(lambda: c.talent.store.disclosure(rid).acked_at is not None, what="erasure acknowledged at C")
    assert a.talent.store.profile(rid) is None


def test_the_retry_schedule_doubles_from_the_deadline_and_is_capped():
    assert withdrawal_retry_at(1_000, 1) == 1_000 + WITHDRAWAL_ACK_MS
    assert withdrawal_retry_at(1_000, 2) == 1_000 + 2 * WITHDRAWAL_ACK_MS
    assert withdrawal_retry_at(1_000, 40) == 1_000 + WITHDRAWAL_RETRY_CAP_MS
    b, c, d = b"b" * 32, b"c" * 32, b"d" * 32
    assert next_retry_hop([b, c], [b]) == c
    assert next_retry_hop([b, c, d], [b, c, d, b]) == c  # every path tried: the one used longest ago
    assert next_retry_hop([], [b]) is None
