"""Issue 12 item 4: an unacknowledged withdrawal to a partner that is down says "waiting for PARTNER
(unreachable since …)" from the node's peer health, instead of "sent"."""

from __future__ import annotations

from node.cli.common import withdrawal_text
from tests.node.federation_helpers import FakeClock, Net, pair, wait_until


async def test_withdrawal_names_the_partner_it_waits_for(net: Net):
    youth = await net.start("Youth Futures", sector="nonprofit", sync_interval=600, retry_base=600, retry_cap=600,
                            unreachable_warn_after=10)
    corp = await net.start("Northwind", sector="company", sync_interval=600, retry_base=600, retry_cap=600)
    await pair(youth, corp)
    job = corp.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="job delivered")
    candidate, _ = youth.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["driving"],
                                              consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: corp.talent.store.referrals(), what="referral at the company")

    clock = FakeClock(follow_wall=True)
    youth.service.clock = clock
    await net.stop(corp)
    youth.talent.withdraw_consent(candidate.candidate_id)
    await youth.sync.pull_all()
    before = youth.talent.candidate_view(candidate)["disclosures"][0]
    assert before["withdrawal"]["waiting_for"] is None, before  # control: not yet down past the threshold
    assert "withdrawal sent, not yet acknowledged" in withdrawal_text(before)
    clock.advance(16_000)
    await youth.sync.pull_all()
    after = youth.talent.candidate_view(candidate)["disclosures"][0]
    waiting = after["withdrawal"]["waiting_for"]
    assert waiting is not None and waiting["name"] == "Northwind" and waiting["node_id"] == corp.service.node_id.hex()
    text = withdrawal_text(after)
    assert text.startswith("; withdrawal waiting for Northwind (unreachable since ") and "sent" not in text, text
