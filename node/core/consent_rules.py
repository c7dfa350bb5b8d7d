"""Why a referral request waits for staff: the consent rule that holds it, by name and in plain words.

A request is sent at once when a consent of the candidate covers (``refer``, the asker, now); one
that waits does so because of exactly one of these rules. ``referral pending`` names it so staff
know what to ask the candidate (a new consent, a wider scope, a renewal) before approving; and a
request that is no longer pending says how it was answered (``not_pending_reason``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.talent_rows import ConsentRow, RequestRow


@dataclass(frozen=True, slots=True)
class HoldingRule:
    """The rule a pending request is held by: a stable ``code`` for scripts and ``words`` for people."""

    code: str
    words: str


def _day(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def holding_rule(consents: Sequence[ConsentRow], purpose: str, org: bytes, org_name: str, org_sector: str | None,
                 now: int) -> HoldingRule:
    """The first rule, most specific first, that keeps every consent of the candidate from covering the request."""
    if any(row.covers(purpose, org, org_sector, now) for row in consents):
        return HoldingRule("covered-now", f"a consent of the candidate now covers {org_name}: approving sends the profile")
    in_force = [row for row in consents if row.in_force(now)]
    if any(purpose in row.purposes for row in in_force):
        return HoldingRule("outside-scope", f"the candidate agreed to be referred, but not to {org_name} "
                                            f"or organizations of its kind")
    if in_force:
        return HoldingRule("purpose-not-given", "the candidate agreed to be matched with jobs, not to have their "
                                                "profile sent to an organization")
    expired = [row for row in consents if row.state == "given" and row.expires_at is not None]
    if expired:
        last = max(row.expires_at or 0 for row in expired)
        return HoldingRule("consent-expired", f"the candidate's consent ran out on {_day(last)}")
    if any(row.state == "withdrawn" for row in consents):
        return HoldingRule("consent-withdrawn", "the candidate withdrew their consent")
    return HoldingRule("no-consent", "the candidate has not given any consent")


DUPLICATE_REFERRAL = "duplicate-referral"  # the stable code a refused second referral of a person starts with


def not_pending_reason(request: RequestRow | None) -> str:
    """Why a request cannot be approved or declined: unknown, or already answered (and how).

    A request auto-declined as a duplicate used to read "no pending referral request with that id",
    which sent staff looking for a typo; the reason (e.g. the referral it duplicates) is our own text.
    """
    if request is None or request.candidate_id is None:  # unknown here, or one we sent (not ours to answer)
        return "no referral request with that id was received here (see `orgnode referral pending`)"
    if request.state == "declined":
        why = request.reason or "no reason given"
        if request.reason.startswith(DUPLICATE_REFERRAL):
            why = "automatically, as a duplicate" + request.reason[len(DUPLICATE_REFERRAL):]
        return f"that referral request was already declined ({why}); nothing more was sent (see `orgnode referral list`)"
    if request.state == "sent":
        return "that referral request was already approved: the profile was sent (see `orgnode referral list`)"
    return f"that referral request is {request.state}, not pending (see `orgnode referral pending`)"
