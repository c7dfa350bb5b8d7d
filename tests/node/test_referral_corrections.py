"""Correcting a mistaken outcome between real nodes (docs/protocol.md 15.10; issue 12 item 4).

Three nodes over HTTP (the holder, a co-op that re-shared the job, the employer): the employer
records a hire by mistake, corrects it to ``not_hired``, and then corrects the correction; the
referrer follows each, both entries stay in the history, the impact figures and the job's "filled"
follow the correction. Refused corrections sign nothing; a hand-signed stale correction is ignored
by the referrer and fails the audit; a referrer whose node does not name ``referral-corrections``
(standing for an older release) is never sent one.
"""

from __future__ import annotations

from typing import Any

import pytest

from node.core.errors import UserError
from protocol import audit
from protocol.corrections import CORRECTIONS_FEATURE, ReferralCorrection
from protocol.referrals import STAGES_FEATURE
from protocol.versions import V1, Versions
from tests.node.federation_helpers import checkpoint_held, head, synced, wait_until
from tests.node.test_audit import full_referral
from tests.node.test_job_versions import admin_call
from tests.node.test_referral_stages import referred, status_at

STAGES_ONLY = Versions((V1,), frozenset({STAGES_FEATURE}))  # a release with the stages but before corrections


def figures(node: Any) -> dict[str, int]:
    return node.provenance.impact(0, 2**62).figures


async def test_a_mistaken_hire_is_corrected_and_the_referrer_and_the_figures_follow(net):
    youth, _, corp, rid = await full_referral(net)
    assert figures(corp)["referrals_hired"] == 1 and figures(corp)["jobs_filled_via_referrals"] == 1  # positive control
    hired_id = corp.talent.store.events(rid)[-1].statement_id
    job_id = corp.talent.store.referral(rid).job_id
    answer = corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    assert answer["status"] == "not_hired" and answer["unfilled_job_id"] == job_id.hex()
    job = corp.talent.store.job(job_id, corp.service.node_id).job
    assert (job.status, job.filled_by) == ("closed", None)  # no longer credited to the referral
    await wait_until(lambda: status_at(youth, rid) == "not_hired", what="the correction at the referrer")
    steps = youth.talent.store.events(rid)
    assert [e.status for e in steps] == ["sent", "received", "in_process", "hired", "not_hired"]  # both kept
    assert steps[-1].corrects == hired_id and steps[-1].reason == "the candidate did not start"
    history = youth.talent.show_referral(rid)["history"]
    assert history[3]["corrected"] and history[4]["corrects_statement_id"] == hired_id.hex()
    await wait_until(lambda: youth.talent.store.job(job_id).job.status == "closed", what="the job version at the referrer")
    assert (figures(corp)["referrals_hired"], figures(corp)["jobs_filled_via_referrals"]) == (0, 0)
    assert figures(youth)["referrals_hired"] == 0
    # A correction of the correction names the latest step; forward-only rules continue from it.
    first_fix = corp.talent.store.events(rid)[-1].statement_id
    corp.talent.correct_referral(rid, "hired", "she did start, a week late")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the second correction at the referrer")
    assert youth.talent.store.events(rid)[-1].corrects == first_fix
    assert figures(youth)["referrals_hired"] == 1
    with pytest.raises(UserError, match="cannot go from hired to offer"):
        corp.talent.update_referral(rid, "offer", "")


async def signed_and_held(youth: Any, coop: Any, corp: Any) -> None:
    """The co-op re-shared the job's new (closed) version; every node checkpoints and the holder holds them."""
    job_id = corp.talent.store.referrals()[0].job_id
    await wait_until(lambda: coop.talent.store.job(job_id).job.status == "closed", what="the closed job at the co-op")
    await wait_until(lambda: not list(coop.service.db.query("SELECT 1 FROM pending_reactions")), what="the co-op's re-share")
    for node in (coop, corp):
        node.provenance.checkpoint(force=True)
        await checkpoint_held(node, youth)


async def test_the_audit_follows_the_corrections_and_shows_both_entries(net):
    youth, coop, corp, rid = await full_referral(net)
    corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    await wait_until(lambda: status_at(youth, rid) == "not_hired", what="the correction at the referrer")
    await signed_and_held(youth, coop, corp)
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert report.valid, report.failed
    facts = " ".join(report.facts)
    assert "sent → received → in_process → hired → not_hired (correcting hired)" in facts
    assert "Northwind corrected the outcome hired to not_hired on" in facts  # by name: the only card of that name
    assert "('the candidate did not start'); the original outcome stays in the record" in facts


