"""The auditor's lifecycle check: a referral's status updates, corrections and withdrawals in the
bundle form one legal, ordered chain (docs/audit.md "lifecycle"); apart from ``protocol.audit_checks``
so each module stays one role and a readable size.
"""

from __future__ import annotations

from protocol.audit_state import AuditFailure, CheckState, utc_day
from protocol.consent import ConsentWithdrawal
from protocol.corrections import ReferralCorrection, Step, check_correction
from protocol.errors import ProtocolError
from protocol.jobs import Job
from protocol.referrals import HOLDER, JOB_ORG, TERMINAL, WHO, Referral, ReferralStatus, check_transition
from protocol.statement import Statement


def _lifecycle_events(state: CheckState, referral_id: bytes, holder: bytes) -> dict[bytes, tuple[Statement, str]]:
    """The referral's status updates keyed by the statement each follows, and the holder's consent
    withdrawals naming it (keyed ``withdrawal:<id>``: they carry no link)."""
    events: dict[bytes, tuple[Statement, str]] = {}
    for statement in state.statements.values():
        if statement.body is None:
            continue
        if statement.kind == ReferralStatus.KIND:
            body = ReferralStatus.from_value(statement.body_value())
            if body.referral_id == referral_id:
                if body.previous in events:  # a branched chain: no single order of the statuses is signed
                    raise AuditFailure("lifecycle", "two status updates follow the same step", statement.id)
                events[body.previous] = (statement, body.status)
        elif statement.kind == ReferralCorrection.KIND:  # takes the place of the step it corrects, in the chain
            fix = ReferralCorrection.from_value(statement.body_value())
            if fix.referral_id == referral_id:
                if fix.corrects in events:
                    raise AuditFailure("lifecycle", "two status updates follow the same step", statement.id)
                events[fix.corrects] = (statement, fix.status)
        elif statement.kind == ConsentWithdrawal.KIND and statement.author == holder:
            if referral_id in ConsentWithdrawal.from_value(statement.body_value()).referral_ids:
                events.setdefault(b"withdrawal:" + statement.id, (statement, "withdrawn"))
    return events


