"""Corrections of a referral's outcome (docs/protocol.md 15.10): a signed fix of a mistaken ``hired``.

The lifecycle of section 15.9 only goes forward, so an outcome set by mistake could never be fixed.
The job's organization (the only side that sets outcomes) signs a ``referral_correction`` naming the
statement it corrects, the status that should have been recorded and why. Nothing is rewritten:
the outcome and its correction both stay in the log and in an audit bundle, and the correction
takes the corrected statement's place in the hash chain, so later statuses (and a correction of the
correction) follow it and forward-only rules continue from the corrected status.

``check_correction`` is the whole rule, over ``Step`` summaries of the referral's lifecycle
statements, so the node (before signing and on receipt), the impact figures and the auditor judge a
correction the same way. Like the stages, a correction is a value nodes from before it cannot decode
(an unknown kind): it is sent only to a peer naming ``CORRECTIONS_FEATURE`` (section 1.1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import expect_bytes, expect_map, expect_str
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.referrals import ReferralStatus, expect_line, expect_staff_name
from protocol.referrals import feature_needed as stage_feature

KIND = "referral_correction"
CORRECTIONS_FEATURE = "referral-corrections"
# What may be corrected: the outcomes the job's organization sets. ``withdrawn`` (the candidate's word,
# through the referrer) and ``expired`` are not outcomes of a hiring decision.
OUTCOMES = frozenset({"hired", "not_hired", "declined"})
# What an outcome may be corrected to: any state the job's organization sets after ``received``.
CORRECTABLE_TO = ("in_process", "interview", "offer", "hired", "not_hired", "declined")
MAX_REASON_CHARS = 200


@dataclass(frozen=True, slots=True)
class ReferralCorrection:
    """The job's organization corrects the outcome recorded by statement ``corrects``: the referral
    is ``status`` instead, for ``reason``."""

    KIND: ClassVar[str] = KIND
    PRIVATE: ClassVar[bool] = True

    referral_id: bytes
    corrects: bytes  # the statement id of the outcome (or of the correction) corrected: the referral's latest step
    status: str
    reason: str
    acted_by: str | None = None  # as on ``referral_status``: only when the signer's admin shares staff names

    def __post_init__(self) -> None:
        if self.status not in CORRECTABLE_TO:
            raise RemoteProtocolError(MALFORMED, f"an outcome cannot be corrected to {self.status!r}: "
                                                 f"only to {', '.join(CORRECTABLE_TO)}")
        expect_line(self.reason, "referral_correction.reason", MAX_REASON_CHARS)
        expect_staff_name(self.acted_by, "referral_correction.acted_by")

    def to_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"referral_id": self.referral_id, "corrects": self.corrects, "status": self.status,
                                 "reason": self.reason}
        if self.acted_by is not None:
            value["acted_by"] = self.acted_by
        return value

    @classmethod
    def from_value(cls, value: Any) -> ReferralCorrection:
        v = expect_map(value, "referral_correction")
        return cls(
            expect_bytes(v.get("referral_id"), "referral_correction.referral_id", 16),
            expect_bytes(v.get("corrects"), "referral_correction.corrects", 32),
            expect_str(v.get("status"), "referral_correction.status", 16),
            expect_line(v.get("reason"), "referral_correction.reason", MAX_REASON_CHARS),
            expect_staff_name(v.get("acted_by"), "referral_correction.acted_by"),
        )


@dataclass(frozen=True, slots=True)
class Step:
    """One lifecycle statement of a referral as the rules need it: which statement, of which kind,
    by whom, and the state it left the referral in."""

    statement_id: bytes
    kind: str
    author: bytes
    status: str


def check_correction(correction: ReferralCorrection, signer: bytes, job_author: bytes, target: Step | None,
                     latest: Step | None) -> None:
    """Raise ``malformed`` (with the reason) unless ``signer`` may correct ``target`` as ``correction``
    says. ``target`` is the referral's lifecycle statement named by ``corrects`` (None: unknown, or
    not this referral's); ``latest`` is the referral's latest lifecycle statement."""
    if signer != job_author:
        raise RemoteProtocolError(MALFORMED, "only the job's organization may correct a referral's outcome")
    if target is None:
        raise RemoteProtocolError(MALFORMED, "the corrected statement is unknown: it is no lifecycle statement of this referral")
    if target.author != signer:
        raise RemoteProtocolError(MALFORMED, "only the organization that set an outcome may correct it: the corrected "
                                             "statement is the other organization's")
    if not (target.kind == KIND or (target.kind == ReferralStatus.KIND and target.status in OUTCOMES)):
        raise RemoteProtocolError(MALFORMED, f"the corrected statement sets no outcome (it records {target.status}): "
                                             f"only {', '.join(sorted(OUTCOMES))} or a correction can be corrected")
    if latest is None or latest.statement_id != target.statement_id:
        raise RemoteProtocolError(MALFORMED, "the corrected statement is stale: a later step or correction follows it; "
                                             "correct the referral's latest step")
    if correction.status == target.status:
        raise RemoteProtocolError(MALFORMED, f"the referral is already {target.status}: a correction must change the status")


def features_needed(status: str) -> tuple[str, ...]:
    """The features a peer must name before it may be sent a correction to ``status``."""
    stage = stage_feature(status)
    return (CORRECTIONS_FEATURE,) if stage is None else (CORRECTIONS_FEATURE, stage)
