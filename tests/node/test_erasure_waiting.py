"""Issue 12 item 4: an erasure whose receipt has not come, from a partner that is down, says "waiting
for PARTNER (unreachable since …)" from the node's peer health, in `candidate erase` and in the
subject-access report, instead of a bare "no erasure receipt yet" (withdrawals:
tests/node/test_withdrawal_waiting.py)."""

from __future__ import annotations

from node.cli.candidates import report_text
from tests.node.federation_helpers import Net, referred_then_partner_down


async def test_erasure_receipt_names_the_partner_it_waits_for(net: Net):
    youth, corp, candidate, clock = await referred_then_partner_down(net)
    await youth.sync.pull_all()
    erased = youth.talent.erase_candidate(candidate.candidate_id)
    assert erased["receipts_waiting_for"] == [], erased  # control: not yet down past the threshold
    tombstone = youth.talent.store.candidate(candidate.candidate_id)
    before = report_text(youth.talent.candidate_report(tombstone))
    assert "; no erasure receipt yet" in before and "waiting for" not in before, before

    clock.advance(16_000)
    await youth.sync.pull_all()
    report = youth.talent.candidate_report(tombstone)
    waiting = report["disclosures"][0]["erasure_waiting_for"]
    assert waiting is not None and waiting["name"] == "Northwind" and waiting["node_id"] == corp.service.node_id.hex()
    text = report_text(report)
    assert "; no erasure receipt yet: waiting for Northwind (unreachable since " in text, text
    again = youth.talent.erase_candidate(candidate.candidate_id)  # a repeated erase says the same
    assert [w["name"] for w in again["receipts_waiting_for"]] == ["Northwind"], again