def check_lifecycle(state: CheckState, referral: Referral, rs: Statement) -> None:
    """The referral ``rs`` (its body ``referral``): its status updates and corrections form one hash
    chain from it, each a legal transition by a party, in time order; a job marked filled by it has
    a hire recorded. Adds the steps, in words, to the facts."""
    events = _lifecycle_events(state, referral.referral_id, rs.author)
    chain, withdrawals = _lifecycle_chain(events, rs.id)
    state_now: str | None = "requested" if referral.request_id is not None else None
    check_transition(state_now, "sent", HOLDER)
    state_now = "sent"
    last_ts = rs.header.ts
    after_outcome: list[Statement] = []
    labels: dict[bytes, str] = {}  # a correction's step, in words: the report shows both it and what it corrected
    before = rs
    # A withdrawal ends the referral whatever outcome it shows: a correction signed after one would
    # reopen it (docs/protocol.md 15.10), so nodes neither sign nor follow one, and the audit fails it.
    withdrawn_at = min((w.header.ts for w, _ in withdrawals), default=None)
    for statement, status in [*chain, *withdrawals]:
        if statement.kind == ConsentWithdrawal.KIND and state_now in TERMINAL:
            # Consent withdrawn after the outcome (e.g. after a hire): an erasure request, not a
            # lifecycle step; nodes leave the outcome as it was (``Talent._apply_status``), and so do we.
            after_outcome.append(statement)
            continue
        side = JOB_ORG if statement.author == referral.job_author else HOLDER if statement.author == rs.author else None
        if side is None:
            raise AuditFailure("lifecycle", "a status by a node that is not party to the referral", statement.id)
        if statement.header.ts < last_ts:
            raise AuditFailure("lifecycle", "a status is dated before the step it follows", statement.id)
        if statement.kind == ReferralCorrection.KIND:
            if withdrawn_at is not None and statement.header.ts >= withdrawn_at:
                raise AuditFailure("lifecycle", "a correction signed after the candidate withdrew consent: a withdrawn "
                                                "referral cannot be reopened", statement.id)
            _check_correction_step(state, statement, Step(before.id, before.kind, before.author, state_now or ""), referral.job_author)
            labels[statement.id] = f"{status} (correcting {state_now})"
            state_now, last_ts, before = status, statement.header.ts, statement
            continue
        before = statement
        if status == state_now:  # a repeated status is a no-op, as receivers treat it (section 15.9)
            if side not in WHO.get(status, frozenset()):
                raise AuditFailure("lifecycle", f"a repeated {status} by a side that may not set it", statement.id)
            last_ts = statement.header.ts
            continue
        try:
            check_transition(state_now, status, side)
        except ProtocolError as exc:
            raise AuditFailure("lifecycle", f"illegal transition: {exc.detail}", statement.id) from exc
        state_now, last_ts = status, statement.header.ts
    latest = _latest_job(state, referral.job_author, referral.job_id)
    if latest is not None and latest.filled_by == referral.referral_id and state_now != "hired":
        raise AuditFailure("lifecycle", "the job is marked filled by this referral, but no hire is recorded")
    steps = " → ".join(["sent", *[labels.get(st.id, s) for st, s in chain],
                        *[s for w, s in withdrawals if all(w.id != a.id for a in after_outcome)]])
    if after_outcome:
        steps += " (consent withdrawn after the outcome: data erased, outcome unchanged)"
    state.facts.append(f"lifecycle {steps} is legal and in order ({utc_day(rs.header.ts)} to {utc_day(last_ts)})"
                              + ("; the job was closed as filled by this referral" if latest and latest.filled_by == referral.referral_id else ""))


def _lifecycle_chain(events: dict[bytes, tuple[Statement, str]], start: bytes) -> tuple[list[tuple[Statement, str]], list[tuple[Statement, str]]]:
    """The status updates in hash-chain order from the referral ``start``, and the withdrawals (which
    carry no link; they attach at the end, in time order)."""
    chain: list[tuple[Statement, str]] = []
    current_id = start
    linked = {k: v for k, v in events.items() if not k.startswith(b"withdrawal:")}
    while current_id in linked:
        statement, status = linked.pop(current_id)
        chain.append((statement, status))
        current_id = statement.id
    if linked:
        orphan = next(iter(linked.values()))[0]
        raise AuditFailure("lifecycle", "a status update follows a statement missing from the bundle (missing status)", orphan.id)
    withdrawals = sorted((v for k, v in events.items() if k.startswith(b"withdrawal:")), key=lambda v: v[0].header.ts)
    return chain, withdrawals


def _latest_job(state: CheckState, job_author: bytes, job_id: bytes) -> Job | None:
    """The newest version of the referral's job in the bundle, if any."""
    jobs = [Job.from_value(s.body_value()) for s in state.statements.values()
            if s.kind == Job.KIND and s.author == job_author and s.body is not None]
    jobs = [j for j in jobs if j.job_id == job_id]
    return max(jobs, key=lambda j: j.version) if jobs else None


def _check_correction_step(state: CheckState, statement: Statement, corrected: Step, job_author: bytes) -> None:
    """A correction in the chain: legal against the step it follows (docs/protocol.md 15.10), and told as a fact."""
    fix = ReferralCorrection.from_value(statement.body_value())
    try:
        check_correction(fix, statement.author, job_author, corrected, corrected)
    except ProtocolError as exc:
        raise AuditFailure("lifecycle", f"illegal correction: {exc.detail}", statement.id) from exc
    state.facts.append(f"{state.name(statement.author)} corrected the outcome {corrected.status} to {fix.status} on "
                       f"{utc_day(statement.header.ts)} ({fix.reason!r}); the original outcome stays in the record")