async def test_a_stale_correction_signed_by_hand_is_ignored_and_fails_the_audit(net):
    """Negative control: the employer signs, bypassing its node's check, a second correction of the
    original hire (already corrected): the referrer ignores it, the audit finds the branch."""
    youth, coop, corp, rid = await full_referral(net)
    hired_id = corp.talent.store.events(rid)[-1].statement_id
    corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    stale = ReferralCorrection(rid, hired_id, "declined", "second thoughts")
    corp.talent._send(ReferralCorrection.KIND, stale.to_value(), youth.service.node_id, corp.talent.store.referral(rid).job_id)
    await synced(youth, corp)
    assert status_at(youth, rid) == "not_hired"  # ignored
    await signed_and_held(youth, coop, corp)
    report = audit.verify(youth.provenance.export_referral(rid, redact=False))
    assert not report.valid and report.failed is not None and report.failed.check == "lifecycle", report.failed
    assert report.failed.detail == "two status updates follow the same step"


async def test_refused_corrections_say_why_and_sign_nothing(net):
    corp, youth, rid = await referred(net)
    own, theirs = head(corp, corp), head(youth, youth)
    with pytest.raises(UserError, match=r"sets no outcome .*use `orgnode referral update`"):
        corp.talent.correct_referral(rid, "not_hired", "oops")  # still received: nothing to correct
    corp.talent.update_referral(rid, "hired", "")
    own = head(corp, corp)
    cases = [(youth, "not_hired", "we disagree", "only the job's organization can correct"),
             (corp, "hired", "again", "already hired: a correction must change the status"),
             (corp, "received", "back", "cannot be corrected to 'received'"),
             (corp, "not_hired", "   ", "must not be empty"),
             (corp, "not_hired", "x" * 201, "longer than 200 characters"),
             (corp, "not_hired", "red \x1b[31m text", "control or format character")]
    for node, status, reason, message in cases:
        with pytest.raises(UserError, match=message) as exc:
            node.talent.correct_referral(rid, status, reason)
        assert "nothing was signed" in str(exc.value) or node is youth
    assert head(corp, corp) == own and head(youth, youth) == theirs and status_at(corp, rid) == "hired"


async def test_a_referrer_whose_node_does_not_name_corrections_is_never_sent_one(net):
    corp, youth, rid = await referred(net, holder_versions=STAGES_ONLY)
    assert corp.service.peer_features[youth.service.node_id] == {STAGES_FEATURE}
    corp.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: status_at(youth, rid) == "hired", what="the hire at the older referrer")
    own = head(corp, corp)
    with pytest.raises(UserError, match="has not said it understands 'referral-corrections'") as exc:
        corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    assert exc.value.code == "peer-lacks-feature" and "nothing was sent" in str(exc.value)
    status, answer = await admin_call(corp, "/referrals/correct", {"id": rid.hex(), "status": "not_hired", "reason": "no start"})
    assert status == 400 and answer["error"] == "peer-lacks-feature" and "upgrade" in answer["detail"], answer
    assert head(corp, corp) == own and status_at(corp, rid) == "hired" and status_at(youth, rid) == "hired"
    # Positive control: the same node, once it names the feature (restarted by this release), gets it.
    home = await net.stop(youth)
    upgraded = await net.restart(home)
    await wait_until(lambda: CORRECTIONS_FEATURE in corp.service.peer_features.get(upgraded.service.node_id, frozenset()),
                     what="corp to hear the upgraded node")
    corp.talent.correct_referral(rid, "not_hired", "the candidate did not start")
    await wait_until(lambda: status_at(upgraded, rid) == "not_hired", what="the correction at the upgraded referrer")


async def test_moving_a_final_outcome_points_to_the_correction_with_the_referral_id(net):
    """Acceptance pass 12: `referral update ID --status offer` after a mistaken `hired` said only "a
    referral cannot go from hired to offer", with no word of `referral correct`, the one way out."""
    youth, _, corp, rid = await full_referral(net)
    with pytest.raises(UserError) as moved:
        corp.talent.update_referral(rid, "offer", "")
    text = str(moved.value)
    assert "cannot go from hired to offer" in text  # control: what went wrong is still said
    assert f'`orgnode referral correct {rid.hex()} --status offer --reason "why it was wrong"`' in text
    with pytest.raises(UserError) as again:
        corp.talent.update_referral(rid, "hired", "")
    assert f"`orgnode referral correct {rid.hex()} --status STATUS" in str(again.value)
    assert "one of in_process, interview, offer, not_hired, declined" in str(again.value)
    with pytest.raises(UserError) as holder:  # the holder cannot correct the employer's outcome: no such advice
        youth.talent.update_referral(rid, "withdrawn", "")
    assert "referral correct" not in str(holder.value)
