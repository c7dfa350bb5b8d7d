"""Referrals: requests, the released profile, status updates, and the lifecycle rules as data.

Lifecycle (DOMAIN.md): requested (by the job's org) → sent (the holder releases the profile,
encrypted to the job's org only) → received → in_process → interview → offer → hired | not_hired;
or declined, withdrawn (the candidate) or expired. ``interview`` and ``offer`` (``STAGES``) are only
sent to a node that advertises ``STAGES_FEATURE`` (docs/protocol.md 15.9): an older node refuses a
body with a status it does not know, and would stall on the sender's log. ``TRANSITIONS`` is the whole state machine; ``WHO`` says
which side may sign each status. Credit for a hire goes to the signer of the ``referral``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import expect_bytes, expect_list, expect_map, expect_str
from protocol.consent import PROFILE_FIELDS, Consent
from protocol.errors import BAD_BODY, MALFORMED, RemoteProtocolError
from protocol.statement import Envelope, Statement

JOB_ORG = "job_org"
HOLDER = "holder"
SIDE_NAMES = {JOB_ORG: "the job's organization", HOLDER: "the referring organization"}

TERMINAL = frozenset({"hired", "not_hired", "declined", "withdrawn", "expired"})
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({"requested", "sent"}),
    "requested": frozenset({"sent", "declined", "expired"}),
    "sent": frozenset({"received", "in_process", "hired", "not_hired", "declined", "withdrawn", "expired"}),
    "received": frozenset({"in_process", "interview", "offer", "hired", "not_hired", "declined", "withdrawn"}),
    "in_process": frozenset({"interview", "offer", "hired", "not_hired", "declined", "withdrawn"}),
    "interview": frozenset({"offer", "hired", "not_hired", "declined", "withdrawn"}),
    "offer": frozenset({"hired", "not_hired", "declined", "withdrawn"}),
    **{state: frozenset() for state in TERMINAL},
}
WHO: dict[str, frozenset[str]] = {
    "requested": frozenset({JOB_ORG}),
    "sent": frozenset({HOLDER}),
    "received": frozenset({JOB_ORG}),
    "in_process": frozenset({JOB_ORG}),
    "interview": frozenset({JOB_ORG}),
    "offer": frozenset({JOB_ORG}),
    "hired": frozenset({JOB_ORG}),
    "not_hired": frozenset({JOB_ORG}),
    "declined": frozenset({JOB_ORG, HOLDER}),
    "withdrawn": frozenset({HOLDER}),
    "expired": frozenset({JOB_ORG, HOLDER}),
}
STATUS_UPDATES = ("received", "in_process", "interview", "offer", "hired", "not_hired", "declined", "withdrawn")
# Stages between received and the outcome that version-1 nodes from before them do not know; a node
# sends them only to a peer whose answers advertise this feature (``OrgNode-Features``, section 1.1).
STAGES = frozenset({"interview", "offer"})
STAGES_FEATURE = "referral-stages"


# The acting staff member's name a lifecycle statement may carry (``acted_by``, section 15.9): only when
# the signer's admin turned ``share_staff_names`` on; receivers show it as the signer's untrusted word.
MAX_STAFF_NAME_CHARS = 64
_NOT_TEXT = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"})  # controls, bidi/format, separators, unassigned


def expect_line(value: Any, name: str, max_len: int) -> str:
    """A one-line text for people to read: 1 to ``max_len`` characters, not only spaces, and no control,
    format (bidi overrides, zero-width), line-separator or unassigned character (``malformed``); longer
    is ``too-large``. Such text is shown in terminals and pages, so it can hold nothing that moves them."""
    text = expect_str(value, name, max_len)
    if not text.strip():
        raise RemoteProtocolError(MALFORMED, f"{name} must not be empty")
    bad = next((ch for ch in text if unicodedata.category(ch) in _NOT_TEXT), None)
    if bad is not None:
        raise RemoteProtocolError(MALFORMED, f"{name} holds a control or format character (U+{ord(bad):04X})")
    return text


def expect_staff_name(value: Any, name: str) -> str | None:
    """The optional ``acted_by`` field: absent or nil is None, else a line of at most 64 characters."""
    return None if value is None else expect_line(value, name, MAX_STAFF_NAME_CHARS)


def feature_needed(status: str) -> str | None:
    """The feature a peer must advertise before a status may be sent to it (None: every node knows it)."""
    return STAGES_FEATURE if status in STAGES else None


def consent_for_referral(referral: Referral, holder: bytes) -> tuple[Statement, Consent]:
    """Open the consent statement a referral carries and check it is the holder's and this candidate's."""
    statement = Envelope.decode(referral.consent_envelope).open_plain()
    if statement.author != holder or statement.kind != Consent.KIND or statement.body is None:
        raise RemoteProtocolError(BAD_BODY, "the referral's consent is not a consent statement of the referring node")
    consent = Consent.from_value(statement.body_value())
    if consent.candidate_ref != referral.candidate_ref:
        raise RemoteProtocolError(BAD_BODY, "the referral's consent is for another candidate")
    return statement, consent


def check_transition(current: str | None, new: str, side: str) -> None:
    """Raise ``malformed`` unless ``side`` may move a referral from ``current`` to ``new``."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise RemoteProtocolError(MALFORMED, f"a referral cannot go from {current or 'nothing'} to {new}")
    if side not in WHO.get(new, frozenset()):
        who = " or ".join(SIDE_NAMES[s] for s in sorted(WHO.get(new, ())))
        raise RemoteProtocolError(MALFORMED, f"only {who} may set a referral to {new}")


