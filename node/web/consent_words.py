"""A consent as a sentence a non-engineer understands ("Agreed to be matched to jobs, shared with
organizations in the nonprofit sector, until 3 March 2027"), for the candidates page, the subject-access
report and the audit page; and the states of a consent's history and of a referral request in words.

The stored words (``given``, ``withdrawn``, ``expired``; ``match``, ``refer``, ``audit``; ``all``,
``sector:X``, ``node:<id>``) are the protocol's: the pages keep the exact state in a ``data-`` and a
``title`` attribute, and say it in words here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from protocol.consent import scope_item_parts

PURPOSE_WORDS = {"match": "be matched to jobs", "refer": "be referred to employers", "audit": "be shown in audits"}
REQUEST_WORDS = {"pending": "waiting for a staff member's approval", "sent": "approved: the referral was sent",
                 "declined": "declined", "requested": "asked for", "approved": "approved"}
HISTORY_WORDS = {"given": "consent given", "withdrawn": "consent withdrawn", "expired": "consent expired"}


def day(ms: int) -> str:
    """A date as people write it: "3 March 2027"."""
    d = datetime.fromtimestamp(ms / 1000, UTC)
    return f"{d.day} {d.strftime('%B %Y')}"


def listed(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def scope_words(scope: Sequence[str], org_name: Callable[[bytes], str | None]) -> str:
    """Who may receive the candidate: "any organization", "organizations in the nonprofit sector", a name."""
    out = []
    for item in scope:
        kind, value = scope_item_parts(item)
        if kind == "all":
            out.append("any organization")
        elif kind == "sector":
            out.append(f"organizations in the {value.replace('_', ' ')} sector")
        elif kind == "node":
            out.append(org_name(bytes.fromhex(value)) or "one organization not known here by name")
        else:
            out.append(item)
    return listed(out) or "nobody"


def consent_words(consent: dict[str, Any], org_name: Callable[[bytes], str | None]) -> str:
    """One consent (a ``candidate_views`` or ``candidate_report`` consent) as a sentence."""
    purposes = listed([PURPOSE_WORDS.get(p, p) for p in consent["purposes"]])
    scope = scope_words(consent["scope"], org_name)
    what = f"to {purposes}, shared with {scope}"
    expires = consent.get("expires_at")
    state = consent["state"]
    if state == "given" and consent.get("replaced_at"):
        return f"Replaced on {day(consent['replaced_at'])} by a newer consent: had agreed {what}"
    if state == "given":
        return f"Agreed {what}, " + (f"until {day(expires)}" if expires else "with no end date")
    if state == "expired":
        return f"Expired{f' on {day(expires)}' if expires else ''}: had agreed {what}. Ask them to renew it"
    if state == "withdrawn":
        withdrawn = [h["at"] for h in consent.get("history", []) if h["state"] == "withdrawn"]
        return f"Withdrawn{f' on {day(withdrawn[-1])}' if withdrawn else ''}: had agreed {what}"
    return f"{state}: {what}"
