"""Audit bundles, issue 13 item 4 (h): how the verifier treats a sealed envelope, one statement given
both withheld and plain, a repeated status and two statuses that follow the same step
(docs/protocol.md section 20, docs/audit.md). Each rule has a positive control: the unchanged bundle
is valid, so a rejection below is the rule's doing."""

from __future__ import annotations

import dataclasses

from protocol import audit
from protocol.audience import Audience
from protocol.audit_bundle import AuditBundle
from protocol.referrals import Referral, ReferralStatus
from protocol.statement import Envelope, SealedContent
from tests.node.federation_helpers import wait_until
from tests.node.test_audit import full_referral
from tests.node.test_audit_tamper import checkpoints_reach, opened, rejected, status_of


def _with(bundle: AuditBundle, statements: list[bytes]) -> bytes:
    return dataclasses.replace(bundle, statements=tuple(statements)).encode()


async def test_sealed_envelope_and_withheld_then_plain_copies(net):
    youth, _coop, _corp, rid = await full_referral(net)
    data = youth.provenance.export_referral(rid, redact=False)
    assert audit.verify(data).valid  # positive control
    bundle = AuditBundle.decode(data)
    statements = opened(bundle)
    index = next(i for i, s in enumerate(statements) if s.kind == Referral.KIND)
    referral = statements[index]
    plain = bundle.statements[index]
    withheld = Envelope.of(referral, with_body=False).encode()
    rest = [raw for i, raw in enumerate(bundle.statements) if i != index]
    # A withheld copy before or after the plain one: the plain one counts, whatever the order.
    assert audit.verify(_with(bundle, [withheld, plain, *rest])).valid
    assert audit.verify(_with(bundle, [plain, *rest, withheld])).valid
    # Only the withheld copy: the referral's body is missing (the copies above did matter).
    rejected(_with(bundle, [withheld, *rest]), "references", "missing")
    # A sealed copy: refused at the signatures check, naming the statement, even beside a plain copy.
    sealed = Envelope(referral.header_bytes, referral.signature, SealedContent(youth.service.node_id, 2, b"\x00" * 1200)).encode()
    report = rejected(_with(bundle, [plain, sealed, *rest]), "signatures", "sealed")
    assert report.failed is not None and report.failed.statement == referral.id


async def test_a_repeated_status_is_a_no_op_but_only_for_a_side_that_may_set_it(net):
    youth, _coop, corp, rid = await full_referral(net)
    hired = corp.talent.last_event(rid)
    again = corp.federation.append(ReferralStatus.KIND, ReferralStatus(rid, "hired", hired, "again").to_value(),
                                   private=True, audience=Audience.only(youth.service.node_id))
    await wait_until(lambda: (youth.service.log.get(again.id) or again.without_body()).body is not None, what="repeat at youth")
    await checkpoints_reach(youth, corp)
    data = youth.provenance.export_referral(rid, redact=False)
    assert again.id in {s.id for s in opened(AuditBundle.decode(data))}
    report = audit.verify(data)
    assert report.valid, report.failed
    # The referrer may not set "hired": its repeat of it, chained correctly, fails the lifecycle.
    wrong = youth.federation.append(ReferralStatus.KIND, ReferralStatus(rid, "hired", again.id, "").to_value(),
                                    private=True, audience=Audience.only())
    report = rejected(youth.provenance.export_referral(rid, redact=False), "lifecycle", "repeated hired")
    assert report.failed is not None and report.failed.statement == wrong.id


async def test_two_statuses_following_one_step_fail_the_lifecycle(net):
    youth, _coop, corp, rid = await full_referral(net)
    bundle = AuditBundle.decode(youth.provenance.export_referral(rid, redact=False))
    in_process = next(s for s in opened(bundle) if status_of(s) == "in_process")
    branch = corp.federation.append(ReferralStatus.KIND, ReferralStatus(rid, "not_hired", in_process.id, "").to_value(),
                                    private=True, audience=Audience.only(youth.service.node_id))
    await wait_until(lambda: (youth.service.log.get(branch.id) or branch.without_body()).body is not None, what="branch at youth")
    await checkpoints_reach(youth, corp)
    data = youth.provenance.export_referral(rid, redact=False)
    assert branch.id in {s.id for s in opened(AuditBundle.decode(data))}
    rejected(data, "lifecycle", "two status updates follow the same step")
