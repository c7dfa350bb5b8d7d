"""Issue 12 item 4: an unacknowledged withdrawal to a partner that is down says "waiting for PARTNER
(unreachable since …)" from the node's peer health, instead of "sent"."""

from __future__ import annotations

from node.cli.common import withdrawal_text
from tests.node.federation_helpers import Net, referred_then_partner_down


async def test_withdrawal_names_the_partner_it_waits_for(net: Net):
    youth, corp, candidate, clock = await referred_then_partner_down(net)
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
