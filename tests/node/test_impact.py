"""`orgnode impact --json` against figures the test counts itself.

A three-organization scenario with referrals in every state (hired, not hired, in process, consent
withdrawn with an erasure receipt, sent and received) runs on real nodes. The expected figures
are then counted here straight from each node's SQLite ``entries`` table (bodies decoded with a
plain msgpack decoder; ``protocol.impact`` is never called for the expectation) and compared with
the real command (``orgnode impact --json`` against the running node), with
``runtime.provenance.impact`` and, per partner too, with a signed export that ``orgnode audit
verify`` recomputes offline.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import statistics
from collections import defaultdict
from typing import Any

import msgpack

from node.runtime import NodeRuntime
from protocol.impact import compute
from protocol.statement import Header
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import Net, head, pair, wait_until
from tests.node.test_audit import verify_in_fresh_process
from tests.protocol.impact_reference import reference_compute

FOREVER = 2**62
NOT_COUNTED = {"checkpoint", "witness", "impact_report"}  # infrastructure, not engagement (docs/audit.md)




# --- the expectation, counted from the database --------------------------------------------------------


def entries(node: NodeRuntime) -> list[dict[str, Any]]:
    """Every statement the node holds, read from its SQLite file with the standard library."""
    with sqlite3.connect(node.service.home.db_path) as conn:
        conn.row_factory = sqlite3.Row
        rows = [dict(r) for r in conn.execute("SELECT author, seq, kind, ts, header, body FROM entries")]
    for row in rows:
        header = Header.decode(row["header"])  # the signed header agrees with the table's columns
        assert (header.author, header.seq, header.kind, header.ts) == (row["author"], row["seq"], row["kind"], row["ts"])
        row["value"] = msgpack.unpackb(row["body"], raw=False) if row["body"] is not None else None
    return rows


def expected_impact(node: NodeRuntime) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    me = node.service.node_id
    rows = [r for r in entries(node) if r["kind"] not in NOT_COUNTED]
    referrals: dict[bytes, dict[str, Any]] = {}
    for r in sorted(rows, key=lambda r: r["ts"]):
        v = r["value"]
        if r["kind"] == "referral" and v is not None and (r["author"] == me or v["job_author"] == me):
            referrals.setdefault(v["referral_id"], {"from": r["author"], "to": v["job_author"], "ts": r["ts"], "statuses": []})
    for r in rows:
        v = r["value"]
        if v is None:
            continue
        if r["kind"] == "referral_status" and v["referral_id"] in referrals:
            ref = referrals[v["referral_id"]]
            if r["author"] in (ref["from"], ref["to"]):
                ref["statuses"].append((r["ts"], v["status"]))
        if r["kind"] == "consent_withdrawal":
            for rid in v["referral_ids"]:
                if rid in referrals and referrals[rid]["from"] == r["author"]:
                    referrals[rid]["statuses"].append((r["ts"], "withdrawn"))

    def has(ref: dict[str, Any], *states: str) -> bool:
        return any(status in states for _, status in ref["statuses"])

    waits = []
    for ref in referrals.values():
        outcomes = [ts for ts, status in ref["statuses"] if status in ("hired", "not_hired")]
        if outcomes:
            waits.append(max(0, (min(outcomes) - ref["ts"]) // 1000))
    latest_jobs: dict[bytes, dict[str, Any]] = {}
    for r in rows:
        if r["kind"] == "job" and r["author"] == me and r["value"] is not None:
            job = r["value"]
            if job["job_id"] not in latest_jobs or job["version"] > latest_jobs[job["job_id"]]["version"]:
                latest_jobs[job["job_id"]] = job
    figures = {
        "jobs_filled_via_referrals": sum(1 for j in latest_jobs.values() if j.get("status") == "filled" and j.get("filled_by") in referrals),
        "referrals_sent": sum(1 for ref in referrals.values() if ref["from"] == me),
        "referrals_received": sum(1 for ref in referrals.values() if ref["to"] == me),
        "referrals_accepted": sum(1 for ref in referrals.values() if has(ref, "in_process", "hired")),
        "referrals_hired": sum(1 for ref in referrals.values() if has(ref, "hired")),
        "median_seconds_to_outcome": int(statistics.median(waits)) if waits else 0,
        "new_partnerships": sum(1 for r in rows if r["kind"] == "partnership" and r["author"] == me),
        "active_peers": len({r["author"] for r in rows if r["author"] != me}),
        "statements_exchanged": len(rows),
        "consent_withdrawals": sum(1 for r in rows if r["kind"] == "consent_withdrawal" and r["author"] == me),
        "erasures_acknowledged": sum(len(r["value"]["referral_ids"]) for r in rows
                                     if r["kind"] == "erasure_receipt" and r["author"] != me and r["value"] is not None),
    }
    partners: dict[str, dict[str, int]] = defaultdict(
        lambda: {"referrals_sent_to": 0, "referrals_received_from": 0, "hires": 0, "statements_received": 0})
    for r in rows:
        if r["author"] != me:
            partners[r["author"].hex()]["statements_received"] += 1
    for ref in referrals.values():
        other = ref["to"] if ref["from"] == me else ref["from"]
        partners[other.hex()]["referrals_sent_to" if ref["from"] == me else "referrals_received_from"] += 1
        partners[other.hex()]["hires"] += int(has(ref, "hired"))
    return figures, dict(partners)


# --- the scenario --------------------------------------------------------------------------------------


async def settle(nodes: list[NodeRuntime]) -> None:
    for holder in nodes:
        for author in nodes:
            if holder is not author:
                want = head(author, author)
                await wait_until(lambda h=holder, a=author, w=want: head(h, a) >= w, what="logs in sync")


async def scenario(net: Net) -> tuple[NodeRuntime, NodeRuntime, NodeRuntime, dict[str, bytes]]:
    youth = await net.start("Youth Futures", sector="nonprofit")
    coop = await net.start("Green Works", sector="social_enterprise")
    corp = await net.start("Northwind", sector="company")
    await pair(youth, coop)
    await pair(coop, corp)
    await pair(youth, corp)
    lead = corp.talent.post_job(title="Warehouse team lead", skills=["Forklift"])
    picker = corp.talent.post_job(title="Picker", skills=["Forklift"])
    garden = coop.talent.post_job(title="Gardener", skills=["Gardening"])
    mentor = youth.talent.post_job(title="Youth mentor", skills=["Mentoring"])
    await wait_until(lambda: all(youth.talent.store.job(j.job_id) for j in (lead, picker, garden))
                     and coop.talent.store.job(mentor.job_id), what="jobs delivered")

    def add(node: NodeRuntime, name: str, skill: str) -> bytes:
        candidate, _ = node.talent.add_candidate(name=name, email=f"{name.split()[0].lower()}@example.org", skills=[skill],
                                                 consent=["match", "refer"], consent_scope="all", consent_evidence="form v3")
        return candidate.candidate_id

    amina, ben, chen = add(youth, "Amina Diallo", "forklift"), add(youth, "Ben Okafor", "forklift"), add(youth, "Chen Wei", "gardening")
    dana = add(coop, "Dana Novak", "mentoring")
    ids = {
        "hired": bytes.fromhex(youth.talent.refer(amina, lead.job_id)["id"]),
        "not_hired": bytes.fromhex(youth.talent.refer(ben, picker.job_id)["id"]),
        "withdrawn": bytes.fromhex(youth.talent.refer(chen, garden.job_id)["id"]),
        "incoming": bytes.fromhex(coop.talent.refer(dana, mentor.job_id)["id"]),
    }

    def status(node: NodeRuntime, key: str) -> str | None:
        return getattr(node.talent.store.referral(ids[key]), "status", None)

    await wait_until(lambda: status(corp, "hired") == status(corp, "not_hired") == status(coop, "withdrawn") == "received"
                     and status(youth, "incoming") == "received", what="all referrals received")
    corp.talent.update_referral(ids["hired"], "in_process", "")
    corp.talent.update_referral(ids["hired"], "hired", "started Monday")
    corp.talent.close_job(lead.job_id, filled_by=ids["hired"])
    corp.talent.update_referral(ids["not_hired"], "not_hired", "position filled internally")
    youth.talent.update_referral(ids["incoming"], "in_process", "")
    youth.talent.withdraw_consent(chen)
    await wait_until(lambda: status(youth, "hired") == "hired" and status(youth, "not_hired") == "not_hired"
                     and status(coop, "incoming") == "in_process" and status(coop, "withdrawn") == "withdrawn"
                     and youth.talent.store.disclosure(ids["withdrawn"]).acked_at is not None, what="outcomes back")
    await settle([youth, coop, corp])
    return youth, coop, corp, ids


def cli_impact(node: NodeRuntime, *extra: str) -> dict[str, Any]:
    result = orgnode("--home", str(node.service.home.path), "impact", "--json", *extra)
    return dict(json.loads(result.stdout))


def figures_of(view: dict[str, Any], figures: dict[str, int]) -> dict[str, int]:
    return {name: view[name] for name in figures}


def partners_of(view: dict[str, Any]) -> dict[str, dict[str, int]]:
    return {p["node_id"]: {k: v for k, v in p.items() if k not in ("node_id", "name")} for p in view["partners"]}


async def test_impact_cli_equals_independent_counts_and_export_verifies(net, tmp_path):
    youth, coop, corp, ids = await scenario(net)
    nodes = {"youth": youth, "coop": coop, "corp": corp}
    expected = {name: expected_impact(node) for name, node in nodes.items()}

    # The scenario, in the independently counted figures.
    youth_fig, youth_partners = expected["youth"]
    assert youth_fig["referrals_sent"] == 3 and youth_fig["referrals_received"] == 1
    assert youth_fig["referrals_accepted"] == 2 and youth_fig["referrals_hired"] == 1  # the hire, and the one in process
    assert youth_fig["new_partnerships"] == 2 and youth_fig["active_peers"] == 2
    assert youth_fig["consent_withdrawals"] == 1 and youth_fig["erasures_acknowledged"] == 1
    assert youth_fig["jobs_filled_via_referrals"] == 0 and expected["corp"][0]["jobs_filled_via_referrals"] == 1
    assert expected["corp"][0]["referrals_received"] == 2 and expected["corp"][0]["referrals_hired"] == 1
    assert expected["coop"][0]["referrals_sent"] == 1 and expected["coop"][0]["referrals_received"] == 1
    corp_hex, coop_hex = corp.service.node_id.hex(), coop.service.node_id.hex()
    assert {k: youth_partners[corp_hex][k] for k in ("referrals_sent_to", "referrals_received_from", "hires")} == \
        {"referrals_sent_to": 2, "referrals_received_from": 0, "hires": 1}
    assert {k: youth_partners[coop_hex][k] for k in ("referrals_sent_to", "referrals_received_from", "hires")} == \
        {"referrals_sent_to": 1, "referrals_received_from": 1, "hires": 0}
    assert youth_partners[corp_hex]["statements_received"] == len(
        [r for r in entries(youth) if r["author"] == corp.service.node_id and r["kind"] not in NOT_COUNTED])

    # The node's own computation and the real command agree with the count, for every organization.
    for name, node in nodes.items():
        figures, partners = expected[name]
        live = node.provenance.impact(0, FOREVER)
        assert live.figures == figures, name
        assert live.partners == partners, name
        # The one-pass count agrees with the count it replaced, in every window, a statement given twice counted once.
        held = node.provenance.held_statements()
        times = sorted({s.header.ts for s in held})
        for since, until in [(0, FOREVER), (times[len(times) // 3], FOREVER), (0, times[len(times) // 2]),
                             (times[len(times) // 4], times[3 * len(times) // 4])]:
            me = node.service.node_id
            assert compute(me, held + held[::2], since, until) == reference_compute(me, held, since, until), (name, since, until)
        view = await asyncio.to_thread(cli_impact, node)
        assert figures_of(view, figures) == figures, name
        assert partners_of(view) == partners, name
        assert view["organization"] == node.service.config.name
        assert {p["name"] for p in view["partners"]} == {n.service.config.name for n in nodes.values() if n is not node}

    # A signed export: every partner checkpoints first, so the export covers all they signed.
    for node in (coop, corp):
        node.provenance.checkpoint(force=True)
    await settle(list(nodes.values()))
    assert expected_impact(youth) == expected["youth"], "checkpoints are not counted"
    path = tmp_path / "impact.bundle"
    exported = await asyncio.to_thread(cli_impact, youth, "--export", str(path))
    assert exported["export"] == str(path)
    assert figures_of(exported, youth_fig) == youth_fig and partners_of(exported) == youth_partners
    result = await asyncio.to_thread(verify_in_fresh_process, path)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["valid"] and report["referral_id"] is None and report["failed_check"] is None
    assert report["figures"] == youth_fig
    assert "impact" in report["checks_passed"]
    # Exporting appended a checkpoint, the report and a checkpoint: still not counted.
    assert expected_impact(youth) == expected["youth"]
    assert (await asyncio.to_thread(cli_impact, youth))["statements_exchanged"] == youth_fig["statements_exchanged"]
