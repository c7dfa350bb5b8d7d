"""Issue 13 items 1 and 2 on a line of three real nodes A–B–C (A and C are not partners): C's hops=2
job reached A through B's re-share; ``match`` asks A through B (sealed end to end), C requests the
referral of A's consented candidate, hires, and A exports an audit bundle (the employer's proofs
fetched through the path) that verifies offline. B relayed everything and holds none of it."""

from __future__ import annotations

import json
from pathlib import Path

from node.cli.referrals import _match_lines
from node.core import path_proofs
from node.core.matching import ask_peers
from protocol import audit
from tests.node.federation_helpers import Net, checkpoint_held, pair, wait_until
from tests.node.test_audit import verify_in_fresh_process

MARKER = "Zorvella-Quint-4417"


def home_bytes(home: Path) -> bytes:
    """Every file under a node's home: the database, its WAL and journal, logs, keys."""
    return b"".join(p.read_bytes() for p in sorted(home.rglob("*")) if p.is_file() and not p.is_socket())


async def line(net: Net):
    a = await net.start("Youth Futures", sector="nonprofit")
    b = await net.start("Green Works", sector="social_enterprise")
    c = await net.start("Northwind", sector="company")
    await pair(a, b)
    await pair(b, c)
    job = c.talent.post_job(title="Warehouse team lead", skills=["Forklift", "Team leadership"], hops=2)
    await wait_until(lambda: a.talent.store.job(job.job_id) is not None, what="re-shared job at A")
    candidate, _ = a.talent.add_candidate(name=f"{MARKER} Person", email="zq@example.org", skills=["forklift"],
                                          consent=["match", "refer", "audit"], consent_scope="all",
                                          consent_evidence="form v3")
    return a, b, c, job, candidate


async def test_match_reaches_a_partners_partner_and_the_audit_bundle_verifies(net, tmp_path):
    a, b, c, job, candidate = await line(net)
    answer = await ask_peers(c.talent, c.client, job.job_id, 8.0, paths=c.paths)
    offers = [r for r in answer["results"] if r["holder"] == a.service.node_id.hex()]
    assert len(offers) == 1, (answer["peers"], answer["results"])
    assert offers[0]["holder_name"] == "Youth Futures" and offers[0]["matched"] == ["Forklift"]
    assert [hop["node_id"] for hop in offers[0]["via"]] == [b.service.node_id.hex()]
    assert not answer["partial"], answer["peers"]
    # `orgnode match` shows which partner the offer came through, and that A answered through B.
    text = _match_lines(answer)
    assert "at Youth Futures via Green Works  matched: Forklift" in text and "Youth Futures via Green Works: 1 offer(s)" in text
    # Positive control: B (a direct partner) was asked directly and answered, with nothing to offer.
    assert any(p["node_id"] == b.service.node_id.hex() and p["answered"] for p in answer["peers"])

    c.talent.request_referral(job.job_id, bytes.fromhex(offers[0]["pseudonym"]))
    await wait_until(lambda: c.talent.store.referrals(), timeout=15, what="A's referral at C, through B")
    rid = c.talent.store.referrals()[0].referral_id
    assert c.talent.store.profile(rid)["name"] == f"{MARKER} Person"
    assert c.talent.store.referrals()[0].referrer == a.service.node_id
    c.talent.update_referral(rid, "in_process", "")
    c.talent.update_referral(rid, "hired", "")
    await wait_until(lambda: getattr(a.talent.store.referral(rid), "status", None) == "hired", timeout=15, what="hire at A")

    await checkpoint_held(b, a, timeout=15)  # B's re-share is in the bundle: A needs B's checkpoint over it
    bundle = await path_proofs.export_referral(a.provenance, a.paths, rid, redact=False)
    path = tmp_path / "path.bundle"
    path.write_bytes(bundle)
    result = verify_in_fresh_process(path)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["valid"] and report["checks_passed"] == list(audit.CHECKS)
    assert "sent → received → in_process → hired" in " ".join(report["facts"])

    # impact --export: the live figures count the trust-path hire; the signed report cannot prove it
    # (C's log is not held at A) and now says so, naming C and why (the old export dropped it silently).
    live = a.provenance.impact(0, 2**62)
    assert live.figures["referrals_hired"] == 1
    left_out: list[dict] = []
    data, figures = a.provenance.export_impact(0, 2**62, left_out=left_out)
    assert figures.figures["referrals_hired"] == 0
    about_c = [x for x in left_out if x["node_id"] == c.service.node_id.hex()]
    assert about_c and about_c[0]["statements"] >= 3 and "trust path" in about_c[0]["reason"]
    assert not [x for x in left_out if x["node_id"] == b.service.node_id.hex() and "trust path" in x["reason"]]
    (tmp_path / "impact.bundle").write_bytes(data)
    assert verify_in_fresh_process(tmp_path / "impact.bundle").returncode == 0

    # B carried the query, the answer, the request, the referral and the statuses: none of it readable.
    assert MARKER.encode() in home_bytes(a.service.home.path) and MARKER.encode() in home_bytes(c.service.home.path)
    assert MARKER.encode() not in home_bytes(b.service.home.path)
