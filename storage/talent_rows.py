"""The typed rows the talent store hands out (storage returns objects, not database rows)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from protocol.consent import scope_covers
from protocol.jobs import Job


@dataclass(frozen=True, slots=True)
class JobRow:
    job: Job
    author: bytes
    statement_id: bytes
    via: bytes | None


@dataclass(frozen=True, slots=True)
class Candidate:
    candidate_id: bytes
    candidate_ref: bytes
    name: str
    email: str
    phone: str | None
    location: str | None
    skills: tuple[str, ...]
    medal: str | None
    for_job: str | None
    created_at: int
    notes: str | None = None  # staff notes: local only, never part of a profile sent to anyone
    erased_at: int | None = None  # set once `orgnode candidate erase` removed every personal field

    @property
    def erased(self) -> bool:
        return self.erased_at is not None

    def profile(self, fields: tuple[str, ...]) -> dict[str, Any]:
        full: dict[str, Any] = {"name": self.name, "email": self.email, "phone": self.phone, "location": self.location,
                                "skills": list(self.skills), "medal": self.medal}
        return {k: v for k, v in full.items() if k in fields and v not in (None, "")}


@dataclass(frozen=True, slots=True)
class ConsentRow:
    consent_id: bytes
    candidate_id: bytes
    statement_id: bytes
    purposes: tuple[str, ...]
    scope: tuple[str, ...]
    fields: tuple[str, ...]
    evidence: str
    collected_at: int
    expires_at: int | None
    state: str

    def in_force(self, now: int) -> bool:
        """Given, not withdrawn, and not expired at ``now`` (it has expired *at* ``expires_at``)."""
        return self.state == "given" and (self.expires_at is None or now < self.expires_at)

    def covers(self, purpose: str, org: bytes, org_sector: str | None, now: int) -> bool:
        """The coverage rule of protocol.consent, for this recorded consent."""
        return self.in_force(now) and purpose in self.purposes and scope_covers(self.scope, org, org_sector)


@dataclass(frozen=True, slots=True)
class ConsentEventRow:
    """One step of a consent's history (``consent_history``)."""

    state: str
    at: int
    note: str


@dataclass(frozen=True, slots=True)
class OfferRow:
    """A pseudonym we offered in a match answer, and the candidate behind it (``match_offers``)."""

    query_id: bytes
    pseudonym: bytes
    candidate_id: bytes
    job_id: bytes
    asker: bytes
    job_statement: bytes
    created_at: int


@dataclass(frozen=True, slots=True)
class MatchResultRow:
    """An offer a holder made for one of our jobs (``match_results``)."""

    query_id: bytes
    job_id: bytes
    holder: bytes
    pseudonym: bytes
    score: int
    matched: tuple[str, ...]
    at: int


@dataclass(frozen=True, slots=True)
class ReferralRow:
    """A referral as either side sees it (``referrals``); the holder knows the candidate and consent."""

    referral_id: bytes
    job_id: bytes
    job_author: bytes
    referrer: bytes
    request_id: bytes | None
    candidate_id: bytes | None
    consent_id: bytes | None
    statement_id: bytes | None
    profile_statement: bytes | None
    status: str
    reason: str
    created_at: int
    updated_at: int


@dataclass(frozen=True, slots=True)
class RequestRow:
    """A referral request, sent (the job's org) or received (the holder) (``referral_requests``)."""

    request_id: bytes
    job_id: bytes
    job_author: bytes
    holder: bytes
    query_id: bytes
    pseudonym: bytes
    candidate_id: bytes | None
    statement_id: bytes
    state: str
    reason: str
    created_at: int


@dataclass(frozen=True, slots=True)
class ReferralEventRow:
    """One step of a referral's lifecycle (``referral_events``)."""

    status: str
    by: bytes
    statement_id: bytes
    reason: str
    at: int
    corrects: bytes | None = None  # a correction: the step it corrects
    acted_by: str | None = None  # the staff member named: ours, or as the partner's statement says


@dataclass(frozen=True, slots=True)
class DisclosureRow:
    """One release of a candidate's profile to an organization (the disclosure ledger, ``disclosures``)."""

    referral_id: bytes
    candidate_id: bytes
    recipient: bytes
    consent_id: bytes
    at: int
    withdrawal_statement: bytes | None
    acked_at: int | None
    ack_statement: bytes | None


@dataclass(frozen=True, slots=True)
class ReceiptDueRow:
    """An erasure receipt owed to a withdrawer (``erasure_receipts_due``): the erasure is done, the
    receipt not yet appended."""

    withdrawal: bytes
    recipient: bytes
    route: bytes
    referral_ids: tuple[bytes, ...]
    erased_at: int
    attempts: int
    next_at: int
    last_error: str


