"""Issue 12 item 4: a hire corrected away stops counting everywhere an impact figure is shown, and
the record keeps both entries. Three real nodes (holder, co-op that re-shared the job, employer);
the employer records the hire, then corrects it with the real `orgnode referral correct`. Checked,
as a user and an auditor see them: `orgnode impact` (human and ``--json``, per partner too) on both
sides, the signed `orgnode impact --export` bundle verified offline in a fresh process (its figures,
and that it carries both the original hire and the correction), and the referral's own audit bundle
and `referral show`, which name both. Each figure is first seen counting the hire (positive control).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from protocol.audit_bundle import AuditBundle
from protocol.corrections import KIND as CORRECTION_KIND
from protocol.statement import Envelope
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import wait_until
from tests.node.test_audit import full_referral, verify_in_fresh_process
from tests.node.test_referral_corrections import signed_and_held
from tests.node.test_referral_stages import status_at

HIRE_FIGURES = ("referrals_hired", "jobs_filled_via_referrals")


def cli(node: Any, *args: str) -> str:
    return orgnode("--home", str(node.service.home.path), *args).stdout


async def impact(node: Any, *extra: str) -> dict[str, Any]:
    return dict(json.loads(await asyncio.to_thread(cli, node, "impact", "--json", *extra)))


def hires_with(view: dict[str, Any], partner: Any) -> int:
    return next(int(p["hires"]) for p in view["partners"] if p["node_id"] == partner.service.node_id.hex())


async def exported(node: Any, path: Path) -> tuple[dict[str, Any], dict[str, Any], list[tuple[str, Any]]]:
    """``orgnode impact --export``: its answer (the signed report's figures, per partner too, which the
    verifier recomputes), the offline verifier's answer, and the bundle's referral statuses and
    corrections as (kind, body)."""
    signed = await impact(node, "--export", str(path))
    result = await asyncio.to_thread(verify_in_fresh_process, path)
    assert result.returncode == 0, result.stdout + result.stderr
    steps = []
    for raw in AuditBundle.decode(path.read_bytes()).statements:
        statement = Envelope.decode(raw).open_plain()
        if statement.kind in ("referral_status", CORRECTION_KIND) and statement.body is not None:
            steps.append((statement.kind, statement.body_value()))
    return signed, json.loads(result.stdout), steps


async def test_a_corrected_hire_leaves_every_impact_figure_and_the_record_keeps_both(net, tmp_path):
    youth, coop, corp, rid = await full_referral(net)
    before = {"corp": await impact(corp), "youth": await impact(youth)}
    assert before["corp"]["referrals_hired"] == 1 and before["corp"]["jobs_filled_via_referrals"] == 1  # positive control
    assert before["youth"]["referrals_hired"] == 1
    assert hires_with(before["corp"], youth) == 1 and hires_with(before["youth"], corp) == 1
    signed, verified, _ = await exported(corp, tmp_path / "before.bundle")
    assert {k: verified["figures"][k] for k in HIRE_FIGURES} == {"referrals_hired": 1, "jobs_filled_via_referrals": 1}
    assert hires_with(signed, youth) == 1

    out = await asyncio.to_thread(cli, corp, "referral", "correct", rid.hex()[:8], "--status", "not_hired",
                                  "--reason", "the candidate did not start")
    assert "corrected" in out, out
    await wait_until(lambda: status_at(youth, rid) == "not_hired", what="the correction at the referrer")
    await signed_and_held(youth, coop, corp)

    # `orgnode impact`, both sides: the hire is gone from the totals and from the partner's line.
    after = {"corp": await impact(corp), "youth": await impact(youth)}
    for name, view in after.items():
        assert view["referrals_hired"] == 0, (name, view)
        assert view["referrals_accepted"] == before[name]["referrals_accepted"]  # the referral itself still counts
    assert after["corp"]["jobs_filled_via_referrals"] == 0
    assert hires_with(after["corp"], youth) == 0 and hires_with(after["youth"], corp) == 0
    human = await asyncio.to_thread(cli, corp, "impact")
    assert "referrals accepted / hired   1 / 0" in human and "jobs filled via referrals    0" in human, human

    # The signed impact report: recomputed offline without the hire, from a bundle carrying both entries.
    for node, other in ((corp, youth), (youth, corp)):
        signed, verified, steps = await exported(node, tmp_path / f"{node.service.home.path.name}.bundle")
        assert verified["valid"] and verified["figures"]["referrals_hired"] == 0, verified
        assert signed["referrals_hired"] == 0 and hires_with(signed, other) == 0  # per partner: recomputed by `impact`
        ours = [(kind, body) for kind, body in steps if body["referral_id"] == rid]
        assert ("referral_status", "hired") in [(kind, body["status"]) for kind, body in ours], ours
        assert [body["status"] for kind, body in ours if kind == CORRECTION_KIND] == ["not_hired"], ours
    assert verified["figures"]["referrals_sent"] == 1  # youth's report: the referral sent still counts

    # The referral's audit trail and history name both the original and the correction.
    referral_bundle = tmp_path / "referral.bundle"
    await asyncio.to_thread(cli, youth, "audit", "export", rid.hex(), "--output", str(referral_bundle))
    report = await asyncio.to_thread(orgnode, "audit", "verify", str(referral_bundle))
    assert "hired → not_hired (correcting hired)" in report.stdout, report.stdout
    assert "corrected the outcome hired to not_hired" in report.stdout and "the original outcome stays" in report.stdout
    shown = json.loads(await asyncio.to_thread(cli, youth, "referral", "show", rid.hex(), "--json"))
    steps_shown = [(h["status"], h["corrected"]) for h in shown["history"]]
    assert steps_shown[-2:] == [("hired", True), ("not_hired", False)], steps_shown
