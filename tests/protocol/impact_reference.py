"""The impact count as it was before issue 11's one-pass ``compute`` (protocol/impact.py at 4435589):
every statement kept, sorted, every body decoded in each pass. Kept as the reference the new count
must agree with (tests/node/test_impact.py), as the match index keeps its old scan."""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable

from protocol.consent import ConsentWithdrawal, ErasureReceipt
from protocol.corrections import ReferralCorrection
from protocol.impact import ACCEPTED, FIGURES, NOT_COUNTED, OUTCOMES, PARTNER_FIGURES, Impact, _body, _people, _Referral
from protocol.jobs import Job
from protocol.provenance import Partnership
from protocol.referrals import Referral, ReferralStatus
from protocol.statement import Statement


def _referrals_and_jobs(me: bytes, ordered: list[Statement]) -> tuple[dict[bytes, _Referral], dict[bytes, tuple[int, Job, int]]]:
    """The referrals ``me`` sent or received, and ``me``'s jobs at their latest version (with its time)."""
    referrals: dict[bytes, _Referral] = {}
    latest_jobs: dict[bytes, tuple[int, Job, int]] = {}
    for s in ordered:
        value = _body(s)
        if value is None:
            continue
        if s.kind == Referral.KIND:
            body = Referral.from_value(value)
            if s.author == me or body.job_author == me:
                referrals.setdefault(body.referral_id, _Referral(s.author, body.job_author, s.header.ts,
                                                                 person=(body.job_id, body.candidate_ref)))
        elif s.kind == Job.KIND and s.author == me:
            job = Job.from_value(value)
            if job.job_id not in latest_jobs or job.version > latest_jobs[job.job_id][0]:
                latest_jobs[job.job_id] = (job.version, job, s.header.ts)
    return referrals, latest_jobs


def _attach_statuses(referrals: dict[bytes, _Referral], ordered: list[Statement]) -> None:
    """Each referral's status updates (by either party) and the referrer's consent withdrawals, in
    order; a correction by the job's org of the referral's latest step replaces that step."""
    for s in ordered:
        value = _body(s)
        if value is None:
            continue
        if s.kind == ReferralStatus.KIND:
            st = ReferralStatus.from_value(value)
            ref = referrals.get(st.referral_id)
            if ref is not None and s.author in (ref.referrer, ref.job_author):
                ref.statuses.append((s.header.ts, st.status))
                ref.step_ids.append(s.id)
        elif s.kind == ReferralCorrection.KIND:
            fix = ReferralCorrection.from_value(value)
            ref = referrals.get(fix.referral_id)
            # The latest status step (a consent withdrawal after an outcome is no lifecycle step: b"").
            last = max((i for i, sid in enumerate(ref.step_ids) if sid), default=None) if ref is not None else None
            if ref is not None and last is not None and s.author == ref.job_author and ref.step_ids[last] == fix.corrects:
                ref.statuses[last] = (ref.statuses[last][0], fix.status)
                ref.step_ids[last] = s.id
        elif s.kind == ConsentWithdrawal.KIND:
            for rid in ConsentWithdrawal.from_value(value).referral_ids:
                ref = referrals.get(rid)
                if ref is not None and s.author == ref.referrer:
                    ref.statuses.append((s.header.ts, "withdrawn"))
                    ref.step_ids.append(b"")


def reference_compute(me: bytes, statements: Iterable[Statement], since: int, until: int) -> Impact:
    unique = {s.id: s for s in statements if s.kind not in NOT_COUNTED}
    ordered = sorted(unique.values(), key=lambda s: (s.header.ts, s.author, s.seq))
    in_period = [s for s in ordered if since <= s.header.ts <= until]

    referrals, latest_jobs = _referrals_and_jobs(me, ordered)
    _attach_statuses(referrals, ordered)

    period_refs = [r for r in _people(referrals) if since <= r.ts <= until]
    outcome_seconds = []
    for r in period_refs:
        outcome = min((ts for ts, status in r.statuses if status in OUTCOMES), default=None)
        if outcome is not None:
            outcome_seconds.append(max(0, (outcome - r.ts) // 1000))

    def statuses(r: _Referral) -> set[str]:
        return {status for _, status in r.statuses}

    figures = dict.fromkeys(FIGURES, 0)
    figures["referrals_sent"] = sum(1 for r in period_refs if r.referrer == me)
    figures["referrals_received"] = sum(1 for r in period_refs if r.job_author == me)
    figures["referrals_accepted"] = sum(1 for r in period_refs if statuses(r) & ACCEPTED)
    figures["referrals_hired"] = sum(1 for r in period_refs if "hired" in statuses(r))
    figures["median_seconds_to_outcome"] = int(statistics.median(outcome_seconds)) if outcome_seconds else 0
    figures["jobs_filled_via_referrals"] = sum(
        1 for _, job, ts in latest_jobs.values()
        if job.status == "filled" and job.filled_by is not None and job.filled_by in referrals and since <= ts <= until
        and "hired" in {status for _, status in referrals[job.filled_by].statuses}
    )
    partners: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PARTNER_FIGURES, 0))
    for s in in_period:
        value = _body(s)
        if s.author != me:
            partners[s.author.hex()]["statements_received"] += 1
        if value is None:
            continue
        if s.kind == Partnership.KIND and s.author == me:
            figures["new_partnerships"] += 1
        elif s.kind == ConsentWithdrawal.KIND and s.author == me:
            figures["consent_withdrawals"] += 1
        elif s.kind == ErasureReceipt.KIND and s.author != me:
            figures["erasures_acknowledged"] += len(ErasureReceipt.from_value(value).referral_ids)
    for r in period_refs:
        if r.referrer == me:
            partners[r.job_author.hex()]["referrals_sent_to"] += 1
            partners[r.job_author.hex()]["hires"] += int("hired" in statuses(r))
        else:
            partners[r.referrer.hex()]["referrals_received_from"] += 1
            partners[r.referrer.hex()]["hires"] += int("hired" in statuses(r))
    figures["active_peers"] = len({s.author for s in in_period if s.author != me})
    figures["statements_exchanged"] = len(in_period)
    return Impact(figures, {k: dict(v) for k, v in sorted(partners.items())})