@dataclass(frozen=True, slots=True)
class ReferralRequest:
    """The job's org asks a holder for the candidate behind a pseudonym from a match answer."""

    KIND: ClassVar[str] = "referral_request"
    PRIVATE: ClassVar[bool] = True

    request_id: bytes
    job_id: bytes
    job_statement: bytes
    holder: bytes
    query_id: bytes
    pseudonym: bytes

    def to_value(self) -> dict[str, Any]:
        return {"request_id": self.request_id, "job_id": self.job_id, "job_statement": self.job_statement,
                "holder": self.holder, "query_id": self.query_id, "pseudonym": self.pseudonym}

    @classmethod
    def from_value(cls, value: Any) -> ReferralRequest:
        v = expect_map(value, "referral_request")
        return cls(
            expect_bytes(v.get("request_id"), "referral_request.request_id", 16),
            expect_bytes(v.get("job_id"), "referral_request.job_id", 16),
            expect_bytes(v.get("job_statement"), "referral_request.job_statement", 32),
            expect_bytes(v.get("holder"), "referral_request.holder", 32),
            expect_bytes(v.get("query_id"), "referral_request.query_id", 16),
            expect_bytes(v.get("pseudonym"), "referral_request.pseudonym", 16),
        )


@dataclass(frozen=True, slots=True)
class ReferralProfile:
    """The personal data of a referral, in its own statement so it can be erased on withdrawal
    while the data-free ``referral`` that commits to it (by statement id) stays as provenance."""

    KIND: ClassVar[str] = "referral_profile"
    PRIVATE: ClassVar[bool] = True

    referral_id: bytes
    profile: dict[str, Any]
    note: str = ""

    def __post_init__(self) -> None:
        extra = set(self.profile) - set(PROFILE_FIELDS)
        if extra:
            raise RemoteProtocolError(MALFORMED, f"profile has fields outside {', '.join(PROFILE_FIELDS)}")

    def to_value(self) -> dict[str, Any]:
        return {"referral_id": self.referral_id, "profile": self.profile, "note": self.note}

    @classmethod
    def from_value(cls, value: Any) -> ReferralProfile:
        v = expect_map(value, "referral_profile")
        profile = expect_map(v.get("profile"), "referral_profile.profile")
        for key, item in profile.items():
            if key == "skills":
                for s in expect_list(item, "profile.skills"):
                    expect_str(s, "profile.skills[]", 200)
            else:
                expect_str(item, f"profile.{key}", 500)
        return cls(expect_bytes(v.get("referral_id"), "referral_profile.referral_id", 16), profile,
                   expect_str(v.get("note", ""), "referral_profile.note", 2000))


