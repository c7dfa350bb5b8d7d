"""The statement-kind registry: every kind, its body type and its properties, in one table.

Before, each protocol module added its kinds to ``bodies.BODY_TYPES`` (and jobs to ``RESHAREABLE``)
as an import side effect, so what a node accepted depended on which modules happened to be
imported first. Now this module is the only place that says which kinds exist, which are private
and which may be re-shared; ``bodies.parse_body`` and ``reshare`` look kinds up here, and
tests/protocol/test_kinds.py checks that importing any single protocol module gives this registry.
A new kind is one row in ``_TABLE`` (and its section in docs/protocol.md).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from protocol.bodies import KeyRotation, Note, OrgCard
from protocol.codec import decode
from protocol.consent import Consent, ConsentWithdrawal, ErasureReceipt
from protocol.corrections import ReferralCorrection
from protocol.errors import BAD_BODY, MALFORMED, LocalProtocolError, RemoteProtocolError
from protocol.jobs import Job
from protocol.provenance import Checkpoint, ImpactReport, Partnership, Witness
from protocol.referrals import Referral, ReferralProfile, ReferralRequest, ReferralStatus
from protocol.relay import Relay
from protocol.reshare_body import Reshare
from protocol.statement import BODY_LIMITS, Statement


@dataclass(frozen=True, slots=True)
class KindSpec:
    """One statement kind: its body type, whether its body is sealed, whether it may travel beyond
    the author's direct peers (its body then carries ``hops``)."""

    kind: str
    body_type: Any
    private: bool
    reshareable: bool = False


# (body type, re-shareable). Privacy comes from the body type's PRIVATE so the two cannot disagree.
_TABLE: tuple[tuple[Any, bool], ...] = (
    (OrgCard, False),
    (KeyRotation, False),
    (Note, True),
    (Job, True),
    (Reshare, False),
    (Consent, False),
    (ConsentWithdrawal, False),
    (ErasureReceipt, False),
    (ReferralRequest, False),
    (ReferralProfile, False),
    (Referral, False),
    (ReferralStatus, False),
    (ReferralCorrection, False),
    (Relay, False),
    (Checkpoint, False),
    (Witness, False),
    (Partnership, False),
    (ImpactReport, False),
)

KINDS: Mapping[str, KindSpec] = MappingProxyType(
    {cls.KIND: KindSpec(cls.KIND, cls, bool(cls.PRIVATE), reshareable) for cls, reshareable in _TABLE}
)
RESHAREABLE: frozenset[str] = frozenset(kind for kind, spec in KINDS.items() if spec.reshareable)


def spec_of(kind: str) -> KindSpec | None:
    """The registry entry of ``kind``, or None for a kind this protocol version does not know."""
    return KINDS.get(kind)


def is_reshareable(kind: str) -> bool:
    return kind in RESHAREABLE


def parse_body(kind: str, private: bool, value: Any) -> Any:
    """Decode a statement body of ``kind``; unknown kinds and a wrong ``private`` flag are the peer's fault."""
    spec = KINDS.get(kind)
    if spec is None:
        raise RemoteProtocolError(MALFORMED, f"unknown statement kind {kind!r}")
    if spec.private != private:
        raise RemoteProtocolError(BAD_BODY, f"{kind} statements must be {'private' if spec.private else 'public'}")
    return spec.body_type.from_value(value)


# Kinds whose parsed bodies are kept in a small cache, so one statement's body is decoded once
# however many steps read it (log rules, the projection, the re-share check: issue 11 item 3).
# Only jobs and notes: their bodies carry no personal data, so nothing erased lingers in memory.
CACHED_KINDS = frozenset({Job.KIND, Note.KIND})


@functools.lru_cache(maxsize=256)
def _parsed(kind: str, private: bool, body: bytes) -> Any:
    return parse_body(kind, private, decode(body, BODY_LIMITS))


def body_of(statement: Statement) -> Any:
    """The statement's body, decoded (bounded) and parsed as its kind's type. The body types are
    frozen, so a cached object can be shared; a bad body raises every time (errors are not cached)."""
    if statement.body is None:
        raise LocalProtocolError(BAD_BODY, "this node does not hold the body of the statement")
    if statement.kind in CACHED_KINDS:
        return _parsed(statement.kind, statement.header.private, statement.body)
    return parse_body(statement.kind, statement.header.private, decode(statement.body, BODY_LIMITS))
