"""The audit tamper suite: every kind of element of a bundle, changed or removed, is rejected with
the right check and a meaningful reason. Legitimately signed but illegal histories (a reordered
lifecycle, a consent withdrawn before the send, a key used before its rotation, a forged impact
figure, a forked log) are crafted with the real signing identities, so only the rule can catch them.
Unusable files raise ``AuditInputError`` and make ``orgnode audit verify`` exit 2."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys

import pytest

from protocol import audit
from protocol.audience import Audience
from protocol.audit import AuditReport
from protocol.audit_bundle import BUNDLE_MAGIC, AuditBundle, AuditInputError, Consistency, Proof
from protocol.card_bundle import verify_bundle
from protocol.codec import decode, encode
from protocol.consent import ConsentWithdrawal
from protocol.impact import Impact
from protocol.referrals import ReferralStatus
from protocol.statement import Envelope, Statement, sign_statement
from tests.e2e.cli_helpers import REPO
from tests.node.federation_helpers import wait_until
from tests.node.test_audit import full_referral

# --- helpers --------------------------------------------------------------------------------------


def rebuild(bundle: AuditBundle, **changes: object) -> bytes:
    return dataclasses.replace(bundle, **changes).encode()


def opened(bundle: AuditBundle) -> list[Statement]:
    return [Envelope.decode(raw).open_plain() for raw in bundle.statements]


def rejected(data: bytes, check: str, *fragments: str) -> AuditReport:
    """Verify ``data``; it must fail ``check`` with every fragment in the detail."""
    report = audit.verify(data)
    assert not report.valid, f"accepted a bundle that should fail {check}"
    assert report.failed is not None
    assert report.failed.check == check, (report.failed.check, report.failed.detail)
    for fragment in fragments:
        assert fragment in report.failed.detail, (fragment, report.failed.detail)
    assert check not in report.passed
    return report


def flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1:]


def without(bundle: AuditBundle, statement_id: bytes) -> tuple[bytes, ...]:
    return tuple(raw for raw, s in zip(bundle.statements, opened(bundle), strict=True) if s.id != statement_id)


def replaced(bundle: AuditBundle, statement_id: bytes, new: Statement) -> tuple[bytes, ...]:
    return tuple(Envelope.of(new).encode() if s.id == statement_id else raw
                 for raw, s in zip(bundle.statements, opened(bundle), strict=True))


def status_of(statement: Statement) -> str | None:
    if statement.kind != ReferralStatus.KIND or statement.body is None:
        return None
    return str(decode(statement.body)["status"])


def resign(statement: Statement, identity, **header: object) -> Statement:  # type: ignore[no-untyped-def]
    """The same statement (kind, seq, prev, time, body, salt) signed again by ``identity``."""
    h = statement.header
    fields = {"kind": h.kind, "seq": statement.seq, "prev": h.prev, "now": h.ts,
              "body": statement.body_value() if statement.body is not None else None, "private": h.private,
              "salt": statement.salt if h.private else None}
    fields.update(header)
    return sign_statement(identity, **fields)  # type: ignore[arg-type]


async def checkpoints_reach(holder, *others) -> None:  # type: ignore[no-untyped-def]
    """Every node in ``others`` checkpoints now; wait until ``holder`` holds those checkpoints."""
    for node in others:
        node.provenance.checkpoint(force=True)
    for node in others:
        node_id = node.service.node_id
        want = node.service.log.head(node_id).seq
        await wait_until(lambda node_id=node_id, want=want: holder.service.log.head(node_id).seq >= want,
                         what=f"{node.service.config.name}'s checkpoint at the holder")


# --- every byte of every signed element -------------------------------------------------------------


async def test_a_byte_of_any_signature_payload_header_or_proof(net):
    youth, coop, corp, rid = await full_referral(net)
    good = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    assert audit.verify(good.encode()).valid
    statements = opened(good)
    assert {s.author for s in statements} == {youth.service.node_id, coop.service.node_id, corp.service.node_id}
    kinds = set()
    for i, (raw, statement) in enumerate(zip(good.statements, statements, strict=True)):
        env = Envelope.decode(raw)
        kinds.add(statement.kind)
        others = list(good.statements)
        # A byte of the signature (first, middle, last).
        for at in (0, 31, 63):
            others[i] = Envelope(env.header_bytes, flip(env.signature, at), env.content).encode()
            report = rejected(rebuild(good, statements=tuple(others)), "signatures")
            assert report.failed.statement == statement.id
        # A byte anywhere in the header: unreadable or no longer what was signed.
        for at in range(0, len(env.header_bytes), 7):
            others[i] = Envelope(flip(env.header_bytes, at), env.signature, env.content).encode()
            rejected(rebuild(good, statements=tuple(others)), "signatures")
        # A byte of the payload (the body the header's hash commits to), and of its salt.
        if isinstance(env.content, tuple):
            salt, body = env.content
            for at in {0, len(body) // 2, len(body) - 1}:
                others[i] = Envelope(env.header_bytes, env.signature, (salt, flip(body, at))).encode()
                rejected(rebuild(good, statements=tuple(others)), "signatures", "body")
            if salt:
                others[i] = Envelope(env.header_bytes, env.signature, (flip(salt, 3), body)).encode()
                rejected(rebuild(good, statements=tuple(others)), "signatures", "body")
    assert {"referral", "referral_profile", "referral_status", "consent", "job", "reshare", "checkpoint"} <= kinds

    # A byte of any hash of any inclusion proof.
    assert good.proofs and all(p.path for p in good.proofs[:3])
    for i, proof in enumerate(good.proofs):
        for j, node_hash in enumerate(proof.path):
            proofs = list(good.proofs)
            path = list(proof.path)
            path[j] = flip(node_hash, j % 32)
            proofs[i] = dataclasses.replace(proof, path=tuple(path))
            report = rejected(rebuild(good, proofs=tuple(proofs)), "inclusion", "not in its author's log")
            assert report.failed.statement == proof.statement
        # A proof re-pointed at another statement or checkpoint, or shortened.
        proofs = list(good.proofs)
        proofs[i] = dataclasses.replace(proof, statement=flip(proof.statement, 0))
        rejected(rebuild(good, proofs=tuple(proofs)), "inclusion", "no inclusion proof")
        proofs[i] = dataclasses.replace(proof, checkpoint=flip(proof.checkpoint, 0))
        rejected(rebuild(good, proofs=tuple(proofs)), "inclusion", "checkpoint a proof refers to is missing")
        if proof.path:
            proofs[i] = dataclasses.replace(proof, path=proof.path[:-1])
            rejected(rebuild(good, proofs=tuple(proofs)), "inclusion")

    # A byte of any card bundle (keys, rotations, the org card).
    for i, card in enumerate(good.cards):
        cards = list(good.cards)
        for at in range(20, len(card), max(1, len(card) // 25)):
            cards[i] = flip(card, at)
            data = rebuild(good, cards=tuple(cards))
            report = audit.verify(data)
            assert not report.valid and report.failed.check in ("cards", "keys"), (at, report.failed)

    # The bundle is about another referral: nothing proves it.
    rejected(rebuild(good, subject=os.urandom(16)), "references", "referral the bundle is about is missing")


async def test_a_byte_of_any_consistency_proof(net):
    youth, coop, corp, rid = await full_referral(net)
    await checkpoints_reach(youth, coop, corp)
    data, _ = youth.provenance.export_impact(0, 2**62)
    good = AuditBundle.decode(data)
    assert audit.verify(data).valid
    nonempty = [c for c in good.consistency if c.path]
    assert len(nonempty) >= 2, "the impact bundle proves several checkpoint pairs consistent"
    for i, proof in enumerate(good.consistency):
        for j, node_hash in enumerate(proof.path):
            consistency = list(good.consistency)
            path = list(proof.path)
            path[j] = flip(node_hash, 31 - j % 32)
            consistency[i] = dataclasses.replace(proof, path=tuple(path))
            report = rejected(rebuild(good, consistency=tuple(consistency)), "checkpoints", "inconsistent", "split view")
            assert report.failed.statement == proof.new
        # A missing or re-pointed consistency proof.
        consistency = [c for k, c in enumerate(good.consistency) if k != i]
        rejected(rebuild(good, consistency=tuple(consistency)), "checkpoints", "no consistency proof")
    # A checkpoint's root, re-signed by its honest author, that does not extend the earlier one (a split view).
    own = youth.service.node_id
    own_cps = sorted((s for s in opened(good) if s.kind == "checkpoint" and s.author == own), key=lambda s: s.seq)
    last = own_cps[-1]
    body = decode(last.body)
    forged = resign(last, youth.service.identity, body={"size": body["size"], "root": os.urandom(32)})
    statements = replaced(good, last.id, forged)
    consistency = tuple(dataclasses.replace(c, new=forged.id) if c.new == last.id else c for c in good.consistency)
    proofs = tuple(dataclasses.replace(p, checkpoint=forged.id) if p.checkpoint == last.id else p for p in good.proofs)
    report = audit.verify(rebuild(good, statements=statements, consistency=consistency, proofs=proofs))
    assert not report.valid and report.failed.check in ("inclusion", "checkpoints"), report.failed


# --- missing elements ---------------------------------------------------------------------------------


async def test_missing_statements_proofs_and_cards(net):
    youth, coop, corp, rid = await full_referral(net)
    good = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    statements = opened(good)
    by_status = {status_of(s): s for s in statements if status_of(s)}
    assert set(by_status) == {"received", "in_process", "hired"}

    # Any status missing: the first and middle break the hash chain, the last contradicts the filled job.
    rejected(rebuild(good, statements=without(good, by_status["received"].id)), "lifecycle", "missing status")
    rejected(rebuild(good, statements=without(good, by_status["in_process"].id)), "lifecycle", "missing status")
    rejected(rebuild(good, statements=without(good, by_status["hired"].id)), "lifecycle", "filled by this referral",
             "no hire")

    # A statement of the referrer's log before the release (here its org card) missing: a withdrawal could hide there.
    me = youth.service.node_id
    referral = next(s for s in statements if s.kind == "referral")
    earlier = [s for s in statements if s.author == me and s.seq < referral.seq and s.kind not in ("consent", "referral_profile")]
    assert earlier
    for victim in earlier:
        rejected(rebuild(good, statements=without(good, victim.id)), "consent", f"statement {victim.seq} missing",
                 "withdrawal could be hidden")
    # The referral, its profile, its consent, its job missing.
    rejected(rebuild(good, statements=without(good, referral.id)), "references", "referral the bundle is about is missing")
    profile = next(s for s in statements if s.kind == "referral_profile")
    rejected(rebuild(good, statements=without(good, profile.id)), "references", "profile statement")
    job = next(s for s in statements if s.kind == "job" and decode(s.body)["version"] == 1)
    rejected(rebuild(good, statements=without(good, job.id)), "references", "job the referral names")
    consent = next(s for s in statements if s.kind == "consent")
    rejected(rebuild(good, statements=without(good, consent.id)), "consent", "consent statement")

    # A statement removed from its author's checkpoint coverage: the covering checkpoint, or the proof.
    for author in (me, corp.service.node_id, coop.service.node_id):
        covering = max((s for s in statements if s.author == author and s.kind == "checkpoint"), key=lambda s: s.seq)
        rejected(rebuild(good, statements=without(good, covering.id)), "inclusion", "checkpoint a proof refers to is missing")
    for proof in (good.proofs[0], next(p for p in good.proofs if p.statement == referral.id)):
        proofs = tuple(p for p in good.proofs if p is not proof)
        report = rejected(rebuild(good, proofs=proofs), "inclusion", "no inclusion proof")
        assert report.failed.statement == proof.statement
    # A proof against another author's checkpoint.
    corp_cp = max((s for s in statements if s.author == corp.service.node_id and s.kind == "checkpoint"), key=lambda s: s.seq)
    proofs = tuple(dataclasses.replace(p, checkpoint=corp_cp.id) if p.statement == referral.id else p for p in good.proofs)
    rejected(rebuild(good, proofs=proofs), "inclusion", "another author's checkpoint")

    # A card missing: the exporter's, or another author's.
    card_of = {verify_bundle(c).node_id: c for c in good.cards}
    rejected(rebuild(good, cards=tuple(c for n, c in card_of.items() if n != me)), "cards", "exporting organization's card")
    for other in (corp, coop):
        report = rejected(rebuild(good, cards=tuple(c for n, c in card_of.items() if n != other.service.node_id)), "keys",
                          "no org card")
        assert report.failed.statement is not None
    rejected(rebuild(good, cards=(*good.cards, b"\x92\x01\x90")), "cards", "does not verify")


# --- legitimately signed, illegal histories -------------------------------------------------------------


async def test_reordered_transition_signed_by_the_job_org(net):
    youth, coop, corp, rid = await full_referral(net)
    # The company signs "in_process" after "hired", correctly chained to it: a valid signature on an illegal step.
    hired = corp.talent.last_event(rid)
    body = ReferralStatus(rid, "in_process", hired, "reopened")
    statement = corp.federation.append(ReferralStatus.KIND, body.to_value(), private=True, audience=Audience.only(youth.service.node_id))
    await wait_until(lambda: youth.service.log.get(statement.id) is not None and youth.service.log.get(statement.id).body is not None,
                     what="reordered status at the referrer")
    await checkpoints_reach(youth, corp)
    bundle = youth.provenance.export_referral(rid, redact=False)
    assert statement.id in {s.id for s in opened(AuditBundle.decode(bundle))}
    report = rejected(bundle, "lifecycle", "illegal transition", "hired to in_process")
    assert report.failed.statement == statement.id
    assert report.passed == ["cards", "signatures", "keys", "inclusion", "checkpoints", "cosignatures", "references", "consent"]


async def test_status_signed_by_the_wrong_side(net):
    youth, coop, corp, rid = await full_referral(net)
    # The referrer (not the job's org) signs "not_hired" after the hire, chained correctly.
    hired = youth.talent.last_event(rid)
    body = ReferralStatus(rid, "not_hired", hired, "")
    statement = youth.federation.append(ReferralStatus.KIND, body.to_value(), private=True, audience=Audience.only())
    report = rejected(youth.provenance.export_referral(rid, redact=False), "lifecycle", "illegal transition")
    assert report.failed.statement == statement.id


async def test_consent_withdrawn_before_the_send(net):
    youth, coop, corp, rid = await full_referral(net)
    job2 = corp.talent.post_job(title="Forklift driver", skills=["Forklift"])
    await wait_until(lambda: youth.talent.store.job(job2.job_id) is not None, what="second job at youth")
    amina = youth.talent.store.candidates()[0]
    consent = youth.talent.store.consents(amina.candidate_id)[0]
    # The withdrawal is in the holder's signed log, but its local consent table was not updated, so
    # the normal referral path (which checks that table) still releases the profile afterwards.
    withdrawal = youth.federation.append(
        ConsentWithdrawal.KIND, ConsentWithdrawal(consent.consent_id, amina.candidate_ref, ()).to_value(), private=True,
        audience=Audience.only())
    second = youth.talent.refer(amina.candidate_id, job2.job_id)
    rid2 = bytes.fromhex(second["id"])
    # A second candidate: the withdrawal names the candidate (all of their consents), not this consent id.
    ben, _ = youth.talent.add_candidate(name="Ben Okafor", email="ben@example.org", skills=["forklift"],
                                        consent=["match", "refer"], consent_scope="all", consent_evidence="form v3")
    candidate_wide = youth.federation.append(
        ConsentWithdrawal.KIND, ConsentWithdrawal(os.urandom(16), ben.candidate_ref, ()).to_value(), private=True,
        audience=Audience.only())
    rid3 = bytes.fromhex(youth.talent.refer(ben.candidate_id, job2.job_id)["id"])
    await wait_until(lambda: len([r for r in corp.talent.store.referrals() if r.status == "received"]) == 2,
                     what="both late referrals received")
    await wait_until(lambda: all(getattr(youth.talent.store.referral(r), "status", None) == "received" for r in (rid2, rid3)),
                     what="received back at youth")
    await checkpoints_reach(youth, corp)
    # The first referral, sent before the withdrawal, still verifies; the two later ones do not.
    assert audit.verify(youth.provenance.export_referral(rid, redact=False)).valid
    report = rejected(youth.provenance.export_referral(rid2, redact=False), "consent", "withdrawn before the profile was released")
    assert report.failed.statement == withdrawal.id
    report = rejected(youth.provenance.export_referral(rid3, redact=False), "consent", "withdrawn before the profile was released")
    assert report.failed.statement == candidate_wide.id
    # Redacting the withdrawal (header only) does not hide it.
    bundle = AuditBundle.decode(youth.provenance.export_referral(rid2, redact=False))
    target = youth.service.log.get(withdrawal.id)
    statements = tuple(Envelope.of(target, with_body=False).encode() if s.id == withdrawal.id else raw
                       for raw, s in zip(bundle.statements, opened(bundle), strict=True))
    rejected(rebuild(bundle, statements=statements), "consent", "withdrawal before the release is redacted")


async def test_key_not_yet_valid(net):
    youth, coop, corp, rid = await full_referral(net)
    rotation = youth.federation.rotate_key()
    good = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    assert audit.verify(good.encode()).valid, "a rotated key still verifies the history it signed"
    referral = next(s for s in opened(good) if s.kind == "referral")
    assert referral.seq < rotation.seq
    # The same referral signed by the new key: a valid signature, by a key valid only from the rotation on.
    forged = resign(referral, youth.service.identity)
    assert forged.header.key != referral.header.key
    report = rejected(rebuild(good, statements=replaced(good, referral.id, forged)), "keys", "not valid for statement",
                      "rotated")
    assert report.failed.statement == forged.id
    # A key that never belonged to the author.
    from protocol.identity import Identity

    stranger = resign(referral, Identity.from_random(os.urandom))
    rejected(rebuild(good, statements=replaced(good, referral.id, stranger)), "keys")


async def test_forged_impact_figures(net, monkeypatch):
    import node.core.provenance as provenance_module

    youth, coop, corp, rid = await full_referral(net)
    await checkpoints_reach(youth, coop, corp)
    honest = provenance_module.compute

    def inflate(me, statements, since, until):  # type: ignore[no-untyped-def]
        real = honest(me, statements, since, until)
        return Impact({**real.figures, "referrals_hired": real.figures["referrals_hired"] + 1}, real.partners)

    # The report is signed by the node's own identity and tied to real checkpoints: only recomputation catches it.
    monkeypatch.setattr(provenance_module, "compute", inflate)
    data, _ = youth.provenance.export_impact(0, 2**62)
    report = rejected(data, "impact", "referrals_hired is reported as 2 but the statements show 1")
    assert report.passed == ["cards", "signatures", "keys", "inclusion", "checkpoints", "cosignatures", "references", "consent", "lifecycle"]

    def inflate_partner(me, statements, since, until):  # type: ignore[no-untyped-def]
        real = honest(me, statements, since, until)
        partners = {k: dict(v) for k, v in real.partners.items()}
        partners[corp.service.node_id.hex()]["hires"] += 1
        return Impact(real.figures, partners)

    monkeypatch.setattr(provenance_module, "compute", inflate_partner)
    data, _ = youth.provenance.export_impact(0, 2**62)
    rejected(data, "impact", "hires for partner", "reported as 2 but the statements show 1")

    def invent_partner(me, statements, since, until):  # type: ignore[no-untyped-def]
        real = honest(me, statements, since, until)
        return Impact(real.figures, {**real.partners, os.urandom(32).hex(): {"referrals_sent_to": 3}})

    monkeypatch.setattr(provenance_module, "compute", invent_partner)
    data, _ = youth.provenance.export_impact(0, 2**62)
    rejected(data, "impact", "referrals_sent_to for partner", "reported as 3 but the statements show 0")

    # Figures computed over a chosen subset of a partner's log (its hire left out), with the
    # statement then dropped from the bundle: the partner's log up to its checkpoint is incomplete.
    hired = next(s for s in corp.service.log.statements(corp.service.node_id) if status_of(s) == "hired")

    def subset(me, statements, since, until):  # type: ignore[no-untyped-def]
        return honest(me, [s for s in statements if s.id != hired.id], since, until)

    monkeypatch.setattr(provenance_module, "compute", subset)
    data, _ = youth.provenance.export_impact(0, 2**62)
    bundle = AuditBundle.decode(data)
    dropped = rebuild(bundle, statements=without(bundle, hired.id), proofs=tuple(p for p in bundle.proofs if p.statement != hired.id))
    rejected(dropped, "impact", f"statement {hired.seq} missing")
    # And the reporter's own log up to its checkpoint must be complete too.
    monkeypatch.setattr(provenance_module, "compute", honest)
    data, _ = youth.provenance.export_impact(0, 2**62)
    bundle = AuditBundle.decode(data)
    assert audit.verify(data).valid
    own = next(s for s in opened(bundle) if s.author == youth.service.node_id and s.kind == "partnership")
    rejected(rebuild(bundle, statements=without(bundle, own.id)), "impact", "reporter's log", f"statement {own.seq} missing")
    # The report statement itself missing, or redacted.
    rejected(rebuild(bundle, statements=without(bundle, bundle.impact)), "impact", "impact report statement is missing")
    report_statement = youth.service.log.get(bundle.impact)
    statements = tuple(Envelope.of(report_statement, with_body=False).encode() if s.id == bundle.impact else raw
                       for raw, s in zip(bundle.statements, opened(bundle), strict=True))
    rejected(rebuild(bundle, statements=statements), "impact", "redacted")


async def test_two_statements_for_one_sequence(net):
    youth, coop, corp, rid = await full_referral(net)
    good = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    me = youth.service.node_id
    last = max((s for s in opened(good) if s.author == me and s.kind == "checkpoint"), key=lambda s: s.seq)
    # The exporter's own last checkpoint, signed twice at one sequence (same size and root, another time):
    # a fork of its log inside the bundle, with a (trivial) consistency proof between the two.
    twin = resign(last, youth.service.identity, now=last.header.ts + 1)
    consistency = (*good.consistency, Consistency(last.id, twin.id, ()), Consistency(twin.id, last.id, ()))
    data = rebuild(good, statements=(*good.statements, Envelope.of(twin).encode()), consistency=consistency)
    report = rejected(data, "checkpoints", f"sequence {last.seq}", "forked")
    assert report.failed.statement in (last.id, twin.id)
    # A content statement twinned the same way has no proof in the checkpointed tree.
    referral = next(s for s in opened(good) if s.kind == "referral")
    twin = resign(referral, youth.service.identity, now=referral.header.ts + 1)
    proofs = (*good.proofs, Proof(twin.id, next(p.checkpoint for p in good.proofs if p.statement == referral.id),
                                  next(p.path for p in good.proofs if p.statement == referral.id)))
    rejected(rebuild(good, statements=(*good.statements, Envelope.of(twin).encode()), proofs=proofs), "inclusion")


# --- unusable input --------------------------------------------------------------------------------------


def cli_verify(path) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return subprocess.run([sys.executable, "-m", "node.cli.main", "audit", "verify", str(path), "--json"], capture_output=True,
                          text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60)


UNUSABLE = {
    "empty": b"",
    "text": b"hello, this is not a bundle\n",
    "json": json.dumps({"valid": True}).encode(),
    "not a list": encode({"subject": None}),
    "other magic": encode([1, "something-else", {}]),
    "future version": encode([9, BUNDLE_MAGIC, {}]),
    "no fields": encode([1, BUNDLE_MAGIC, {}]),
    "short": encode([1, BUNDLE_MAGIC]),
    "fields of the wrong type": encode([1, BUNDLE_MAGIC, {"subject": None, "exported_by": b"x" * 32, "exported_at": 1,
                                                          "cards": "none", "statements": [], "proofs": [], "consistency": [],
                                                          "impact": None}]),
    "proof of the wrong shape": encode([1, BUNDLE_MAGIC, {"subject": None, "exported_by": b"x" * 32, "exported_at": 1,
                                                          "cards": [], "statements": [], "proofs": [[b"a" * 32]],
                                                          "consistency": [], "impact": None}]),
    "an unknown field": encode([1, BUNDLE_MAGIC, {"subject": b"s" * 16, "exported_by": b"x" * 32, "exported_at": 1,
                                                  "cards": [], "statements": [], "proofs": [], "consistency": [],
                                                  "impact": None, "subjecu": None}]),
    "neither a referral nor a report": encode([1, BUNDLE_MAGIC, {"subject": None, "exported_by": b"x" * 32, "exported_at": 1,
                                                                 "cards": [], "statements": [], "proofs": [], "consistency": [],
                                                                 "impact": None}]),
    "nested too deep": encode([1, BUNDLE_MAGIC, [[[[[[[[[[1]]]]]]]]]]]),
    "trailing bytes": encode([1, BUNDLE_MAGIC, {}]) + b"\x00",
}


def test_unusable_inputs_raise_input_error(tmp_path):
    for name, data in UNUSABLE.items():
        with pytest.raises(AuditInputError, match="not a usable audit bundle"):
            audit.verify(data)
            pytest.fail(f"accepted {name}")


def test_cli_exit_codes_for_unusable_input(tmp_path):
    for name in ("empty", "json", "other magic", "future version"):
        path = tmp_path / f"{name.replace(' ', '-')}.bundle"
        path.write_bytes(UNUSABLE[name])
        result = cli_verify(path)
        assert result.returncode == 2, (name, result.stdout, result.stderr)
        answer = json.loads(result.stdout)
        # Issue 12 item 3: under --json the error object on stdout, with a stable code (exit 2 as before).
        assert answer["error"]["code"] == "not-a-bundle" and "not a usable audit bundle" in answer["error"]["message"]
        # Acceptance: an auditor is told what to do next, not only the decoder's words ("msgpack: …").
        next_step = "upgrade orgnode" if name == "future version" else "give the file `orgnode audit export`"
        assert next_step in answer["error"]["message"], (name, answer)
    result = cli_verify(tmp_path / "does-not-exist.bundle")
    assert result.returncode == 2 and json.loads(result.stdout)["error"]["code"] == "unreadable-file"
    assert "cannot read" in json.loads(result.stdout)["error"]["message"]
    human = subprocess.run([sys.executable, "-m", "node.cli.main", "audit", "verify", str(tmp_path / "empty.bundle")],
                           capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, timeout=60)
    assert human.returncode == 2 and "not a usable audit bundle" in human.stderr


async def test_random_corruption_never_crashes_or_passes_changed_content(net, tmp_path):
    youth, coop, corp, rid = await full_referral(net)
    data = youth.provenance.export_referral(rid, redact=False)
    good = AuditBundle.decode(data)
    rng = random.Random(20260101)
    outcomes: dict[str, int] = {}
    for _ in range(1000):
        at = rng.randrange(len(data))
        mutated = data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1:]
        try:
            report = audit.verify(mutated)
        except AuditInputError:
            outcomes["unusable"] = outcomes.get("unusable", 0) + 1
            continue
        if report.valid:
            # Only the unsigned export time may change without failing.
            assert dataclasses.replace(AuditBundle.decode(mutated), exported_at=good.exported_at) == good
            outcomes["valid"] = outcomes.get("valid", 0) + 1
        else:
            assert report.failed is not None
            outcomes[report.failed.check] = outcomes.get(report.failed.check, 0) + 1
    assert outcomes.get("signatures", 0) > 300, outcomes
    # The exit statuses of the real command: 0 valid, 1 invalid.
    path = tmp_path / "good.bundle"
    path.write_bytes(data)
    assert cli_verify(path).returncode == 0
    bad = tmp_path / "bad.bundle"
    statuses = [s for s in opened(good) if status_of(s) == "in_process"]
    bad.write_bytes(rebuild(good, statements=without(good, statuses[0].id)))
    result = cli_verify(bad)
    assert result.returncode == 1
    answer = json.loads(result.stdout)
    assert answer["valid"] is False and answer["failed_check"] == "lifecycle" and answer["failed_statement_id"]
    from tests.e2e.test_cli_json import check  # the JSON conventions, by key and value, on a failure's answer too

    check(answer, "audit verify (invalid)")


async def test_withdrawal_without_recipients_is_still_logged(net):
    """A candidate who withdraws before any referral leaves a signed trace the verifier can see."""
    youth = await net.start("Youth Futures")
    candidate, consent = youth.talent.add_candidate(name="Early Leaver", email="early@example.org", skills=["forklift"],
                                                    consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    assert consent is not None
    answer = youth.talent.withdraw_consent(candidate.candidate_id)
    assert answer["recipients_notified"] == []
    logged = [ConsentWithdrawal.from_value(s.body_value()) for s in youth.service.log.statements(youth.service.node_id)
              if s.kind == ConsentWithdrawal.KIND]
    assert [(w.consent_id, w.candidate_ref, w.referral_ids) for w in logged] == [(consent.consent_id, candidate.candidate_ref, ())]


def test_a_cut_short_bundle_is_said_in_plain_words(tmp_path):
    """Acceptance pass 12: a bundle cut short in copying was "msgpack: Unpack failed: incomplete input"."""
    whole = encode([1, BUNDLE_MAGIC, {"subject": None}])
    for data in (whole[:-3], UNUSABLE["trailing bytes"]):
        with pytest.raises(AuditInputError) as unusable:
            audit.verify(data)
        text = str(unusable.value)
        assert text.startswith("not a usable audit bundle: the file is cut short, damaged, or not an audit bundle")
        assert "msgpack" not in text
    with pytest.raises(AuditInputError, match="not an orgnode audit bundle"):  # control: a decodable file keeps its reason
        audit.verify(UNUSABLE["other magic"])
