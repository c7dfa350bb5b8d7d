"""What each audit check and impact figure means, in plain words: shared by `orgnode audit verify`,
`orgnode impact` and the dashboard's audit page (the names stay in --json and docs/audit.md)."""

from __future__ import annotations

CHECK_WORDS = {  # what each check of protocol.audit_checks.STEPS means, for people (docs/audit.md)
    "cards": "each organization's identity card is signed by its own key",
    "signatures": "every record is signed by its author and unchanged since",
    "keys": "each record was signed with a key its author held at that time",
    "inclusion": "every record is in its author's published history, so none was slipped in later",
    "checkpoints": "each organization kept one history: its signed summaries follow on from each other (nothing rewritten)",
    "cosignatures": "partners who hold a copy of an organization's history vouched for the same summary",
    "references": "the records point to each other as they claim (job, referral, consent)",
    "consent": "the candidate had agreed before their profile was sent, and to this organization",
    "lifecycle": "the referral's steps happened in an allowed order, by the side allowed to take them",
    "impact": "the impact figures recompute from the records themselves",
}

# Checks that only have something to check in one kind of bundle: the referral's own checks in a
# referral bundle, ``impact`` in an impact report. In the other kind they pass with nothing to check,
# and the report says so instead of claiming, say, that a candidate's consent was checked.
REFERRAL_CHECKS = ("references", "consent", "lifecycle")
NOT_CHECKED = {
    **{name: "nothing to check: an impact report is about no one referral" for name in REFERRAL_CHECKS},
    "impact": "nothing to check: this bundle carries no impact report",
}


def applies(name: str, *, about_referral: bool, has_impact_report: bool) -> bool:
    """Whether the check ``name`` had something to check in a bundle of this kind."""
    if name in REFERRAL_CHECKS:
        return about_referral
    return name != "impact" or has_impact_report


FIGURE_WORDS = {  # protocol.impact.FIGURES, for people
    "jobs_filled_via_referrals": "jobs filled via referrals",
    "referrals_sent": "referrals sent",
    "referrals_received": "referrals received",
    "referrals_accepted": "referrals accepted",
    "referrals_hired": "referrals hired",
    "median_seconds_to_outcome": "median seconds from referral to outcome",
    "new_partnerships": "new partnerships",
    "active_peers": "active partners",
    "statements_exchanged": "signed records exchanged",
    "consent_withdrawals": "consent withdrawals",
    "erasures_acknowledged": "erasures acknowledged",
}


def figure_words(name: str) -> str:
    """A figure's name in words (a figure this release does not know: its name with spaces)."""
    return FIGURE_WORDS.get(name, name.replace("_", " "))
