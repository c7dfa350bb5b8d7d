"""Why a referral request waits for staff: the consent rule that holds it, by name and in plain words.

A request is sent at once when a consent of the candidate covers (``refer``, the asker, now); one
that waits does so because of exactly one of these rules. ``referral pending`` names it so staff
know what to ask the candidate (a new consent, a wider scope, a renewal) before approving.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from storage.talent_rows import ConsentRow


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
