"""The referral stages ``interview`` and ``offer`` between two real nodes (docs/protocol.md 15.9):
received → interview → offer → hired reaches the referrer in order; a step back is refused and signs
nothing; and a referrer's node that does not advertise ``referral-stages`` (standing for an older
release: same code, a registry without the feature) is never sent a stage, while the statuses every
node knows still reach it."""

from __future__ import annotations

from typing import Any

import pytest

from node.core.errors import UserError
from protocol import audit
from protocol.referrals import STAGES_FEATURE, ReferralStatus
from protocol.versions import V1, Versions
from tests.node.federation_helpers import checkpoint_held, head, synced, wait_until
from tests.node.federation_helpers import referred as referred_by_youth
from tests.node.test_audit import full_referral
from tests.node.test_job_versions import admin_call

OLDER = Versions((V1,))  # what a node from before the stages advertises: version 1, no features


async def referred(net: Any, holder_versions: Versions | None = None) -> tuple[Any, Any, bytes]:
    """Northwind holds a referral from Youth Futures (speaking ``holder_versions``): (corp, youth, its id)."""
    corp = await net.start("Northwind", sector="company")
    youth, rid = await referred_by_youth(net, corp, youth_versions=holder_versions)
    return corp, youth, rid


def status_at(node: Any, rid: bytes) -> str | None:
    row = node.talent.store.referral(rid)
    return None if row is None else row.status


async def test_interview_and_offer_reach_the_referrer_in_order_and_a_step_back_is_refused(net):
    corp, youth, rid = await referred(net)
    assert STAGES_FEATURE in corp.service.peer_features[youth.service.node_id]
    assert status_at(corp, rid) == "received"
    corp.talent.update_referral(rid, "interview", "first round on Tuesday")
    assert corp.talent.update_referral(rid, "offer", "")["status"] == "offer"
    await wait_until(lambda: status_at(youth, rid) == "offer", what="the offer at the referrer")
    own = head(corp, corp)
    with pytest.raises(UserError, match="cannot go from offer to interview"):
        corp.talent.update_referral(rid, "interview", "")
    with pytest.raises(UserError, match="only the job's organization may set a referral to hired"):
        youth.talent.update_referral(rid, "hired", "")  # the referrer cannot claim the hire
    assert head(corp, corp) == own and status_at(corp, rid) == "offer"  # nothing was signed
    corp.talent.update_referral(rid, "hired", "starts Monday")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the hire at the referrer")
    assert [e.status for e in youth.talent.store.events(rid)] == ["sent", "received", "interview", "offer", "hired"]
    assert youth.talent.store.events(rid)[2].reason == "first round on Tuesday"


async def test_a_referrer_whose_node_does_not_advertise_the_stages_is_never_sent_one(net):
    corp, youth, rid = await referred(net, holder_versions=OLDER)
    assert corp.service.peer_features[youth.service.node_id] == frozenset()
    own = head(corp, corp)
    for stage in ("interview", "offer"):
        with pytest.raises(UserError, match="has not said it understands the stage") as exc:
            corp.talent.update_referral(rid, stage, "")
        assert exc.value.code == "peer-lacks-feature" and "nothing was sent" in str(exc.value)
    # The admin API (what `orgnode referral update --json` reads) names the same code.
    status, answer = await admin_call(corp, "/referrals/update", {"id": rid.hex(), "status": "offer"})
    assert status == 400 and answer["error"] == "peer-lacks-feature" and "upgrade" in answer["detail"], answer
    assert head(corp, corp) == own and status_at(corp, rid) == "received"
    # Positive control: the statuses every node knows still go, and arrive.
    corp.talent.update_referral(rid, "in_process", "")
    corp.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the hire at the older referrer")
    assert [e.status for e in youth.talent.store.events(rid)] == ["sent", "received", "in_process", "hired"]


async def test_an_audit_bundle_with_the_stages_verifies_and_counts_one_hire(net):
    youth, _, corp, rid = await full_referral(net, steps=("interview", "offer"))
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert report.valid, report.failed
    assert "sent → received → interview → offer → hired" in " ".join(report.facts)
    impact = youth.provenance.impact(0, 2**62).figures
    assert (impact["referrals_sent"], impact["referrals_accepted"], impact["referrals_hired"]) == (1, 1, 1)


async def test_the_audit_refuses_a_stage_signed_out_of_order(net):
    """Negative control: the job's org signs ``interview`` after the hire by hand (bypassing the
    node's own check); the referrer ignores it, and the audit of the bundle fails on the lifecycle."""
    youth, coop, corp, rid = await full_referral(net, steps=("interview", "offer"))
    assert audit.verify(youth.provenance.export_referral(rid, redact=False)).valid  # before: valid
    back = ReferralStatus(rid, "interview", corp.talent.last_event(rid), "")
    corp.talent._send(ReferralStatus.KIND, back.to_value(), youth.service.node_id, corp.talent.store.referral(rid).job_id)
    await synced(youth, corp)
    assert status_at(youth, rid) == "hired"  # ignored by the receiver
    corp.provenance.checkpoint(force=True)
    await checkpoint_held(corp, youth)
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert not report.valid and report.failed is not None and report.failed.check == "lifecycle", report.failed
    assert report.failed.detail == "illegal transition: a referral cannot go from hired to interview"


async def test_a_referrer_restarted_by_an_older_release_stops_getting_stages_at_its_next_answer(net):
    corp, youth, rid = await referred(net)
    corp.talent.update_referral(rid, "interview", "")
    await wait_until(lambda: status_at(youth, rid) == "interview", what="the interview at the referrer")
    home = await net.stop(youth)
    older = await net.restart(home, versions=OLDER)  # the same home, run by a release from before the stages
    await wait_until(lambda: corp.service.peer_features.get(older.service.node_id) == frozenset(),
                     what="corp to hear the older release answer")
    with pytest.raises(UserError, match="has not said it understands the stage 'offer'"):
        corp.talent.update_referral(rid, "offer", "")
    corp.talent.update_referral(rid, "hired", "")  # what every node knows still goes
    await wait_until(lambda: status_at(older, rid) == "hired", what="the hire at the older release")
