"""Typed requests of the admin API for a referral's outcome correction and its history (``referral
correct``, ``referral show``): each input is checked once, here, before the core sees it."""

from __future__ import annotations

from dataclasses import dataclass

from node.core import fields as F
from node.core.errors import UserError
from node.core.fields import Body
from protocol.corrections import MAX_REASON_CHARS as MAX_CORRECTION_REASON


@dataclass(frozen=True, slots=True)
class ReferralCorrect:
    """POST /referrals/correct: correct the referral's latest outcome (the core checks the rules)."""

    id: str
    status: str
    reason: str

    @classmethod
    def from_json(cls, b: Body) -> ReferralCorrect:
        b = F.json_object(b)
        reason = F.read_text(b.get("reason"), "reason", max_len=MAX_CORRECTION_REASON)
        if not reason.strip():
            raise UserError("reason is required: say why the outcome was wrong (at most "
                            f"{MAX_CORRECTION_REASON} characters; the referrer is told)", field="reason")
        return cls(F.read_id(b), F.read_text(b.get("status"), "status", max_len=40), reason)


@dataclass(frozen=True, slots=True)
class ReferralShow:
    """POST /referrals/show: one referral with its history."""

    id: str

    @classmethod
    def from_json(cls, b: Body) -> ReferralShow:
        return cls(F.read_id(F.json_object(b)))