def _opt(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _candidate(row: dict[str, Any]) -> Candidate:
    return Candidate(bytes(row["candidate_id"]), bytes(row["candidate_ref"]), row["name"], row["email"], row["phone"],
                     row["location"], tuple(json.loads(row["skills"])), row["medal"], row["for_job"], row["created_at"],
                     row.get("notes"), row.get("erased_at"))


def _consent(row: dict[str, Any]) -> ConsentRow:
    return ConsentRow(bytes(row["consent_id"]), bytes(row["candidate_id"]), bytes(row["statement_id"]),
                      json_strings(row["purposes"]), json_strings(row["scope"]), json_strings(row["fields"]),
                      row["evidence"], row["collected_at"], row["expires_at"], row["state"])


CONSENT_COLUMNS = "consent_id, candidate_id, statement_id, purposes, scope, fields, evidence, collected_at, expires_at, state"


def consent_of_tuple(row: tuple[Any, ...]) -> ConsentRow:
    """``_consent`` for a row read as a tuple of ``CONSENT_COLUMNS`` (no dict per row: a match reads
    consents by the batch)."""
    consent_id, candidate_id, statement_id, purposes, scope, fields, evidence, collected_at, expires_at, state = row
    return ConsentRow(bytes(consent_id), bytes(candidate_id), bytes(statement_id), json_strings(purposes), json_strings(scope),
                      json_strings(fields), evidence, collected_at, expires_at, state)


@functools.lru_cache(maxsize=1024)
def json_strings(text: str) -> tuple[str, ...]:
    """A stored JSON list of strings (a consent's purposes, scope or fields) as a tuple, each distinct
    text parsed once: a pool's consents share a handful of them, and parsing them was most of reading
    a match's consents (issue 11 item 1). No personal data: purposes, audiences and field names."""
    return tuple(json.loads(text))


def _consent_event(row: dict[str, Any]) -> ConsentEventRow:
    return ConsentEventRow(row["state"], row["at"], row["note"])


def _offer(row: dict[str, Any]) -> OfferRow:
    return OfferRow(bytes(row["query_id"]), bytes(row["pseudonym"]), bytes(row["candidate_id"]), bytes(row["job_id"]),
                    bytes(row["asker"]), bytes(row["job_statement"]), row["created_at"])


def _result(row: dict[str, Any]) -> MatchResultRow:
    return MatchResultRow(bytes(row["query_id"]), bytes(row["job_id"]), bytes(row["holder"]), bytes(row["pseudonym"]),
                          row["score"], tuple(json.loads(row["matched"])), row["at"])


def _referral(row: dict[str, Any]) -> ReferralRow:
    return ReferralRow(bytes(row["referral_id"]), bytes(row["job_id"]), bytes(row["job_author"]), bytes(row["referrer"]),
                       _opt(row["request_id"]), _opt(row["candidate_id"]), _opt(row["consent_id"]), _opt(row["statement_id"]),
                       _opt(row["profile_statement"]), row["status"], row["reason"], row["created_at"], row["updated_at"])


def _request(row: dict[str, Any]) -> RequestRow:
    return RequestRow(bytes(row["request_id"]), bytes(row["job_id"]), bytes(row["job_author"]), bytes(row["holder"]),
                      bytes(row["query_id"]), bytes(row["pseudonym"]), _opt(row["candidate_id"]), bytes(row["statement_id"]),
                      row["state"], row["reason"], row["created_at"])


def _event(row: dict[str, Any]) -> ReferralEventRow:
    return ReferralEventRow(row["status"], bytes(row["by"]), bytes(row["statement_id"]), row["reason"], row["at"],
                            _opt(row["corrects"]), row["acted_by"])


@dataclass(frozen=True)
class WithdrawalDeliveryRow:
    """A consent withdrawal relayed to a non-partner, until its erasure receipt (``withdrawal_deliveries``)."""

    withdrawal: bytes
    recipient: bytes
    route: bytes
    first_sent_at: int
    last_sent_at: int
    attempts: int
    vias: tuple[bytes, ...]
    next_at: int
    acked_at: int | None


def _withdrawal_delivery(row: dict[str, Any]) -> WithdrawalDeliveryRow:
    return WithdrawalDeliveryRow(bytes(row["withdrawal"]), bytes(row["recipient"]), bytes(row["route"]), row["first_sent_at"],
                                 row["last_sent_at"], row["attempts"], tuple(bytes.fromhex(v) for v in json.loads(row["vias"])),
                                 row["next_at"], row["acked_at"])


def _disclosure(row: dict[str, Any]) -> DisclosureRow:
    return DisclosureRow(bytes(row["referral_id"]), bytes(row["candidate_id"]), bytes(row["recipient"]), bytes(row["consent_id"]),
                         row["at"], _opt(row["withdrawal_statement"]), row["acked_at"], _opt(row["ack_statement"]))


def _receipt_due(row: dict[str, Any]) -> ReceiptDueRow:
    ids = bytes(row["referral_ids"])
    return ReceiptDueRow(bytes(row["withdrawal"]), bytes(row["recipient"]), bytes(row["route"]),
                         tuple(ids[i:i + 16] for i in range(0, len(ids), 16)), row["erased_at"], row["attempts"],
                         row["next_at"], row["last_error"])
