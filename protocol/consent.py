"""Consent rules: what a candidate agreed to, for whom, until when — and the ``consent`` kinds.

A consent record lives on the candidate's holder node only. Its signed ``consent`` statement (in the
holder's own log, readable by nobody but an auditor given the plaintext) carries no personal data:
a random candidate reference, purposes, scope, allowed fields, a hash of the evidence and the expiry.
``covers`` is the single check used wherever a profile could leave the node (THREATS row 17).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.bodies import SECTORS
from protocol.codec import expect_bytes, expect_int, expect_list, expect_map, expect_str
from protocol.errors import MALFORMED, RemoteProtocolError

PURPOSES = ("match", "refer", "audit")
PROFILE_FIELDS = ("name", "email", "phone", "location", "skills", "medal")
SECTOR_PREFIX = "sector:"
NODE_PREFIX = "node:"
SCOPE_ALL = "all"


def scope_item_ok(item: str) -> bool:
    """The one rule for a consent scope item: "all", "sector:<one of SECTORS>" or "node:<64 hex>"."""
    if item == SCOPE_ALL:
        return True
    if item.startswith(SECTOR_PREFIX):
        return item[len(SECTOR_PREFIX):] in SECTORS
    if item.startswith(NODE_PREFIX):
        digits = item[len(NODE_PREFIX):]
        return len(digits) == 64 and all(c in "0123456789abcdefABCDEF" for c in digits)
    return False


def scope_item_parts(item: str) -> tuple[str, str]:
    """What a valid scope item names, for people to read it: ("all", ""), ("sector", NAME) or
    ("node", <64 hex>); ("", item) for anything ``scope_item_ok`` refuses."""
    if not scope_item_ok(item):
        return "", item
    if item == SCOPE_ALL:
        return "all", ""
    if item.startswith(SECTOR_PREFIX):
        return "sector", item[len(SECTOR_PREFIX):]
    return "node", item[len(NODE_PREFIX):].lower()


def split_scope(text: str) -> tuple[str, ...]:
    """"all sector:nonprofit" or "all,sector:nonprofit" -> its items (separated by spaces or commas)."""
    return tuple(part for part in text.replace(",", " ").split() if part)


def parse_scope(text: str) -> tuple[str, ...]:
    """"all" | "sector:nonprofit" | "node:<hex>" — several separated by spaces or commas."""
    items = split_scope(text)
    for item in items:
        if not scope_item_ok(item):
            raise RemoteProtocolError(MALFORMED, f"consent scope item {item!r} must be all, sector:NAME (one of "
                                                 f"{', '.join(SECTORS)}) or node:<64 hex>")
    return items


def scope_covers(scope: tuple[str, ...], org: bytes, org_sector: str | None) -> bool:
    for item in scope:
        if item == SCOPE_ALL:
            return True
        if item.startswith(SECTOR_PREFIX) and org_sector is not None and item[len(SECTOR_PREFIX):] == org_sector:
            return True
        if item.startswith(NODE_PREFIX) and item[len(NODE_PREFIX):].lower() == org.hex():
            return True
    return False


@dataclass(frozen=True, slots=True)
class Consent:
    """A consent given: purposes, scope, fields, evidence hash, expiry. No personal data."""

    KIND: ClassVar[str] = "consent"
    PRIVATE: ClassVar[bool] = True

    consent_id: bytes
    candidate_ref: bytes
    purposes: tuple[str, ...]
    scope: tuple[str, ...]
    fields: tuple[str, ...]
    evidence_hash: bytes
    collected_at: int
    expires_at: int | None

    def __post_init__(self) -> None:
        if any(p not in PURPOSES for p in self.purposes):
            raise RemoteProtocolError(MALFORMED, f"consent purposes must be among {', '.join(PURPOSES)}")
        if any(f not in PROFILE_FIELDS for f in self.fields):
            raise RemoteProtocolError(MALFORMED, f"consent fields must be among {', '.join(PROFILE_FIELDS)}")
        parse_scope(" ".join(self.scope))

    def covers(self, purpose: str, org: bytes, org_sector: str | None, now: int, withdrawn: bool) -> bool:
        """True if this consent, still in force at ``now``, lets ``org`` receive for ``purpose``."""
        if withdrawn or purpose not in self.purposes:
            return False
        if self.expires_at is not None and now >= self.expires_at:
            return False
        return scope_covers(self.scope, org, org_sector)

    def to_value(self) -> dict[str, Any]:
        return {
            "consent_id": self.consent_id,
            "candidate_ref": self.candidate_ref,
            "purposes": list(self.purposes),
            "scope": list(self.scope),
            "fields": list(self.fields),
            "evidence_hash": self.evidence_hash,
            "collected_at": self.collected_at,
            "expires_at": self.expires_at,
        }

    @classmethod
    def from_value(cls, value: Any) -> Consent:
        v = expect_map(value, "consent")
        expires = v.get("expires_at")
        return cls(
            consent_id=expect_bytes(v.get("consent_id"), "consent.consent_id", 16),
            candidate_ref=expect_bytes(v.get("candidate_ref"), "consent.candidate_ref", 16),
            purposes=tuple(expect_str(p, "consent.purposes[]", 16) for p in expect_list(v.get("purposes"), "consent.purposes")),
            scope=tuple(expect_str(s, "consent.scope[]", 80) for s in expect_list(v.get("scope"), "consent.scope")),
            fields=tuple(expect_str(f, "consent.fields[]", 16) for f in expect_list(v.get("fields"), "consent.fields")),
            evidence_hash=expect_bytes(v.get("evidence_hash"), "consent.evidence_hash", 32),
            collected_at=expect_int(v.get("collected_at"), "consent.collected_at"),
            expires_at=None if expires is None else expect_int(expires, "consent.expires_at"),
        )


@dataclass(frozen=True, slots=True)
class ConsentWithdrawal:
    """Sent to every recipient in the disclosure ledger: erase these referrals' personal data."""

    KIND: ClassVar[str] = "consent_withdrawal"
    PRIVATE: ClassVar[bool] = True

    consent_id: bytes
    candidate_ref: bytes
    referral_ids: tuple[bytes, ...]

    def to_value(self) -> dict[str, Any]:
        return {"consent_id": self.consent_id, "candidate_ref": self.candidate_ref, "referral_ids": list(self.referral_ids)}

    @classmethod
    def from_value(cls, value: Any) -> ConsentWithdrawal:
        v = expect_map(value, "consent_withdrawal")
        return cls(
            expect_bytes(v.get("consent_id"), "consent_withdrawal.consent_id", 16),
            expect_bytes(v.get("candidate_ref"), "consent_withdrawal.candidate_ref", 16),
            tuple(expect_bytes(r, "consent_withdrawal.referral_ids[]", 16) for r in expect_list(v.get("referral_ids"), "consent_withdrawal.referral_ids")),
        )


@dataclass(frozen=True, slots=True)
class ErasureReceipt:
    """A recipient's signed acknowledgement that it erased the personal data of these referrals."""

    KIND: ClassVar[str] = "erasure_receipt"
    PRIVATE: ClassVar[bool] = True

    withdrawal: bytes  # statement id of the consent_withdrawal
    referral_ids: tuple[bytes, ...]
    erased_at: int

    def to_value(self) -> dict[str, Any]:
        return {"withdrawal": self.withdrawal, "referral_ids": list(self.referral_ids), "erased_at": self.erased_at}

    @classmethod
    def from_value(cls, value: Any) -> ErasureReceipt:
        v = expect_map(value, "erasure_receipt")
        return cls(
            expect_bytes(v.get("withdrawal"), "erasure_receipt.withdrawal", 32),
            tuple(expect_bytes(r, "erasure_receipt.referral_ids[]", 16) for r in expect_list(v.get("referral_ids"), "erasure_receipt.referral_ids")),
            expect_int(v.get("erased_at"), "erasure_receipt.erased_at"),
        )
