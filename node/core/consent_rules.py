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
    """A day of a time in ms (the protocol's unit, node/core/clock.py)."""
    return datetime.fromtimestamp(at / 1000, UTC).strftime("%Y-%m-%d")


def replaced_by(consents: Sequence[ConsentRow], now: int) -> dict[bytes, ConsentRow]:
    """Each consent in force that a later one replaces (a renewal): the later one is in force, agrees to
    at least its purposes for at least its scope and fields, and runs at least as long. Both stay
    recorded and either covers a request; a page lists the older one as replaced, not as another
    "Agreed ... until ..." (issue 14 acceptance pass)."""
    live = [row for row in consents if row.in_force(now)]
    out: dict[bytes, ConsentRow] = {}
    for old in live:
        newer = [new for new in live if new.collected_at > old.collected_at
                 and set(old.purposes) <= set(new.purposes) and set(old.scope) <= set(new.scope)
                 and set(old.fields) <= set(new.fields)
                 and (new.expires_at is None or (old.expires_at is not None and new.expires_at >= old.expires_at))]
        if newer:
            out[old.consent_id] = min(newer, key=lambda row: row.collected_at)
    return out


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
