"""What to tell the job's organization that tries to move an outcome it set (a mistaken ``hired``):
the lifecycle only goes forward, so the way out is a signed correction (docs/protocol.md 15.10).
Apart from node/core/referrals.py so that module stays one role and a readable size."""

from __future__ import annotations

from protocol.corrections import CORRECTABLE_TO, OUTCOMES


def outcome_advice(current: str | None, status: str, job_org: bool, referral_id: bytes) -> str | None:
    """The advice for moving ``current`` to ``status`` (None: not an outcome the job's organization set)."""
    if not job_org or current not in OUTCOMES:
        return None
    if status in CORRECTABLE_TO and status != current:
        to, choices = status, ""
    else:
        to, choices = "STATUS", f" (STATUS: what it should have been, one of {', '.join(c for c in CORRECTABLE_TO if c != current)})"
    return (f"it is already {current.replace('_', ' ')}, a final outcome. If that was a mistake, correct it: "
            f"`orgnode referral correct {referral_id.hex()} --status {to} --reason \"why it was wrong\"`{choices}; "
            "the referrer is told, and the audit trail keeps both")
