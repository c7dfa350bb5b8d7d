"""A CSV import's batch of candidates on the holder's node (issue 11 item 2: 100,000 rows at 5,000
rows/s). A part of ``Talent`` through ``Candidates`` (node/core/candidates.py).

Every row is checked as ``candidate add`` checks it (the same errors, in the same order), with the
batch's duplicate-email lookups made in one query; the accepted rows are stored with one
``executemany`` per table and their consent bodies signed together (``Federation.append_own_many``:
one pass through the rollback gates, consecutive seqs), all in one transaction and one durable commit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from node.core.errors import UserError
from node.core.restore import refuse_while_pending
from node.logs import log_event
from protocol.audience import Audience
from protocol.consent import PROFILE_FIELDS, Consent
from storage.talent_rows import Candidate, ConsentRow

if TYPE_CHECKING:
    from node.core.federation import Federation
    from storage.talent import TalentStore

# SQLite's lower() (no ICU) folds ASCII letters only: the duplicate check folds as the email index does.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def email_key(email: str) -> str:
    """An email address as ``lower(email)`` in SQLite sees it (the ``candidates_email`` index)."""
    return email.strip().translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class PendingConsent:
    """A checked consent body not yet signed, with what its consent row needs besides the statement id."""

    candidate_id: bytes
    body: Consent
    evidence: str

    def row(self, statement_id: bytes) -> ConsentRow:
        b = self.body
        return ConsentRow(b.consent_id, self.candidate_id, statement_id, b.purposes, b.scope, b.fields, self.evidence,
                          b.collected_at, b.expires_at, "given")


@dataclass
class _Staged:
    """What a batch will store: candidates with their skill keys, and consent bodies to sign."""

    candidates: list[tuple[Candidate, list[str]]]
    consents: list[tuple[dict[str, Any], PendingConsent]]
    skill_keys: dict[tuple[str, ...], list[str]] = field(default_factory=dict)


class CandidateImports:
    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py, candidates.py)
        store: TalentStore
        federation: Federation

        @property
        def db(self) -> sqlite_utils.Database: ...
        def _prepare_candidate(self, *, name: str, email: str, skills: list[str], phone: str | None, location: str | None,
                               medal: str | None, for_job: str | None, consent: list[str] | None, consent_scope: str,
                               consent_expires: int | None, consent_evidence: str, consent_fields: tuple[str, ...],
                               notes: str | None, email_taken: bool | None = None
                               ) -> tuple[Candidate, PendingConsent | None]: ...
        def _skill_keys(self, skills: list[str] | tuple[str, ...]) -> list[str]: ...

    def import_candidates(self, rows: list[tuple[int, dict[str, Any] | None, UserError | None]]) -> list[dict[str, Any]]:
        """Add a batch of imported rows (row number, ``add_candidate`` arguments or the row's error) in
        ONE transaction. A refused row (an email already recorded, or earlier in the batch) is
        reported and stores nothing; the others still go in. While a rollback gate is closed, rows
        with consent are refused with its reason, as ``candidate add`` would be. Returns, per row, its
        id or its error (message and request field, as the admin API answers one)."""
        gate = self._own_append_refusal()
        taken = self.store.emails_taken([email_key(args["email"]) for _, args, _ in rows if args is not None])
        staged = _Staged([], [])
        results: list[dict[str, Any]] = []
        for number, args, error in rows:
            if args is not None and gate is not None and args.get("consent"):
                error = gate
            elif args is not None:
                try:
                    results.append(self._stage_row(number, args, taken, staged))
                    continue
                except UserError as exc:
                    error = exc
            assert error is not None
            results.append({"row": number, "error": str(error), "field": error.field})
        with self.db.atomic():
            self.store.add_candidates(staged.candidates)
            self._sign_staged(staged.consents)
        log_event("candidates.imported", rows=len(rows), added=len(staged.candidates))
        return results

    def _stage_row(self, number: int, args: dict[str, Any], taken: set[str], staged: _Staged) -> dict[str, Any]:
        key = email_key(args["email"])
        candidate, pending = self._prepare_candidate(**{"consent_fields": PROFILE_FIELDS, **args}, email_taken=key in taken)
        taken.add(key)  # a later row with the same address is a duplicate, as if this one were stored
        keys = staged.skill_keys.get(candidate.skills)
        if keys is None:  # rows of one import often list the same skills
            keys = staged.skill_keys[candidate.skills] = self._skill_keys(candidate.skills)
        staged.candidates.append((candidate, keys))
        result: dict[str, Any] = {"row": number, "id": candidate.candidate_id.hex(), "consent_id": None}
        if pending is not None:
            staged.consents.append((result, pending))
            result["consent_id"] = pending.body.consent_id.hex()
        return result

    def _sign_staged(self, staged: list[tuple[dict[str, Any], PendingConsent]]) -> None:
        """Sign the staged consent bodies as one batch and record their consent rows (one executemany)."""
        statements = self.federation.append_own_many(Consent.KIND, [p.body.to_value() for _, p in staged], private=True,
                                                     audience=Audience.only())
        self.store.add_consents([pending.row(statement.id) for (_, pending), statement in zip(staged, statements, strict=True)])

    def _own_append_refusal(self) -> UserError | None:
        """Why an own statement may not be signed now (a restore or the start check pending), or None."""
        try:
            refuse_while_pending(self.federation)
        except UserError as exc:
            return exc
        return None
