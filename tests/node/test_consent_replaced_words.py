"""A renewed consent in the CLI's words (acceptance pass 14 marked it on the dashboard and in --json
only): `candidate list` and `candidate report` say the older consent was replaced by the newer one."""

from __future__ import annotations

from node.cli.candidates import listed_state, report_text


async def test_the_cli_says_a_renewed_consent_replaced_the_older_one(net):
    youth = await net.start("Youth Futures")
    talent = youth.talent
    zoe, _ = talent.add_candidate(name="Zoë Müller", email="zoe@example.org", skills=["driving"])
    far = 4_070_908_800_000  # 2099-01-01
    first = talent.give_consent(zoe.candidate_id, ["match", "refer"], "all", far, "form")
    before = talent.candidate_view(talent.store.candidate(zoe.candidate_id))["consents"]
    assert [listed_state(k) for k in before] == ["given"]  # control: nothing replaced yet
    assert "replaced by" not in report_text(talent.candidate_report(talent.store.candidate(zoe.candidate_id)))
    renewal = talent.give_consent(zoe.candidate_id, ["match", "refer"], "all", far + 86_400_000, "form")
    after = {k["id"]: listed_state(k) for k in talent.candidate_view(talent.store.candidate(zoe.candidate_id))["consents"]}
    assert after == {first.consent_id.hex(): f"given (replaced by {renewal.consent_id.hex()[:8]}…)",
                     renewal.consent_id.hex(): "given"}
    text = report_text(talent.candidate_report(talent.store.candidate(zoe.candidate_id)))
    assert f"now in force, replaced by the newer consent {renewal.consent_id.hex()[:8]}… recorded " in text, text