@dataclass(frozen=True, slots=True)
class Referral:
    """The holder refers a candidate to the job's org under a recorded consent. Holds no personal
    data: the profile is the separate ``referral_profile`` statement named by ``profile_statement``."""

    KIND: ClassVar[str] = "referral"
    PRIVATE: ClassVar[bool] = True

    referral_id: bytes
    job_id: bytes
    job_statement: bytes
    job_author: bytes
    consent_envelope: bytes  # the holder's ``consent`` statement as signed, with its (data-free) body
    candidate_ref: bytes
    profile_statement: bytes
    request_id: bytes | None = None

    def to_value(self) -> dict[str, Any]:
        value = {"referral_id": self.referral_id, "job_id": self.job_id, "job_statement": self.job_statement,
                 "job_author": self.job_author, "consent_envelope": self.consent_envelope,
                 "candidate_ref": self.candidate_ref, "profile_statement": self.profile_statement}
        if self.request_id is not None:
            value["request_id"] = self.request_id
        return value

    @classmethod
    def from_value(cls, value: Any) -> Referral:
        v = expect_map(value, "referral")
        request_id = v.get("request_id")
        return cls(
            referral_id=expect_bytes(v.get("referral_id"), "referral.referral_id", 16),
            job_id=expect_bytes(v.get("job_id"), "referral.job_id", 16),
            job_statement=expect_bytes(v.get("job_statement"), "referral.job_statement", 32),
            job_author=expect_bytes(v.get("job_author"), "referral.job_author", 32),
            consent_envelope=expect_bytes(v.get("consent_envelope"), "referral.consent_envelope", max_len=8192),
            candidate_ref=expect_bytes(v.get("candidate_ref"), "referral.candidate_ref", 16),
            profile_statement=expect_bytes(v.get("profile_statement"), "referral.profile_statement", 32),
            request_id=None if request_id is None else expect_bytes(request_id, "referral.request_id", 16),
        )


@dataclass(frozen=True, slots=True)
class ReferralStatus:
    """A status change of a referral (or, with ``status`` declined, of a request), by either side."""

    KIND: ClassVar[str] = "referral_status"
    PRIVATE: ClassVar[bool] = True

    referral_id: bytes  # the referral's id, or the request's id when a request is declined
    status: str
    previous: bytes  # id of the previous lifecycle statement (the referral, or the last status): a hash chain
    reason: str = ""
    acted_by: str | None = None  # the signer's staff member, only if its admin shares names (left out otherwise)

    def __post_init__(self) -> None:
        if self.status not in WHO:
            raise RemoteProtocolError(MALFORMED, f"unknown referral status {self.status!r}")
        expect_staff_name(self.acted_by, "referral_status.acted_by")

    def to_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {"referral_id": self.referral_id, "status": self.status, "previous": self.previous,
                                 "reason": self.reason}
        if self.acted_by is not None:  # left out when unset: a node that shares no names signs the same bytes as before
            value["acted_by"] = self.acted_by
        return value

    @classmethod
    def from_value(cls, value: Any) -> ReferralStatus:
        v = expect_map(value, "referral_status")
        return cls(
            expect_bytes(v.get("referral_id"), "referral_status.referral_id", 16),
            expect_str(v.get("status"), "referral_status.status", 16),
            expect_bytes(v.get("previous"), "referral_status.previous", 32),
            expect_str(v.get("reason", ""), "referral_status.reason", 500),
            expect_staff_name(v.get("acted_by"), "referral_status.acted_by"),
        )
