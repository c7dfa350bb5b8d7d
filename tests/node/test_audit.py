"""Provenance end to end: a full referral (three nodes, re-shared job, hire) exported as an audit
bundle that verifies offline in a fresh process; a tamper suite; impact figures recomputed."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys

import pytest

from protocol import audit
from protocol.audit_bundle import AuditBundle, AuditInputError
from protocol.codec import decode, encode
from protocol.statement import Envelope
from protocol.versions import WITHOUT_RESHARE_WANT
from tests.e2e.cli_helpers import REPO
from tests.node.federation_helpers import Net, checkpoint_held, pair, wait_until


async def full_referral(net: Net, *, audit_consent: bool = True, steps: tuple[str, ...] = ("in_process",)):
    # Youth predates lazy re-sharing (docs/protocol.md 14.2), so the co-op's re-share reaches it with its
    # body although it holds the job from Northwind already: the bundle then carries a re-share too.
    youth = await net.start("Youth Futures", sector="nonprofit", versions=WITHOUT_RESHARE_WANT)
    coop = await net.start("Green Works", sector="social_enterprise")
    corp = await net.start("Northwind", sector="company")
    await pair(youth, coop)
    await pair(coop, corp)
    await pair(youth, corp)
    job = corp.talent.post_job(title="Warehouse team lead", skills=["Forklift", "Team leadership"], hops=2)
    await wait_until(lambda: youth.talent.store.job(job.job_id) is not None, what="job at youth")
    # The co-op re-shares the job (hops=2) to the youth non-profit.
    await wait_until(lambda: list(youth.service.db.query("SELECT 1 FROM foreign_statements")), what="re-share at youth")
    purposes = ["match", "refer", "audit"] if audit_consent else ["match", "refer"]
    candidate, _ = youth.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["forklift"],
                                              consent=purposes, consent_scope="all", consent_evidence="form v3")
    youth.talent.refer(candidate.candidate_id, job.job_id)
    await wait_until(lambda: [r for r in corp.talent.store.referrals() if r.status == "received"], what="received")
    rid = corp.talent.store.referrals()[0].referral_id
    for step in steps:  # the stages between received and the hire (interview/offer: tests/node/test_referral_stages.py)
        corp.talent.update_referral(rid, step, "")
    corp.talent.update_referral(rid, "hired", "")
    corp.talent.close_job(job.job_id, filled_by=rid)
    await wait_until(lambda: youth.talent.store.referral(rid).status == "hired", what="hired at youth")
    await wait_until(lambda: youth.talent.store.job(job.job_id).job.status == "filled", what="filled at youth")
    # Every node signs a checkpoint; the holder waits until it holds the others'.
    youth.provenance.checkpoint(force=True)
    for other in (coop, corp):
        await checkpoint_held(other, youth)
    return youth, coop, corp, rid


def verify_in_fresh_process(path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "node.cli.main", "audit", "verify", str(path), "--json"], capture_output=True,
                          text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60)


async def test_full_referral_bundle_verifies_offline(net, tmp_path):
    youth, coop, corp, rid = await full_referral(net)
    bundle = youth.provenance.export_referral(rid, redact=False)
    path = tmp_path / "referral.bundle"
    path.write_bytes(bundle)
    result = verify_in_fresh_process(path)
    report = json.loads(result.stdout)
    assert result.returncode == 0, report
    assert report["valid"] and report["checks_passed"] == list(audit.CHECKS)
    facts = " ".join(report["facts"])
    assert "re-shared" in facts and "profile disclosed" in facts and "sent → received → in_process → hired" in facts
    names = {o["name"] for o in report["organizations"]}
    assert {"Youth Futures", "Northwind"} <= names, report["organizations"]
    assert report["period"]["since_at"] <= report["period"]["until_at"] and report["period"]["since_at"].endswith("Z")
    human = subprocess.run([sys.executable, "-m", "node.cli.main", "audit", "verify", str(path)], capture_output=True,
                           text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60).stdout
    assert f"exported by {youth.service.config.name} on " in human and "Organizations (" in human and "Period: " in human
    assert "  Northwind " in human and "fingerprint " in human and "(ref " not in human, human  # by name, no other id
    assert "  ok      consent: the candidate had agreed before their profile was sent" in human, human
    assert all(f"  ok      {check}: " in human for check in audit.CHECKS if check != "impact"), human  # every check explained
    assert "  n/a     impact: nothing to check: this bundle carries no impact report" in human, human
    # Redacted export: the profile's plaintext is absent but everything still verifies.
    redacted = youth.provenance.export_referral(rid, redact=True)
    assert b"Amina" not in redacted and b"Amina" in bundle
    assert audit.verify(redacted).valid


async def test_profile_redacted_without_audit_consent(net):
    youth, coop, corp, rid = await full_referral(net, audit_consent=False)
    bundle = youth.provenance.export_referral(rid, redact=False)
    assert b"amina@example.org" not in bundle
    report = audit.verify(bundle)
    assert report.valid and any("redacted" in f for f in report.facts)


def _rebuild(bundle: AuditBundle, **changes) -> bytes:
    return dataclasses.replace(bundle, **changes).encode()


def _statement_index(bundle: AuditBundle, kind: str) -> int:
    for i, raw in enumerate(bundle.statements):
        if Envelope.decode(raw).open_plain().kind == kind:
            return i
    raise AssertionError(kind)


async def test_tamper_suite(net):
    youth, coop, corp, rid = await full_referral(net)
    good = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    assert audit.verify(good.encode()).valid

    def failure(data: bytes) -> str:
        report = audit.verify(data)
        assert not report.valid
        return report.failed.check

    idx = _statement_index(good, "referral")
    env = Envelope.decode(good.statements[idx])
    statements = list(good.statements)

    # A byte of a signature.
    bad_sig = bytearray(env.signature)
    bad_sig[5] ^= 1
    statements[idx] = Envelope(env.header_bytes, bytes(bad_sig), env.content).encode()
    assert failure(_rebuild(good, statements=tuple(statements))) == "signatures"
    # A byte of a payload (the body the header commits to).
    salt, body = env.content
    bad_body = bytearray(body)
    bad_body[-3] ^= 1
    statements[idx] = Envelope(env.header_bytes, env.signature, (salt, bytes(bad_body))).encode()
    assert failure(_rebuild(good, statements=tuple(statements))) == "signatures"
    # A byte of a header.
    bad_header = bytearray(env.header_bytes)
    bad_header[-40] ^= 1
    statements[idx] = Envelope(bytes(bad_header), env.signature, env.content).encode()
    assert failure(_rebuild(good, statements=tuple(statements))) == "signatures"
    # A byte of a proof.
    proofs = list(good.proofs)
    first = proofs[0]
    path = list(first.path)
    path[0] = bytes([path[0][0] ^ 1]) + path[0][1:]
    proofs[0] = dataclasses.replace(first, path=tuple(path))
    assert failure(_rebuild(good, proofs=tuple(proofs))) == "inclusion"
    # A missing status (the middle of the chain).
    statuses = [i for i, raw in enumerate(good.statements)
                if (s := Envelope.decode(raw).open_plain()).kind == "referral_status"
                and decode(s.body)["status"] == "in_process"]
    kept = tuple(raw for i, raw in enumerate(good.statements) if i not in statuses)
    assert failure(_rebuild(good, statements=kept)) == "lifecycle"
    # An unusable file.
    with pytest.raises(AuditInputError):
        audit.verify(b"\x93\x01\xa5hello\x80")
    with pytest.raises(AuditInputError):
        audit.verify(encode([1, "something-else", {}]))


async def test_impact_matches_statements_and_verifies(net, tmp_path):
    youth, coop, corp, rid = await full_referral(net)
    for node in (coop, corp):
        node.provenance.checkpoint(force=True)
    await wait_until(lambda: youth.provenance.latest_checkpoint(corp.service.node_id)[1].size
                     >= corp.service.log.head(corp.service.node_id).seq - 1)
    live = youth.provenance.impact(0, 2**62)
    assert live.figures["referrals_sent"] == 1
    assert live.figures["referrals_hired"] == 1
    assert live.figures["new_partnerships"] == 2
    bundle, exported = youth.provenance.export_impact(0, 2**62)
    report = audit.verify(bundle)
    assert report.valid, report.failed
    assert report.figures == exported.figures
