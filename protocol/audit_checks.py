"""The auditor's checks (DOMAIN.md "What an auditor checks"), each over a shared ``CheckState``.

Each check either adds facts to the state or raises ``AuditFailure`` naming itself and, where one
is to blame, the statement; ``STEPS`` is their order, in which ``protocol.audit.verify`` runs them
(later checks rely on what earlier ones established: verified cards, opened statements).
Kept apart from the verifier's entry point so each module stays one role and a readable size.
Checks: docs/audit.md and docs/protocol.md "Audit bundles".
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

from protocol.audit_cosignatures import CosignatureFailure, cosignature_facts
from protocol.audit_lifecycle import check_lifecycle
from protocol.audit_state import AuditFailure, CheckState, checkpoint_of, utc_day
from protocol.card_bundle import verify_bundle
from protocol.consent import ConsentWithdrawal
from protocol.errors import ProtocolError
from protocol.impact import compute
from protocol.jobs import Job
from protocol.merkle import verify_consistency, verify_inclusion
from protocol.provenance import Checkpoint, ImpactReport
from protocol.referrals import (
    Referral,
    ReferralProfile,
    ReferralRequest,
    consent_for_referral,
)
from protocol.reshare import verify_reshare
from protocol.statement import Envelope, SealedContent, Statement, statement_id


def _check_cards(state: CheckState) -> None:
    for raw in state.bundle.cards:
        try:
            verified = verify_bundle(raw)
        except ProtocolError as exc:
            raise AuditFailure("cards", f"an org card does not verify ({exc.code}: {exc.detail})") from exc
        state.cards[verified.node_id] = verified
    if state.bundle.exported_by not in state.cards:
        raise AuditFailure("cards", "the exporting organization's card is missing")


def _check_signatures(state: CheckState) -> None:
    for raw in state.bundle.statements:
        try:
            envelope = Envelope.decode(raw)
        except ProtocolError as exc:
            raise AuditFailure("signatures", f"a statement cannot be read ({exc.code})") from exc
        try:
            statement = envelope.open_plain()
        except ProtocolError as exc:
            raise AuditFailure("signatures", f"{exc.code}: {exc.detail}", statement_id(envelope.header_bytes)) from exc
        if isinstance(envelope.content, SealedContent):  # an auditor holds no key: plain or withheld only
            raise AuditFailure("signatures", "a statement is sealed: an audit bundle carries bodies plain or withheld", statement.id)
        held = state.statements.get(statement.id)
        if held is not None:
            # Copies count once; a plain copy wins whatever the order (checked against the signed hash: one body).
            if held.body is None and statement.body is not None:
                state.statements[statement.id] = statement
                state.by_author[statement.author][statement.seq] = statement
            continue
        state.statements[statement.id] = statement
        log = state.by_author.setdefault(statement.author, {})
        if statement.seq in log:
            state.twins.append((log[statement.seq], statement))
            continue
        log[statement.seq] = statement


def _check_keys(state: CheckState) -> None:
    for statement in state.statements.values():
        card = state.cards.get(statement.author)
        if card is None:
            raise AuditFailure("keys", "no org card for the statement's author", statement.id)
        try:
            card.history.check_key(statement.header.key, statement.seq)
        except ProtocolError as exc:
            raise AuditFailure("keys", f"signed with a key not valid for that statement ({exc.code}: {exc.detail})", statement.id) from exc
    state.facts.append(f"{len(state.statements)} signed records, each signed by a key its author held at that point")


def _check_inclusion(state: CheckState) -> None:
    proofs = {p.statement: p for p in state.bundle.proofs}
    for statement in state.statements.values():
        if statement.kind == Checkpoint.KIND:
            continue
        proof = proofs.get(statement.id)
        if proof is None:
            raise AuditFailure("inclusion", "no inclusion proof for this statement", statement.id)
        cp_statement = state.need(proof.checkpoint, "inclusion", "the checkpoint a proof refers to")
        if cp_statement.author != statement.author:
            raise AuditFailure("inclusion", "proof against another author's checkpoint", statement.id)
        cp = checkpoint_of(cp_statement, "inclusion")
        if cp.size >= cp_statement.seq:
            raise AuditFailure("inclusion", "a checkpoint cannot cover itself", cp_statement.id)
        try:
            verify_inclusion(statement.id, statement.seq - 1, cp.size, proof.path, cp.root)
        except ProtocolError as exc:
            raise AuditFailure("inclusion", f"not in its author's log as checkpointed ({exc.code}: {exc.detail})", statement.id) from exc
    state.facts.append("every record is in the signed summary of its author's history (so none was added or removed later)")


def _check_checkpoints(state: CheckState) -> None:
    for first, second in state.twins:
        raise AuditFailure("checkpoints", f"two different statements of {state.name(first.author)} at sequence {first.seq}: "
                                          "a forked log", second.id)
    pairs = {(c.old, c.new): c for c in state.bundle.consistency}
    by_author: dict[bytes, list[tuple[Statement, Checkpoint]]] = {}
    for statement in state.statements.values():
        if statement.kind == Checkpoint.KIND:
            by_author.setdefault(statement.author, []).append((statement, checkpoint_of(statement, "checkpoints")))
    for author, cps in by_author.items():
        cps.sort(key=lambda pair: pair[0].seq)
        for (old_s, old), (new_s, new) in itertools.pairwise(cps):
            proof = pairs.get((old_s.id, new_s.id))
            if proof is None:
                raise AuditFailure("checkpoints", f"no consistency proof between two checkpoints of {state.name(author)}", new_s.id)
            try:
                verify_consistency(old.size, new.size, old.root, new.root, proof.path)
            except ProtocolError as exc:
                raise AuditFailure("checkpoints", f"checkpoints of {state.name(author)} are inconsistent: split view ({exc.detail})",
                                   new_s.id) from exc
    # The referrer's log excerpt must be contiguous: each statement's prev is the one before.
    for author, statements in state.by_author.items():
        for seq, statement in statements.items():
            before = statements.get(seq - 1)
            if before is not None and statement.header.prev != before.id:
                raise AuditFailure("checkpoints", f"two histories of {state.name(author)}: statement does not follow its predecessor",
                                   statement.id)


@dataclass
class _Subject:
    statement: Statement
    referral: Referral


def _subject(state: CheckState) -> _Subject | None:
    if state.bundle.subject is None:
        return None
    for statement in state.statements.values():
        if statement.kind == Referral.KIND and statement.body is not None:
            referral = Referral.from_value(statement.body_value())
            if referral.referral_id == state.bundle.subject:
                return _Subject(statement, referral)
    raise AuditFailure("references", "the referral the bundle is about is missing")


def _check_references(state: CheckState) -> None:
    subject = _subject(state)
    if subject is None:
        return
    referral, rs = subject.referral, subject.statement
    job_statement = state.need(referral.job_statement, "references", "the job the referral names")
    if job_statement.author != referral.job_author or job_statement.kind != Job.KIND or job_statement.body is None:
        raise AuditFailure("references", "the referral's job statement is not a job of the named organization", job_statement.id)
    job = Job.from_value(job_statement.body_value())
    if job.job_id != referral.job_id:
        raise AuditFailure("references", "the referral's job id does not match its job statement", rs.id)
    profile = state.need(referral.profile_statement, "references", "the profile statement the referral commits to")
    if profile.author != rs.author or profile.kind != ReferralProfile.KIND:
        raise AuditFailure("references", "the referral's profile statement is not the referrer's", profile.id)
    if profile.body is not None and ReferralProfile.from_value(profile.body_value()).referral_id != referral.referral_id:
        raise AuditFailure("references", "the profile statement belongs to another referral", profile.id)
    if referral.request_id is not None:
        requests = [s for s in state.statements.values() if s.kind == ReferralRequest.KIND and s.body is not None
                    and ReferralRequest.from_value(s.body_value()).request_id == referral.request_id]
        if not requests:
            raise AuditFailure("references", "the referral request this referral answers is missing", rs.id)
        request = ReferralRequest.from_value(requests[0].body_value())
        if requests[0].author != referral.job_author or request.holder != rs.author or request.job_id != referral.job_id:
            raise AuditFailure("references", "the referral request does not match the referral", requests[0].id)
    for statement in state.statements.values():
        if statement.kind == "reshare" and statement.body is not None:
            verified = verify_reshare(statement)
            if verified.root.author == referral.job_author and verified.root.id not in state.statements:
                raise AuditFailure("references", "a re-share carries a job statement not in the bundle", statement.id)
    resharers = {s.author for s in state.statements.values() if s.kind == "reshare"}  # named in name order below
    state.facts.append(
        f"{state.name(rs.author)} referred a candidate to {state.name(referral.job_author)} in referral "
        f"{referral.referral_id.hex()} on {utc_day(rs.header.ts)} for job {job.title!r}"
        + (f", which was re-shared by {', '.join(sorted(state.name(n) for n in resharers))}" if resharers else "")
        + (" — profile disclosed in this bundle" if profile.body is not None else " — profile redacted or erased (only a fingerprint of it is kept)"))


def _check_consent(state: CheckState) -> None:
    subject = _subject(state)
    if subject is None:
        return
    referral, rs = subject.referral, subject.statement
    try:
        carried, consent = consent_for_referral(referral, rs.author)
    except ProtocolError as exc:
        raise AuditFailure("consent", f"the consent the referral carries does not verify ({exc.detail})", rs.id) from exc
    consent_statement = state.need(carried.id, "consent", "the consent statement (as logged)")
    if consent_statement.seq >= rs.seq:
        raise AuditFailure("consent", "consent was recorded after the profile was released", consent_statement.id)
    sector = state.cards[referral.job_author].card.sector if referral.job_author in state.cards else None
    if not consent.covers("refer", referral.job_author, sector, rs.header.ts, withdrawn=False):
        raise AuditFailure("consent", "the consent did not cover this organization and purpose at the time of release "
                                      "(scope, purpose or expiry)", consent_statement.id)
    log = state.by_author.get(rs.author, {})
    missing = [seq for seq in range(1, rs.seq) if seq not in log]
    if missing:
        raise AuditFailure("consent", f"the referrer's log before the release is incomplete (statement {missing[0]} missing), "
                                      "so a withdrawal could be hidden", rs.id)
    for seq in range(consent_statement.seq + 1, rs.seq):
        statement = log[seq]
        if statement.kind != ConsentWithdrawal.KIND:
            continue
        if statement.body is None:
            raise AuditFailure("consent", "a consent withdrawal before the release is redacted", statement.id)
        withdrawal = ConsentWithdrawal.from_value(statement.body_value())
        # A withdrawal ends every consent of its candidate recorded before it (a node withdraws them
        # all at once and names one), so it counts if it names this consent or this candidate.
        if withdrawal.consent_id == consent.consent_id or withdrawal.candidate_ref == consent.candidate_ref:
            raise AuditFailure("consent", "the consent was withdrawn before the profile was released", statement.id)
    state.facts.append(
        f"consent {consent.consent_id.hex()[:8]}… for {', '.join(consent.purposes)} (scope {' '.join(consent.scope)}) "
        f"was recorded on {utc_day(consent_statement.header.ts)}, before release, covered the receiver, and was not withdrawn before it")


def _check_lifecycle(state: CheckState) -> None:
    subject = _subject(state)
    if subject is not None:
        check_lifecycle(state, subject.referral, subject.statement)


def _check_impact(state: CheckState) -> None:
    if state.bundle.impact is None:
        return
    report_statement = state.need(state.bundle.impact, "impact", "the impact report statement")
    if report_statement.author != state.bundle.exported_by or report_statement.body is None:
        raise AuditFailure("impact", "the impact report is not the exporter's, or is redacted", report_statement.id)
    report = ImpactReport.from_value(report_statement.body_value())
    me = report_statement.author
    log = state.by_author.get(me, {})
    cp_statement = state.need(report.checkpoint, "impact", "the checkpoint the report is tied to")
    cp = checkpoint_of(cp_statement, "impact")
    missing = [seq for seq in range(1, cp.size + 1) if seq not in log]
    if missing:
        raise AuditFailure("impact", f"the reporter's log up to its checkpoint is incomplete (statement {missing[0]} missing)")
    # Every other author's log up to its newest checkpoint in the bundle must be complete too, so the
    # figures are recomputed from all it had signed by then, not from a chosen subset.
    for author, statements in state.by_author.items():
        if author == me:
            continue
        sizes = [checkpoint_of(s, "impact").size for s in statements.values() if s.kind == Checkpoint.KIND]
        gaps = [seq for seq in range(1, max(sizes, default=0) + 1) if seq not in statements]
        if gaps:
            raise AuditFailure("impact", f"the log of {state.name(author)} up to its checkpoint is incomplete "
                                         f"(statement {gaps[0]} missing), so figures could come from a chosen subset")
    counted = [s for s in state.statements.values() if s.id != report_statement.id and s.kind != Checkpoint.KIND]
    recomputed = compute(me, counted, report.since, report.until)
    for name, value in report.figures.items():
        actual = recomputed.figures.get(name)
        if actual != value:
            raise AuditFailure("impact", f"{name} is reported as {value} but the statements show {actual}", report_statement.id)
    for partner, figures in report.partners.items():
        for name, value in figures.items():
            actual = recomputed.partners.get(partner, {}).get(name, 0)
            if actual != value:
                raise AuditFailure("impact", f"{name} for partner {_partner_name(state, partner)} is reported as {value} but "
                                             f"the statements show {actual}", report_statement.id)
    state.figures.update(report.figures)
    state.facts.append(f"{len(report.figures)} impact figures recomputed from {len(counted)} signed statements and found equal")


def _partner_name(state: CheckState, partner: str) -> str:
    """A partner of an impact report (keyed by node id in hex) by name; a key that is not hex is shown escaped."""
    try:
        return state.name(bytes.fromhex(partner))
    except ValueError:
        return repr(partner)


def _check_cosignatures(state: CheckState) -> None:
    try:
        facts, notes = cosignature_facts(state.bundle.cosignatures, state.statements, state.cards, state.name)
    except CosignatureFailure as failure:
        raise AuditFailure("cosignatures", failure.detail, failure.statement) from failure
    state.facts.extend(facts)
    state.notes.extend(notes)


# The checks, in the order they run. Each failure names one of these.
STEPS: tuple[tuple[str, Callable[[CheckState], None]], ...] = (
    ("cards", _check_cards),
    ("signatures", _check_signatures),
    ("keys", _check_keys),
    ("inclusion", _check_inclusion),
    ("checkpoints", _check_checkpoints),
    ("cosignatures", _check_cosignatures),
    ("references", _check_references),
    ("consent", _check_consent),
    ("lifecycle", _check_lifecycle),
    ("impact", _check_impact),
)
