"""The seed's impact measures, computed from signed statements alone.

The same function serves the node (``orgnode impact``) and the auditor (``orgnode audit verify``
recomputing an exported report), so a report's figures can only be what its statements show.
A statement counts when its header time lies in ``[since, until]``; referral outcomes follow the
referral (counted in the period its ``referral`` statement falls in). A ``referral_correction`` takes
the place of the step it corrects (its status, at that step's time), so a hire corrected away is no
hire, and a job marked filled counts only while its referral's steps still end in a hire.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from protocol.consent import ConsentWithdrawal, ErasureReceipt
from protocol.corrections import ReferralCorrection
from protocol.errors import ProtocolError
from protocol.jobs import Job
from protocol.provenance import Partnership
from protocol.referrals import Referral, ReferralStatus
from protocol.statement import Statement

FIGURES = (
    "jobs_filled_via_referrals",
    "referrals_sent",
    "referrals_received",
    "referrals_accepted",
    "referrals_hired",
    "median_seconds_to_outcome",
    "new_partnerships",
    "active_peers",
    "statements_exchanged",
    "consent_withdrawals",
    "erasures_acknowledged",
)
PARTNER_FIGURES = ("referrals_sent_to", "referrals_received_from", "hires", "statements_received")
ACCEPTED = frozenset({"in_process", "interview", "offer", "hired"})  # the job took the referral up
# Infrastructure statements (log checkpoints, witnessing, the report itself) are not engagement.
NOT_COUNTED = frozenset({"checkpoint", "witness", "impact_report"})
OUTCOMES = frozenset({"hired", "not_hired"})
# The kinds whose bodies each pass reads: only these are decoded (most of a log is other kinds —
# consent statements, notes, jobs of others — whose bodies no figure needs).
_REFERRALS_AND_JOBS = frozenset({Referral.KIND, Job.KIND})
_STEPS = frozenset({ReferralStatus.KIND, ReferralCorrection.KIND, ConsentWithdrawal.KIND})
_PERIOD_COUNTS = frozenset({Partnership.KIND, ConsentWithdrawal.KIND, ErasureReceipt.KIND})
_BODY_KINDS = _REFERRALS_AND_JOBS | _STEPS | _PERIOD_COUNTS


@dataclass
class _Referral:
    referrer: bytes
    job_author: bytes
    ts: int
    statuses: list[tuple[int, str]] = field(default_factory=list)
    person: tuple[bytes, bytes] = (b"", b"")  # (job_id, candidate_ref): who was referred to what
    step_ids: list[bytes] = field(default_factory=list)  # the status statement behind each status (b"": a withdrawal)


def _people(referrals: dict[bytes, _Referral]) -> list[_Referral]:
    """One entry per person referred to a job (referrer, job's org, job, ``candidate_ref``), however
    many ``referral`` statements name them: pseudonyms change with every match, so one person can be
    requested twice, and figures count people and hires, not requests (issue 8 item 3). The entry
    has the earliest referral's time and every status of all of them."""
    people: dict[tuple[bytes, bytes, bytes, bytes], _Referral] = {}
    for r in referrals.values():
        key = (r.referrer, r.job_author, *r.person)
        first = people.get(key)
        if first is None:
            people[key] = _Referral(r.referrer, r.job_author, r.ts, list(r.statuses), r.person)
        else:
            first.ts = min(first.ts, r.ts)
            first.statuses.extend(r.statuses)
    return list(people.values())


@dataclass(frozen=True)
class Impact:
    figures: dict[str, int]
    partners: dict[str, dict[str, int]]


def _body(statement: Statement) -> Any:
    if statement.body is None:
        return None
    try:
        return statement.body_value()
    except ProtocolError:
        return None


def _referrals_and_jobs(me: bytes, ordered: list[Statement]) -> tuple[dict[bytes, _Referral], dict[bytes, tuple[int, Job, int]]]:
    """The referrals ``me`` sent or received, and ``me``'s jobs at their latest version (with its time)."""
    referrals: dict[bytes, _Referral] = {}
    latest_jobs: dict[bytes, tuple[int, Job, int]] = {}
    for s in ordered:
        if s.kind not in _REFERRALS_AND_JOBS:
            continue
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
        if s.kind not in _STEPS:
            continue
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


def compute(me: bytes, statements: Iterable[Statement], since: int, until: int) -> Impact:
    """The figures over ``statements`` (each id counted once; of a repeated id the last copy is read).

    One pass: a statement of a kind whose body no figure reads is counted as it goes by and not kept,
    so counting a log of 100,000 notes and consents keeps only its referrals, jobs and their steps in
    memory (all of them kept made every full garbage-collection pass scan the whole log)."""
    kept: dict[bytes, Statement] = {}  # the kinds whose bodies a figure reads, by id
    seen: set[bytes] = set()  # the ids of the others, counted already
    exchanged, received = 0, Counter[bytes]()

    def count(s: Statement) -> None:
        nonlocal exchanged
        if since <= s.header.ts <= until:
            exchanged += 1
            if s.author != me:
                received[s.author] += 1

    for s in statements:
        if s.kind in NOT_COUNTED:
            continue
        if s.kind in _BODY_KINDS:
            kept[s.id] = s
        elif (sid := s.id) not in seen:
            seen.add(sid)
            count(s)
    for s in kept.values():
        count(s)
    ordered = sorted(kept.values(), key=lambda s: (s.header.ts, s.author, s.seq))
    in_period = [s for s in ordered if since <= s.header.ts <= until]

    referrals, latest_jobs = _referrals_and_jobs(me, ordered)
    _attach_statuses(referrals, ordered)

    period_refs = [r for r in _people(referrals) if since <= r.ts <= until]
    figures = _referral_figures(me, period_refs, referrals, latest_jobs, since, until)
    _count_period_kinds(me, in_period, figures)
    figures["active_peers"] = len(received)
    figures["statements_exchanged"] = exchanged
    return Impact(figures, _partner_figures(me, period_refs, received))


def _statuses(r: _Referral) -> set[str]:
    return {status for _, status in r.statuses}


def _referral_figures(me: bytes, period_refs: list[_Referral], referrals: dict[bytes, _Referral],
                      latest_jobs: dict[bytes, tuple[int, Job, int]], since: int, until: int) -> dict[str, int]:
    """The figures of the referrals made in the period, and of the jobs they filled."""
    outcome_seconds = []
    for r in period_refs:
        outcome = min((ts for ts, status in r.statuses if status in OUTCOMES), default=None)
        if outcome is not None:
            outcome_seconds.append(max(0, (outcome - r.ts) // 1000))
    figures = dict.fromkeys(FIGURES, 0)
    figures["referrals_sent"] = sum(1 for r in period_refs if r.referrer == me)
    figures["referrals_received"] = sum(1 for r in period_refs if r.job_author == me)
    figures["referrals_accepted"] = sum(1 for r in period_refs if _statuses(r) & ACCEPTED)
    figures["referrals_hired"] = sum(1 for r in period_refs if "hired" in _statuses(r))
    figures["median_seconds_to_outcome"] = int(statistics.median(outcome_seconds)) if outcome_seconds else 0
    figures["jobs_filled_via_referrals"] = sum(
        1 for _, job, ts in latest_jobs.values()
        if job.status == "filled" and job.filled_by is not None and job.filled_by in referrals and since <= ts <= until
        and "hired" in _statuses(referrals[job.filled_by])
    )
    return figures


def _count_period_kinds(me: bytes, in_period: list[Statement], figures: dict[str, int]) -> None:
    """Partnerships, withdrawals and acknowledged erasures in the period, added to ``figures``."""
    for s in in_period:
        if s.kind not in _PERIOD_COUNTS:
            continue
        value = _body(s)
        if value is None:
            continue
        if s.kind == Partnership.KIND and s.author == me:
            figures["new_partnerships"] += 1
        elif s.kind == ConsentWithdrawal.KIND and s.author == me:
            figures["consent_withdrawals"] += 1
        elif s.kind == ErasureReceipt.KIND and s.author != me:
            figures["erasures_acknowledged"] += len(ErasureReceipt.from_value(value).referral_ids)


def _partner_figures(me: bytes, period_refs: list[_Referral], received: Counter[bytes]) -> dict[str, dict[str, int]]:
    """Per partner (node id in hex): statements received from it, referrals each way, hires."""
    partners: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(PARTNER_FIGURES, 0))
    for author, n in received.items():
        partners[author.hex()]["statements_received"] = n
    for r in period_refs:
        other = r.job_author if r.referrer == me else r.referrer
        partners[other.hex()]["referrals_sent_to" if r.referrer == me else "referrals_received_from"] += 1
        partners[other.hex()]["hires"] += int("hired" in _statuses(r))
    return {k: dict(v) for k, v in sorted(partners.items())}
