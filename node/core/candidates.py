"""Candidates and their consent on the holder's node: adding, correcting and erasing a person,
giving and withdrawing consent, and telling every recipient when consent ends.

A part of ``Talent`` (node/core/talent.py), on top of erasure and the referral lifecycle.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from node.core.candidate_import import CandidateImports, PendingConsent
from node.core.erasure import Erasure
from node.core.errors import UserError
from node.core.fields import SCOPE_REQUIRED
from node.core.ids import resolve_id
from node.logs import log_event
from protocol.audience import Audience
from protocol.consent import PROFILE_FIELDS, Consent, ConsentWithdrawal, parse_scope
from protocol.errors import ProtocolError
from protocol.referrals import Referral
from storage.talent_rows import Candidate, ConsentRow, DisclosureRow


class Candidates(CandidateImports, Erasure):
    """The candidates this node holds, and their consent."""

    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py)
        def org_sector(self, node_id: bytes) -> str | None: ...
        def org_name(self, node_id: bytes) -> str | None: ...
        def _skill_keys(self, skills: list[str] | tuple[str, ...]) -> list[str]: ...
        def erasure_waiting_for(self, d: DisclosureRow) -> dict[str, Any] | None: ...

    def add_candidate(self, *, name: str, email: str, skills: list[str], phone: str | None = None, location: str | None = None,
                      medal: str | None = None, for_job: str | None = None, consent: list[str] | None = None,
                      consent_scope: str = "", consent_expires: int | None = None, consent_evidence: str = "",
                      consent_fields: tuple[str, ...] = PROFILE_FIELDS, notes: str | None = None,
                      quiet: bool = False) -> tuple[Candidate, ConsentRow | None]:
        consent_row = None
        candidate, pending = self._prepare_candidate(
            name=name, email=email, skills=skills, phone=phone, location=location, medal=medal, for_job=for_job,
            consent=consent, consent_scope=consent_scope, consent_expires=consent_expires,
            consent_evidence=consent_evidence, consent_fields=consent_fields, notes=notes)
        with self.db.atomic():
            self.store.add_candidate(candidate, self._skill_keys(candidate.skills))
            if pending is not None:
                statement = self.federation.append(Consent.KIND, pending.body.to_value(), private=True, audience=Audience.only())
                consent_row = pending.row(statement.id)
                self.store.add_consent(consent_row, pending.body.collected_at)
        if not quiet:  # an import logs its batch once (import_candidates)
            log_event("candidate.added", consented=consent_row is not None)
        return candidate, consent_row

    def _prepare_candidate(self, *, name: str, email: str, skills: list[str], phone: str | None, location: str | None,
                           medal: str | None, for_job: str | None, consent: list[str] | None, consent_scope: str,
                           consent_expires: int | None, consent_evidence: str, consent_fields: tuple[str, ...],
                           notes: str | None, email_taken: bool | None = None) -> tuple[Candidate, PendingConsent | None]:
        """Check a new candidate and build it and its consent body (not stored, not signed):
        ``add_candidate`` stores and signs it at once, an import its batch's together
        (node/core/candidate_import.py). ``email_taken``: already looked up (None: look it up)."""
        self._check_fields(name, email, skills, medal, None, email_taken)
        if not consent and (consent_expires is not None or consent_evidence.strip() or consent_scope.strip()):
            raise UserError("consent_scope, consent_expires and consent_evidence describe a consent: also give consent (match,refer)",
                            field="consent")
        now = self.clock()
        candidate = Candidate(self.random(16), self.random(16), name.strip(), email.strip(), phone, location, tuple(skills),
                              medal, for_job, now, notes or None)
        if not consent:
            return candidate, None
        return candidate, self._consent_body(candidate, consent, consent_scope, consent_expires, consent_evidence,
                                             consent_fields, now)

    def _check_fields(self, name: str, email: str, skills: list[str] | tuple[str, ...], medal: str | None,
                      candidate_id: bytes | None, email_taken: bool | None = None) -> None:
        """The rules every recorded candidate meets, whether added or corrected."""
        # Name the field that is wrong (never echo the value: it is personal data).
        if not name.strip():
            raise UserError("the candidate's name is empty: give their name", field="name")
        if "@" not in email:
            raise UserError("the candidate's email address is not valid: give one with an @, like name@example.org", field="email")
        if not skills:
            raise UserError("give the candidate's skills", field="skills")
        if email_taken:  # an import's batch checked them all at once
            raise UserError("a candidate with this email address is already recorded here (see `orgnode candidate list`)",
                            field="email")
        if email_taken is None and (holder := self.store.email_holder(email.strip(), other_than=candidate_id)) is not None:
            if candidate_id is None:
                raise UserError(f"a candidate with this email address is already recorded here (candidate {holder.hex()}): "
                                "update that one instead of adding another (see `orgnode candidate list`)", field="email")
            raise UserError(f"another candidate already has this email address (candidate {holder.hex()}): give this one "
                            "its own address, or update that one (see `orgnode candidate list`)", field="email")
        if medal not in (None, "silver", "bronze"):
            raise UserError("medal must be silver or bronze", field="medal")

    def held_candidate(self, candidate_id: bytes) -> Candidate:
        """A candidate whose data is still held here (an erased one can be reported, not changed)."""
        candidate = self.store.candidate(candidate_id)
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        if candidate.erased:
            raise UserError("this candidate was erased: nothing about them is held any more "
                            f"(`orgnode candidate report {candidate_id.hex()}` shows what was disclosed and the erasure receipts)")
        return candidate

    def update_candidate(self, candidate_id: bytes, changes: dict[str, Any]) -> Candidate:
        """Correct a candidate's fields (GDPR Art. 16). ``changes`` holds only what the admin gave; an
        empty string clears an optional field (phone, location, medal, for_job, notes). Recipients who
        already received a profile keep the earlier copy: the report lists them."""
        candidate = self.held_candidate(candidate_id)
        unknown = set(changes) - {"name", "email", "phone", "location", "skills", "medal", "for_job", "notes"}
        if unknown:
            raise UserError(f"cannot change {', '.join(sorted(unknown))}: change only name, email, phone, location, skills, medal, for_job or notes")
        if not changes:
            raise UserError("nothing to change: give at least one of name, email, phone, location, skills, medal, "
                            "for_job, notes")
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key in ("name", "email"):
                values[key] = str(value).strip()
            elif key == "skills":
                values[key] = tuple(value)
            else:
                values[key] = str(value).strip() or None
        updated = dataclasses.replace(candidate, **values)
        self._check_fields(updated.name, updated.email, updated.skills, updated.medal, candidate_id)
        with self.db.atomic():
            self.store.update_candidate(updated, self._skill_keys(updated.skills))
        log_event("candidate.updated", fields=len(values))
        return updated

    def give_consent(self, candidate_id: bytes, purposes: list[str], scope_text: str, expires: int | None,
                     evidence: str) -> ConsentRow:
        """Record a new (or renewed) consent for a candidate already held: signed in the log like the
        consent given at `candidate add`; earlier consents keep their own state and expiry."""
        candidate = self.held_candidate(candidate_id)
        if not purposes:
            raise UserError("say what the candidate agreed to in consent: match,refer (and audit, if they agreed to it)", field="consent")
        with self.db.atomic():
            row = self._give_consent(candidate, purposes, scope_text, expires, evidence, PROFILE_FIELDS, self.clock())
        log_event("consent.given")
        return row

    def _give_consent(self, candidate: Candidate, purposes: list[str], scope_text: str, expires: int | None, evidence: str,
                      fields: tuple[str, ...], now: int) -> ConsentRow:
        pending = self._consent_body(candidate, purposes, scope_text, expires, evidence, fields, now)
        statement = self.federation.append(Consent.KIND, pending.body.to_value(), private=True, audience=Audience.only())
        row = pending.row(statement.id)
        self.store.add_consent(row, now)
        return row

    def _consent_body(self, candidate: Candidate, purposes: list[str], scope_text: str, expires: int | None, evidence: str,
                      fields: tuple[str, ...], now: int) -> PendingConsent:
        """Check a consent to be given and build its body (the statement is signed by the caller)."""
        if candidate.erased:
            raise UserError("this candidate was erased: record them again with `orgnode candidate add` if they come back")
        if not evidence.strip():
            raise UserError("recording consent needs consent_evidence: give what the candidate agreed to, and how", field="consent_evidence")
        try:
            if not scope_text.strip():  # the widest scope is never implied (node/core/fields.py)
                raise UserError(SCOPE_REQUIRED, field="consent_scope")
            scope = parse_scope(scope_text)
            body = Consent(self.random(16), candidate.candidate_ref, tuple(purposes), scope, fields,
                           hashlib.sha256(evidence.encode()).digest(), now, expires)
        except ProtocolError as exc:
            raise UserError(exc.detail) from exc
        if expires is not None and expires <= now:
            raise UserError("consent_expires is in the past: give a future date, or none", field="consent_expires")
        return PendingConsent(candidate.candidate_id, body, evidence)

    def consent_in_force(self, candidate_id: bytes, purpose: str, org: bytes, now: int) -> ConsentRow | None:
        sector = self.org_sector(org)
        return next((row for row in self.store.consents(candidate_id) if row.covers(purpose, org, sector, now)), None)

    def consent_gap(self, candidate_id: bytes, purpose: str, org: bytes, now: int) -> str:
        """Why no consent of the candidate covers ``purpose`` for ``org``, in words an admin can act on:
        none recorded, none in force (withdrawn or expired), none for this purpose, or a scope that does
        not reach this organization. A bare "does not cover this organization" sent admins to check a
        scope when the consent simply lacked ``refer``."""
        rows = self.store.consents(candidate_id)
        in_force = [row for row in rows if row.in_force(now)]
        if not rows:
            return "they have no recorded consent"
        if not in_force:
            expired = any(row.state == "given" for row in rows)
            return "their consent has expired" if expired else "their consent was withdrawn"
        if not any(purpose in row.purposes for row in in_force):
            agreed = ", ".join(sorted({p for row in in_force for p in row.purposes}))
            return f"their consent is for {agreed} only, not {purpose}"
        sector = self.org_sector(org)
        scopes = " ".join(sorted({part for row in in_force if purpose in row.purposes for part in row.scope}))
        return (f"their consent's scope ({scopes}) does not reach {self.org_name(org) or org.hex()[:16]} "
                f"(consent sector: {sector or 'none, unconfirmed'})")

    def find_candidate(self, text: str) -> Candidate:
        candidate = self.store.candidate(resolve_id(self.db, text, "CANDIDATE_ID"))
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        return candidate

    def withdraw_consent(self, candidate_id: bytes) -> dict[str, Any]:
        """Withdraw every consent of the candidate and notify each recipient in the disclosure ledger."""
        candidate = self.store.candidate(candidate_id)
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        now = self.clock()
        rows = [r for r in self.store.consents(candidate_id) if r.state == "given"]
        if not rows:
            raise UserError("this candidate has no consent in force to withdraw; nothing changed (see `orgnode candidate list`)")
        with self.db.atomic():
            notified = self._withdraw(candidate, rows, self.store.disclosures(candidate_id), "withdrawn by the candidate", now)
        log_event("consent.withdrawn", recipients=len(notified))
        return {"candidate": candidate_id.hex(), "consents_withdrawn": len(rows), "recipients_notified": [r.hex() for r in notified],
                "notified_names": self._names(notified)}

    def _withdraw(self, candidate: Candidate, rows: list[ConsentRow], disclosures: list[DisclosureRow], note: str,
                  now: int, strict: bool = True) -> dict[bytes, list[bytes]]:
        """Mark ``rows`` withdrawn and send one consent withdrawal to each recipient of ``disclosures``
        (relayed along the trust path to a non-partner); they erase and answer with erasure receipts.
        Runs inside the caller's transaction. Returns the referral ids notified, per recipient. Not
        ``strict`` (erasure), a recipient with no trust path right now is skipped, not fatal: the local
        erasure must not wait for the network; its disclosure stays marked as not yet told."""
        for row in rows:
            self.store.set_consent_state(row.consent_id, "withdrawn", now, note)
        notified: dict[bytes, list[DisclosureRow]] = {}
        for d in disclosures:
            notified.setdefault(d.recipient, []).append(d)
        unreachable: list[bytes] = []
        for recipient, items in notified.items():
            referral_ids = [d.referral_id for d in items]
            consent_id = rows[0].consent_id if rows else items[0].consent_id
            body = ConsentWithdrawal(consent_id, candidate.candidate_ref, tuple(referral_ids))
            try:
                with self.db.atomic():
                    statement = self._send_withdrawal(body, recipient, self._route(referral_ids[0]))
                    self.store.mark_withdrawal_sent(referral_ids, statement.id)
                    for rid in referral_ids:
                        self._apply_status(rid, "withdrawn", self.me, statement.id, "consent withdrawn", now, notify=True)
            except UserError:
                if strict:
                    raise
                unreachable.append(recipient)  # no trust path right now: `candidate erase` again retries it
        for recipient in unreachable:
            del notified[recipient]
        if rows and not notified and not unreachable:
            # Nobody to notify, but the withdrawal still goes in the signed log (to nobody else), so an
            # auditor can check that no later release relied on this consent (docs/audit.md).
            body = ConsentWithdrawal(rows[0].consent_id, candidate.candidate_ref, ())
            self.federation.append(ConsentWithdrawal.KIND, body.to_value(), private=True, audience=Audience.only())
        return {recipient: [d.referral_id for d in items] for recipient, items in notified.items()}

    def erase_candidate(self, candidate_id: bytes) -> dict[str, Any]:
        """Erase a candidate (GDPR Art. 17 and 19). Every consent still given is withdrawn and every
        recipient not yet told gets a consent withdrawal, exactly as `consent withdraw` does (they
        erase and answer with erasure receipts); the bodies of this node's own referral-profile
        statements about the person are erased (signed headers and body commitments stay, so the log
        and audit bundles still verify); pending referral requests for them are declined; the
        candidate row becomes a data-free tombstone. Then the WAL is checkpointed, so with
        ``secure_delete`` no copy is left in the database files. Erasing an erased candidate again
        only retries telling recipients that had no trust path the first time."""
        candidate = self.store.candidate(candidate_id)
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        now = self.clock()
        with self.db.atomic():
            rows = [r for r in self.store.consents(candidate_id) if r.state == "given"]
            untold = [d for d in self.store.disclosures(candidate_id) if d.withdrawal_statement is None]
            notified = self._withdraw(candidate, rows, untold, "erased at the candidate's request", now, strict=False)
            erased = self._erase_own_profiles(candidate_id, now)
            declined = [r.request_id for r in self.store.requests_about(candidate_id) if r.state == "pending"]
            for request_id in declined:
                self.decline_request(request_id, "")
            if not candidate.erased:
                self.store.erase_candidate(candidate_id, now)
        self.store.checkpoint()
        log_event("candidate.erased", recipients=len(notified), bodies=len(erased), again=candidate.erased)
        disclosures = self.store.disclosures(candidate_id)
        return {"candidate": candidate_id.hex(), "erased_at": candidate.erased_at or now, "already_erased": candidate.erased,
                "consents_withdrawn": len(rows), "statement_bodies_erased": len(erased), "requests_declined": len(declined),
                "recipients_notified": [r.hex() for r in notified], "notified_names": self._names(notified),
                "recipients_waiting_for_a_path": self._waiting_for_a_path(disclosures),
                "receipts_waiting_for": self._receipts_waiting_for(disclosures),
                "recipients_told_before": sorted({d.recipient.hex() for d in disclosures if d.withdrawal_statement is not None}
                                                 - {r.hex() for r in notified})}

    def _names(self, nodes: Iterable[bytes]) -> list[str]:
        """The organizations' names as known here, in the order given (for the words "asked X and Y to erase")."""
        return [self.org_name(node) or f"an organization not known by name (node {node.hex()[:16]}…)" for node in nodes]

    def _receipts_waiting_for(self, disclosures: list[DisclosureRow]) -> list[dict[str, Any]]:
        """The partners that unacknowledged erasure receipts wait for because peer health has them down
        (each once): "waiting for PARTNER (unreachable since …)" rather than "sent"."""
        seen: dict[str, dict[str, Any]] = {}
        for d in disclosures:
            down = self.erasure_waiting_for(d)
            if down is not None:
                seen.setdefault(down["node_id"], down)
        return list(seen.values())

    def _waiting_for_a_path(self, disclosures: list[DisclosureRow]) -> list[str]:
        """Recipients whose withdrawal is kept until a trust path to them appears (never sent yet)."""
        waiting = set()
        for d in disclosures:
            if d.withdrawal_statement is None:
                waiting.add(d.recipient.hex())
                continue
            row = self.store.withdrawal_delivery(d.withdrawal_statement, d.recipient)
            if row is not None and row.attempts == 0 and row.acked_at is None:
                waiting.add(d.recipient.hex())
        return sorted(waiting)

    def _erase_own_profiles(self, candidate_id: bytes, now: int) -> list[bytes]:
        """Erase the bodies of the referral-profile statements this node sent about the candidate."""
        erased: list[bytes] = []
        log = self.federation.service.log
        for row in self.store.referrals():
            if row.candidate_id != candidate_id or row.referrer != self.me or row.statement_id is None:
                continue
            statement = log.get(row.statement_id)
            profile_id = row.profile_statement
            if statement is not None and statement.body is not None:
                profile_id = Referral.from_value(statement.body_value()).profile_statement
            if profile_id is not None:
                log.erase_body(profile_id, now)
                erased.append(profile_id)
        return erased
