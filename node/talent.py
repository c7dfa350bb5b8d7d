"""The talent exchange on one node: jobs, candidates and consent, matching, referrals, erasure.

Everything that leaves the node goes through ``Federation.append`` with an explicit audience, and
every referral body is re-checked against the candidate's consent at the moment its plaintext is
built for a peer (``outbound_allowed``), so a consent withdrawn or expired after a referral was
queued stops it (THREATS rows 17 and 18). Reactions to peers' statements (a referral request, a
referral, a status, a withdrawal, an erasure receipt) run in ``on_appended``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from node.clock import now_ms
from node.errors import UserError
from node.federation import Federation
from node.logs import log_event
from node.relay import Relays
from protocol.audience import Audience
from protocol.consent import PROFILE_FIELDS, Consent, ConsentWithdrawal, ErasureReceipt, parse_scope
from protocol.errors import ProtocolError
from protocol.jobs import Job, Location, Salary, Skill
from protocol.log import KeyHistory
from protocol.match_query import MAX_OFFERS, MatchAnswer, MatchQuery, Offer, pseudonym
from protocol.matching import Vocabulary, score
from protocol.referrals import (
    HOLDER,
    JOB_ORG,
    Referral,
    ReferralProfile,
    ReferralRequest,
    ReferralStatus,
    check_transition,
    consent_for_referral,
)
from protocol.statement import Envelope, Statement
from storage.log_store import vouched_history
from storage.talent import TalentStore
from storage.talent_rows import Candidate, ConsentRow, DisclosureRow, JobRow, ReferralRow

MATCH_THRESHOLD = 1  # a candidate must match at least one requirement to be offered
OFFER_TTL_MS = 30 * 86_400_000  # how long a pseudonym can still be resolved for a referral request


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


# Where each kind of id a user types lives, and which command lists them.
ID_KINDS: dict[str, tuple[str, str, str]] = {
    "JOB_ID": ("jobs", "job_id", "orgnode job list"),
    "CANDIDATE_ID": ("candidates", "candidate_id", "orgnode candidate list"),
    "REFERRAL_ID": ("referrals", "referral_id", "orgnode referral list"),
    "REQUEST_ID": ("referral_requests", "request_id", "orgnode referral pending"),
    "PSEUDONYM": ("match_results", "pseudonym", "orgnode match JOB_ID"),
}


def resolve_id(db: Any, text: str, what: str) -> bytes:
    """An id from its full hex or a unique prefix of at least 8 hex characters, as users type them."""
    table, column, lister = ID_KINDS[what]
    wanted = text.strip().lower()
    if len(wanted) < 8 or len(wanted) > 32 or any(c not in "0123456789abcdef" for c in wanted):
        raise UserError(f"{what} is a hex id (its first 8 or more characters are enough); see `{lister}`")
    if len(wanted) == 32:
        return bytes.fromhex(wanted)
    rows = list(db.query(f"SELECT DISTINCT {column} AS v FROM {table} WHERE lower(hex({column})) LIKE ? LIMIT 2",  # noqa: S608
                         [wanted + "%"]))
    if not rows:
        raise UserError(f"no {what.lower().replace('_', ' ')} starts with {wanted}; see `{lister}`")
    if len(rows) > 1:
        raise UserError(f"{wanted} matches more than one {what.lower().replace('_', ' ')}: give more characters")
    return bytes(rows[0]["v"])


@dataclass
class Talent:
    federation: Federation
    vocabulary: Callable[[], Vocabulary]
    relays: Relays | None = None

    def __post_init__(self) -> None:
        self.store = TalentStore(self.federation.service.db)
        self.federation.on_appended.append(self.on_appended)
        if self.relays is not None:
            self.relays.on_delivered.append(lambda statements, via: self.on_appended(statements))
        self.federation.outbound_guards.append(self.outbound_allowed)

    @property
    def me(self) -> bytes:
        return self.federation.me

    @property
    def db(self) -> Any:
        return self.federation.service.db

    def resolve(self, text: str, what: str) -> bytes:
        return resolve_id(self.db, text, what)

    def _send(self, kind: str, body: dict[str, Any], to: bytes, route: bytes) -> Statement:
        """Append a statement for one organization: synced if it is a partner, else relayed along the trust path."""
        statement = self.federation.append(kind, body, private=True, audience=Audience.only(to))
        if not self.federation.peers.is_trusted(to) and self.relays is not None:
            self.relays.send([statement], to, route)
        return statement

    def _route(self, referral_id: bytes | None) -> bytes:
        """The job a referral is about: how relays find the path to a non-partner."""
        row = self.store.referral(referral_id) if referral_id is not None else None
        return row.job_id if row is not None else b"\0" * 16

    def _key_history(self, author: bytes) -> KeyHistory | None:
        """A peer's key history from its log, or a relayed/re-shared author's from the card its partner vouched for."""
        history = self.federation.service.log.key_history(author)
        if history is not None:
            return history
        return vouched_history(self.db, author)

    def _pseudonym_key(self) -> bytes:
        raw = self.federation.service.identity.x25519_key.private_bytes_raw()
        return hashlib.sha256(b"orgnode/pseudonym-key/v1\x00" + raw).digest()

    def org_sector(self, node_id: bytes) -> str | None:
        """The sector consent scopes are judged against: for a partner, the one it had when an admin
        trusted it (a later self-declared change does not widen any consent); for an organization
        known only through a re-share, the one on the first card a partner vouched for."""
        pinned = self.federation.peers.pinned_sector(node_id)
        if pinned is not None:
            return pinned
        rows = list(self.db.query("SELECT sector FROM org_cards WHERE node_id = ?", [node_id]))
        return rows[0]["sector"] if rows else None

    def org_name(self, node_id: bytes) -> str | None:
        rows = list(self.db.query("SELECT name FROM org_cards WHERE node_id = ?", [node_id]))
        return rows[0]["name"] if rows else None

    # --- jobs ------------------------------------------------------------------------------------

    def post_job(self, *, title: str, skills: list[str], description: str = "", location: Location | None = None,
                 location_type: str = "onsite", employment_type: tuple[str, ...] = (), salary: Salary | None = None,
                 valid_through: int | None = None, hops: int = 1, job_id: bytes | None = None) -> Job:
        if not skills:
            raise UserError("give the job's skills (--skills \"a, b\"): matching needs them")
        if valid_through is not None and valid_through < now_ms():
            raise UserError("--valid-through is in the past")
        vocabulary = self.vocabulary()
        resolved = tuple(Skill(s, vocabulary.concept(s).uri) for s in skills)
        try:
            job = Job(job_id=job_id or os.urandom(16), version=1, title=title, skills=resolved, date_posted=now_ms(), hops=hops,
                      description=description, location=location or Location(), location_type=location_type,
                      employment_type=employment_type, salary=salary, valid_through=valid_through)
        except ProtocolError as exc:
            raise UserError(exc.detail) from exc
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def publish_job(self, job: Job) -> Job:
        """Publish a fully built job (JSON-LD import)."""
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def own_job(self, job_id: bytes) -> JobRow:
        row = self.store.job(job_id, self.me)
        if row is None:
            if self.store.job(job_id) is not None:
                raise UserError("that job belongs to another organization: only its author can change it")
            raise UserError(f"no job {job_id.hex()} here (see `orgnode job list`)")
        return row

    def close_job(self, job_id: bytes, filled_by: bytes | None) -> Job:
        row = self.own_job(job_id)
        if filled_by is not None:
            referral = self.store.referral(filled_by)
            if referral is None or referral.job_id != job_id:
                raise UserError("--filled-by must name a referral for this job (see `orgnode referral list`)")
            if referral.status != "hired":
                raise UserError(f"that referral is {referral.status}, not hired: record the hire first "
                                "(`orgnode referral update ID --status hired`)")
        old = row.job
        job = dataclasses.replace(old, version=old.version + 1, status="filled" if filled_by else "closed", filled_by=filled_by)
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def update_job(self, job_id: bytes, **changes: Any) -> Job:
        """Publish a new version of an own open job with ``changes`` (title, skills, description, …)."""
        row = self.own_job(job_id)
        if row.job.status != "open":
            raise UserError(f"the job is {row.job.status}: only an open job can be updated")
        if "skills" in changes:
            vocabulary = self.vocabulary()
            changes["skills"] = tuple(Skill(s, vocabulary.concept(s).uri) for s in changes["skills"])
        try:
            job = dataclasses.replace(row.job, version=row.job.version + 1, **changes)
        except ProtocolError as exc:
            raise UserError(exc.detail) from exc
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def job_view(self, row: JobRow) -> dict[str, Any]:
        job = row.job
        return {
            "id": job.job_id.hex(), "title": job.title, "author": row.author.hex(), "author_name": self.org_name(row.author),
            "via": _hex(row.via), "via_name": self.org_name(row.via) if row.via else None, "hops": job.hops, "status": job.status if job.is_offered(now_ms()) or job.status != "open" else "expired",
            "version": job.version, "skills": [s.label for s in job.skills], "location": job.location.text(),
            "location_type": job.location_type, "employment_type": list(job.employment_type),
            "valid_through": job.valid_through, "filled_by": _hex(job.filled_by), "mine": row.author == self.me,
            "statement_id": row.statement_id.hex(),
        }

    def list_jobs(self, mine: bool = False) -> list[dict[str, Any]]:
        return [self.job_view(r) for r in self.store.jobs() if not mine or r.author == self.me]

    # --- candidates and consent ------------------------------------------------------------------

    def add_candidate(self, *, name: str, email: str, skills: list[str], phone: str | None = None, location: str | None = None,
                      medal: str | None = None, for_job: str | None = None, consent: list[str] | None = None,
                      consent_scope: str = "", consent_expires: int | None = None, consent_evidence: str = "",
                      consent_fields: tuple[str, ...] = PROFILE_FIELDS) -> tuple[Candidate, ConsentRow | None]:
        if not name.strip() or "@" not in email:
            raise UserError("a candidate needs a name and a valid email address")
        if not skills:
            raise UserError("give the candidate's skills (--skills \"a, b\")")
        if not consent and (consent_expires is not None or consent_evidence.strip() or consent_scope not in ("", "all")):
            raise UserError("--consent-scope/--consent-expires/--consent-evidence describe a consent: also give --consent match,refer")
        if self.store.email_taken(email.strip()):
            raise UserError("a candidate with this email address is already recorded here (see `orgnode candidate list`)")
        if medal not in (None, "silver", "bronze"):
            raise UserError("--medal must be silver or bronze")
        now = now_ms()
        candidate = Candidate(os.urandom(16), os.urandom(16), name.strip(), email.strip(), phone, location, tuple(skills),
                              medal, for_job, now)
        consent_row = None
        with self.db.atomic():
            self.store.add_candidate(candidate)
            if consent:
                consent_row = self._give_consent(candidate, consent, consent_scope, consent_expires, consent_evidence,
                                                 consent_fields, now)
        log_event("candidate.added", consented=consent_row is not None)
        return candidate, consent_row

    def _give_consent(self, candidate: Candidate, purposes: list[str], scope_text: str, expires: int | None, evidence: str,
                      fields: tuple[str, ...], now: int) -> ConsentRow:
        if not evidence.strip():
            raise UserError("recording consent needs --consent-evidence (what the candidate agreed to, and how)")
        try:
            scope = parse_scope(scope_text or "all")
            body = Consent(os.urandom(16), candidate.candidate_ref, tuple(purposes), scope, fields,
                           hashlib.sha256(evidence.encode()).digest(), now, expires)
        except ProtocolError as exc:
            raise UserError(exc.detail) from exc
        if expires is not None and expires <= now:
            raise UserError("--consent-expires is in the past")
        statement = self.federation.append(Consent.KIND, body.to_value(), private=True, audience=Audience.only())
        row = ConsentRow(body.consent_id, candidate.candidate_id, statement.id, body.purposes, body.scope, body.fields,
                         evidence, now, expires, "given")
        self.store.add_consent(row, now)
        return row

    def consent_in_force(self, candidate_id: bytes, purpose: str, org: bytes, now: int) -> ConsentRow | None:
        sector = self.org_sector(org)
        for row in self.store.consents(candidate_id):
            body = Consent(row.consent_id, b"\0" * 16, row.purposes, row.scope, row.fields, b"\0" * 32, row.collected_at, row.expires_at)
            if body.covers(purpose, org, sector, now, withdrawn=row.state != "given"):
                return row
        return None

    def candidate_view(self, c: Candidate) -> dict[str, Any]:
        now = now_ms()
        consents = []
        for row in self.store.consents(c.candidate_id):
            state = row.state
            if state == "given" and row.expires_at is not None and now >= row.expires_at:
                state = "expired"
            consents.append({"id": row.consent_id.hex(), "purposes": list(row.purposes), "scope": list(row.scope),
                             "expires_at": row.expires_at, "state": state,
                             "history": [{"state": h.state, "at": h.at, "note": h.note}
                                         for h in self.store.consent_history(row.consent_id)]})
        return {"id": c.candidate_id.hex(), "name": c.name, "email": c.email, "phone": c.phone, "location": c.location,
                "skills": list(c.skills), "medal": c.medal, "for_job": c.for_job, "consents": consents,
                "disclosures": [self._disclosure_view(d) for d in self.store.disclosures(c.candidate_id)]}

    def _disclosure_view(self, d: DisclosureRow) -> dict[str, Any]:
        return {"referral_id": d.referral_id.hex(), "recipient": d.recipient.hex(),
                "recipient_name": self.org_name(d.recipient), "at": d.at,
                "withdrawal_sent": d.withdrawal_statement is not None, "acknowledged": d.acked_at is not None,
                "acked_at": d.acked_at}

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
        now = now_ms()
        rows = [r for r in self.store.consents(candidate_id) if r.state == "given"]
        if not rows:
            raise UserError("this candidate has no consent in force to withdraw")
        notified: dict[bytes, list[bytes]] = {}
        with self.db.atomic():
            for row in rows:
                self.store.set_consent_state(row.consent_id, "withdrawn", now, "withdrawn by the candidate")
            for d in self.store.disclosures(candidate_id):
                notified.setdefault(d.recipient, []).append(d.referral_id)
            for recipient, referral_ids in notified.items():
                body = ConsentWithdrawal(rows[0].consent_id, candidate.candidate_ref, tuple(referral_ids))
                statement = self._send(ConsentWithdrawal.KIND, body.to_value(), recipient, self._route(referral_ids[0]))
                self.store.mark_withdrawal_sent(referral_ids, statement.id)
                for rid in referral_ids:
                    self._apply_status(rid, "withdrawn", self.me, statement.id, "consent withdrawn", now, notify=True)
            if not notified:
                # Nobody to notify, but the withdrawal still goes in the signed log (to nobody else), so an
                # auditor can check that no later release relied on this consent (docs/audit.md).
                body = ConsentWithdrawal(rows[0].consent_id, candidate.candidate_ref, ())
                self.federation.append(ConsentWithdrawal.KIND, body.to_value(), private=True, audience=Audience.only())
        log_event("consent.withdrawn", recipients=len(notified))
        return {"candidate": candidate_id.hex(), "consents_withdrawn": len(rows), "recipients_notified": [r.hex() for r in notified]}

    # --- matching --------------------------------------------------------------------------------

    def answer_match(self, asker: bytes, query: MatchQuery) -> MatchAnswer:
        """Score our consented pool for the asker's job; only pseudonyms, scores and job labels go back."""
        job_statement = Envelope.decode(query.job_envelope).open_plain()
        if job_statement.author != asker or job_statement.kind != Job.KIND:
            raise UserError("a match query must carry a job of the asking organization")
        self.federation.service.log.key_history(asker).check_key(job_statement.header.key, job_statement.seq)  # type: ignore[union-attr]
        job = Job.from_value(job_statement.body_value())
        now = now_ms()
        if self.store.query_reused(query.query_id, asker, job_statement.id):
            raise UserError("this query id was already used for another job: every match query needs a fresh id")
        if not job.is_offered(now):
            return MatchAnswer(query.query_id, self.me, ())
        vocabulary = self.vocabulary()
        labels = [s.label for s in job.skills]
        scored: list[tuple[Offer, bytes]] = []
        key = self._pseudonym_key()
        for candidate in self.store.candidates():
            if self.consent_in_force(candidate.candidate_id, "match", asker, now) is None:
                continue
            result = score(labels, list(candidate.skills), vocabulary)
            if len(result.matched) < MATCH_THRESHOLD:
                continue
            alias = pseudonym(key, asker, query.query_id, job_statement.id, candidate.candidate_id)
            scored.append((Offer(alias, result.score, result.matched), candidate.candidate_id))
        scored.sort(key=lambda pair: -pair[0].score)
        scored = scored[:MAX_OFFERS]
        with self.db.atomic():
            self.store.prune_offers(now - OFFER_TTL_MS)
            for offer, candidate_id in scored:
                self.store.add_offer(query.query_id, offer.pseudonym, candidate_id, job.job_id, asker, job_statement.id, now)
        return MatchAnswer(query.query_id, self.me, tuple(offer for offer, _ in scored))

    def match_query_for(self, job_id: bytes) -> tuple[MatchQuery, Job]:
        row = self.own_job(job_id)
        if not row.job.is_offered(now_ms()):
            raise UserError("that job is not open (closed, filled or past its valid-through date)")
        statement = self.federation.service.log.get(row.statement_id)
        assert statement is not None
        return MatchQuery(os.urandom(16), Envelope.of(statement).encode()), row.job

    def record_answer(self, job_id: bytes, answer: MatchAnswer) -> None:
        now = now_ms()
        for offer in answer.offers:
            self.store.add_result(answer.query_id, job_id, answer.holder, offer.pseudonym, offer.score, offer.matched, now)

    def match_candidate(self, candidate_id: bytes) -> list[dict[str, Any]]:
        """Search received (and own) open jobs for one of our candidates, locally."""
        candidate = self.store.candidate(candidate_id)
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        vocabulary = self.vocabulary()
        now = now_ms()
        out = []
        for row in self.store.jobs():
            if not row.job.is_offered(now):
                continue
            result = score([s.label for s in row.job.skills], list(candidate.skills), vocabulary)
            if result.matched:
                view = self.job_view(row)
                view.update(score=result.score, matched=list(result.matched),
                            consent_covers=self.consent_in_force(candidate_id, "refer", row.author, now) is not None)
                out.append(view)
        return sorted(out, key=lambda v: -v["score"])

    # --- referrals: the job's side ----------------------------------------------------------------

    def request_referral(self, job_id: bytes, alias: bytes) -> dict[str, Any]:
        row = self.own_job(job_id)
        result = self.store.result_by_pseudonym(job_id, alias)
        if result is None:
            raise UserError("no match answer with that pseudonym for this job: run `orgnode match JOB_ID` first")
        holder = result.holder
        if any(r.pseudonym == alias and r.job_id == job_id and r.state in ("requested", "pending", "sent")
               for r in self.store.requests()):
            raise UserError("this candidate was already requested for this job (see `orgnode referral list`)")
        body = ReferralRequest(os.urandom(16), job_id, row.statement_id, holder, result.query_id, alias)
        statement = self.federation.append(ReferralRequest.KIND, body.to_value(), private=True, audience=Audience.only(holder))
        self.store.add_request(request_id=body.request_id, job_id=job_id, job_author=self.me, holder=holder,
                               query_id=body.query_id, pseudonym=alias, statement_id=statement.id, state="requested",
                               created_at=now_ms())
        return {"id": body.request_id.hex(), "job_id": job_id.hex(), "to": holder.hex(), "status": "requested"}

    def update_referral(self, referral_id: bytes, status: str, reason: str) -> dict[str, Any]:
        row = self.store.referral(referral_id)
        if row is None:
            raise UserError("no such referral (see `orgnode referral list`)")
        side = JOB_ORG if row.job_author == self.me else HOLDER
        try:
            check_transition(row.status, status, side)
        except ProtocolError as exc:
            raise UserError(exc.detail) from exc
        counterpart = row.referrer if side == JOB_ORG else row.job_author
        body = ReferralStatus(referral_id, status, self.last_event(referral_id), reason)
        statement = self._send(ReferralStatus.KIND, body.to_value(), counterpart, row.job_id)
        self._apply_status(referral_id, status, self.me, statement.id, reason, now_ms(), notify=False)
        return self.referral_view(self.store.referral(referral_id) or row)

    # --- referrals: the holder's side ---------------------------------------------------------------

    def refer(self, candidate_id: bytes, job_id: bytes, note: str = "", request_id: bytes | None = None,
              job_author: bytes | None = None) -> dict[str, Any]:
        candidate = self.store.candidate(candidate_id)
        if candidate is None:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        job_row = self.store.job(job_id, job_author)
        if job_row is None:
            raise UserError("no such job here (see `orgnode job list`)")
        if job_row.author == self.me:
            raise UserError("that is this organization's own job: referrals go to another organization's job")
        if not job_row.job.is_offered(now_ms()):
            raise UserError("that job is no longer open")
        direct = self.federation.peers.is_trusted(job_row.author)
        if not direct and (self.relays is None or self.relays.next_hop(job_row.author, job_id) is None):
            raise UserError("the job's organization is not a partner and no partner passed its job on: no trust path to it")
        now = now_ms()
        consent = self.consent_in_force(candidate_id, "refer", job_row.author, now)
        if consent is None:
            raise UserError("the candidate's consent does not cover referring them to this organization "
                            "(record a consent that does, or ask the candidate)")
        consent_statement = self.federation.service.log.get(consent.statement_id)
        assert consent_statement is not None
        referral_id = os.urandom(16)
        profile = ReferralProfile(referral_id, candidate.profile(consent.fields), note)
        with self.db.atomic():
            self.store.disclose(referral_id, candidate_id, job_row.author, consent.consent_id, now)
            profile_statement = self.federation.append(ReferralProfile.KIND, profile.to_value(), private=True,
                                                       audience=Audience.only(job_row.author))
            referral = Referral(referral_id, job_id, job_row.statement_id, job_row.author, Envelope.of(consent_statement).encode(),
                                candidate.candidate_ref, profile_statement.id, request_id)
            statement = self.federation.append(Referral.KIND, referral.to_value(), private=True,
                                               audience=Audience.only(job_row.author))
            self.store.upsert_referral(referral.referral_id, job_id=job_id, job_author=job_row.author, referrer=self.me,
                                       request_id=request_id, candidate_id=candidate_id, consent_id=consent.consent_id,
                                       statement_id=statement.id, status="sent", created_at=now, updated_at=now)
            self.store.add_event(referral.referral_id, "sent", self.me, statement.id, "", now)
            if request_id is not None:
                self.store.set_request_state(request_id, "sent")
            if not direct:
                assert self.relays is not None
                self.relays.send([profile_statement, statement], job_row.author, job_id)
        log_event("referral.sent", referral=referral.referral_id, relayed=not direct)
        return self.referral_view(self.store.referral(referral.referral_id))

    def approve_request(self, request_id: bytes, evidence: str) -> dict[str, Any]:
        request = self.store.request(request_id)
        if request is None or request.state != "pending":
            raise UserError("no pending referral request with that id (see `orgnode referral pending`)")
        candidate_id = request.candidate_id
        assert candidate_id is not None  # a pending request is one we received: it names our candidate
        asker = request.job_author
        now = now_ms()
        if self.consent_in_force(candidate_id, "refer", asker, now) is None:
            candidate = self.store.candidate(candidate_id)
            assert candidate is not None
            if not evidence.strip():
                raise UserError("the candidate's consent does not cover this organization: record their agreement with "
                                "--consent-evidence \"how and when they agreed\"")
            # The candidate agreed to this organization receiving their profile: record exactly that.
            self._give_consent(candidate, ["refer"], f"node:{asker.hex()}", None, evidence, PROFILE_FIELDS, now)
        return self.refer(candidate_id, request.job_id, request_id=request_id, job_author=asker)

    def decline_request(self, request_id: bytes, reason: str) -> dict[str, Any]:
        request = self.store.request(request_id)
        if request is None or request.state != "pending":
            raise UserError("no pending referral request with that id (see `orgnode referral pending`)")
        body = ReferralStatus(request_id, "declined", request.statement_id, reason)
        self.federation.append(ReferralStatus.KIND, body.to_value(), private=True, audience=Audience.only(request.job_author))
        self.store.set_request_state(request_id, "declined", reason)
        return {"id": request_id.hex(), "status": "declined"}

    # --- reactions to peers' statements ------------------------------------------------------------

    def on_appended(self, statements: list[Statement]) -> None:
        for statement in statements:
            if statement.author == self.me or statement.body is None:
                continue
            handler = self._handlers().get(statement.kind)
            if handler is None:
                continue
            try:
                with self.db.atomic():
                    handler(statement)
            except (ProtocolError, UserError) as exc:
                log_event("talent.ignored", logging.WARNING, kind=statement.kind, id=statement.id,
                          reason=getattr(exc, "code", "user-error"))

    def _handlers(self) -> dict[str, Callable[[Statement], None]]:
        return {
            ReferralRequest.KIND: self._on_request,
            Referral.KIND: self._on_referral,
            ReferralStatus.KIND: self._on_status,
            ConsentWithdrawal.KIND: self._on_withdrawal,
            ErasureReceipt.KIND: self._on_receipt,
        }

    def _on_request(self, statement: Statement) -> None:
        body = ReferralRequest.from_value(statement.body_value())
        if body.holder != self.me or self.store.request(body.request_id) is not None:
            return  # not for us, or already handled (reactions may be retried)
        offer = self.store.offer(body.query_id, body.pseudonym)
        if offer is None or offer.asker != statement.author or offer.job_id != body.job_id:
            raise UserError("referral request names no offer of ours")
        candidate_id = offer.candidate_id
        now = now_ms()
        self.store.add_request(request_id=body.request_id, job_id=body.job_id, job_author=statement.author, holder=self.me,
                               query_id=body.query_id, pseudonym=body.pseudonym, candidate_id=candidate_id,
                               statement_id=statement.id, state="pending", created_at=now)
        if self.consent_in_force(candidate_id, "refer", statement.author, now) is not None:
            self.refer(candidate_id, body.job_id, request_id=body.request_id, job_author=statement.author)
        else:
            log_event("referral.pending", request=body.request_id)

    def last_event(self, referral_id: bytes) -> bytes:
        """The id of the referral's latest lifecycle statement: what the next status chains to."""
        events = self.store.events(referral_id)
        if not events:
            raise UserError("this referral has no recorded history on this node")
        return events[-1].statement_id

    def _on_referral(self, statement: Statement) -> None:
        body = Referral.from_value(statement.body_value())
        if body.job_author != self.me or self.store.referral(body.referral_id) is not None:
            return  # not for us, or already handled (reactions may be retried)
        job = self.store.job(body.job_id, self.me)
        if job is None:
            raise UserError("referral for a job that is not ours")
        now = now_ms()
        consent_statement, consent = consent_for_referral(body, statement.author)
        history = self._key_history(statement.author)
        if history is None:
            raise UserError("referral from a node whose keys are unknown")
        history.check_key(consent_statement.header.key, consent_statement.seq)
        if not consent.covers("refer", self.me, self.federation.service.config.sector, statement.header.ts, withdrawn=False):
            # The sender released a profile its own consent record does not allow to reach us: keep the
            # signed, data-free provenance as evidence, but not the personal data.
            self.federation.service.log.erase_body(body.profile_statement, now)
            self.federation.after_commit(self.store.checkpoint)
            log_event("referral.consent-mismatch", logging.WARNING, referral=body.referral_id)
            return  # refused: returning (not raising) keeps the erasure
        profile_statement = self.federation.service.log.find(body.profile_statement)
        if profile_statement is None or profile_statement.author != statement.author or profile_statement.body is None:
            raise UserError("referral without its profile statement")
        profile = ReferralProfile.from_value(profile_statement.body_value())
        if profile.referral_id != body.referral_id:
            raise UserError("referral's profile statement is for another referral")
        self.store.upsert_referral(body.referral_id, job_id=body.job_id, job_author=self.me, referrer=statement.author,
                                   request_id=body.request_id, statement_id=statement.id, profile_statement=profile_statement.id,
                                   status="sent", created_at=now, updated_at=now)
        self.store.store_profile(body.referral_id, {**profile.profile, **({"note": profile.note} if profile.note else {})})
        self.store.add_event(body.referral_id, "sent", statement.author, statement.id, "", now)
        if body.request_id is not None:
            self.store.set_request_state(body.request_id, "sent")
        log_event("referral.received", referral=body.referral_id)
        self.update_referral(body.referral_id, "received", "")

    def _on_status(self, statement: Statement) -> None:
        body = ReferralStatus.from_value(statement.body_value())
        request = self.store.request(body.referral_id)
        if request is not None and request.holder == statement.author and body.status == "declined":
            self.store.set_request_state(body.referral_id, "declined", body.reason)
            return
        self._apply_status(body.referral_id, body.status, statement.author, statement.id, body.reason, now_ms(), notify=False)

    def _apply_status(self, referral_id: bytes, status: str, by: bytes, statement_id: bytes, reason: str, now: int,
                      notify: bool) -> None:
        row = self.store.referral(referral_id)
        if row is None:
            return
        side = JOB_ORG if by == row.job_author else HOLDER if by == row.referrer else None
        if side is None:
            raise UserError("status from a node that is not part of the referral")
        if row.status == status:
            return
        try:
            check_transition(row.status, status, side)
        except ProtocolError:
            if notify:
                return
            raise
        self.store.upsert_referral(referral_id, status=status, reason=reason, updated_at=now)
        self.store.add_event(referral_id, status, by, statement_id, reason, now)

    def _on_withdrawal(self, statement: Statement) -> None:
        body = ConsentWithdrawal.from_value(statement.body_value())
        now = now_ms()
        erased: list[bytes] = []
        # Erase first and make it durable: nothing that happens while answering may undo it.
        with self.db.atomic():
            for rid in body.referral_ids:
                row = self.store.referral(rid)
                if row is None or row.referrer != statement.author or row.job_author != self.me:
                    continue
                self.store.erase_referral(rid, now)
                self._apply_status(rid, "withdrawn", statement.author, statement.id, "consent withdrawn", now, notify=True)
                erased.append(rid)
        # Erased pages must not linger in the WAL once this commits.
        self.federation.after_commit(self.store.checkpoint)
        log_event("consent.erased", referrals=len(erased))
        if self._receipt_sent(statement.id):
            return  # a retried reaction: the erasure above was a no-op, the receipt went out before
        receipt = ErasureReceipt(statement.id, tuple(erased), now)
        try:
            self._send(ErasureReceipt.KIND, receipt.to_value(), statement.author, self._route(erased[0] if erased else None))
        except UserError as exc:  # no path back right now: the erasure stands regardless
            log_event("erasure.receipt-unsent", logging.WARNING, withdrawal=statement.id, reason=str(exc)[:80])

    def _receipt_sent(self, withdrawal: bytes) -> bool:
        for own in self.federation.service.log.of_kind(ErasureReceipt.KIND):
            if own.author == self.me and own.body is not None and ErasureReceipt.from_value(own.body_value()).withdrawal == withdrawal:
                return True
        return False

    def _on_receipt(self, statement: Statement) -> None:
        body = ErasureReceipt.from_value(statement.body_value())
        self.store.acknowledge(list(body.referral_ids), statement.author, statement.id, now_ms())

    # --- consent at the point of release ------------------------------------------------------------

    def outbound_allowed(self, statement: Statement, peer: bytes) -> bool:
        """Re-check consent when a referral's plaintext is about to be sealed for ``peer``."""
        if statement.kind not in (Referral.KIND, ReferralProfile.KIND) or statement.author != self.me:
            return True
        value = statement.body_value()
        referral_id = Referral.from_value(value).referral_id if statement.kind == Referral.KIND else ReferralProfile.from_value(value).referral_id
        disclosure = self.store.disclosure(referral_id)
        if disclosure is None or disclosure.recipient != peer:
            return False
        consent = self.store.consent(disclosure.consent_id)
        if consent is None or consent.state != "given":
            return False
        return consent.expires_at is None or now_ms() < consent.expires_at

    # --- views -------------------------------------------------------------------------------------

    def referral_view(self, row: ReferralRow | None) -> dict[str, Any]:
        if row is None:
            return {}
        rid = row.referral_id
        mine_as_job_org = row.job_author == self.me
        candidate: dict[str, Any] | None = None
        if mine_as_job_org:
            candidate = self.store.profile(rid)
        elif row.candidate_id is not None:
            c = self.store.candidate(row.candidate_id)
            candidate = {"id": c.candidate_id.hex(), "name": c.name, "email": c.email} if c else None
        return {"id": rid.hex(), "job_id": row.job_id.hex(), "from": row.referrer.hex(),
                "from_name": self.org_name(row.referrer), "to": row.job_author.hex(),
                "to_name": self.org_name(row.job_author), "status": row.status, "reason": row.reason,
                "candidate": candidate, "request_id": _hex(row.request_id),
                "history": [{"status": e.status, "by": e.by.hex(), "at": e.at, "reason": e.reason}
                            for e in self.store.events(rid)]}

    def list_referrals(self) -> list[dict[str, Any]]:
        views = [self.referral_view(r) for r in self.store.referrals()]
        for req in self.store.requests():
            if req.state in ("requested", "pending", "declined") and req.job_author == self.me:
                views.append({"id": req.request_id.hex(), "job_id": req.job_id.hex(), "from": req.holder.hex(),
                              "from_name": self.org_name(req.holder), "to": self.me.hex(), "to_name": self.org_name(self.me),
                              "status": "requested" if req.state != "declined" else "declined", "reason": req.reason,
                              "candidate": None, "request_id": req.request_id.hex(), "history": []})
        return views

    def pending_requests(self) -> list[dict[str, Any]]:
        out = []
        for req in self.store.requests("pending"):
            assert req.candidate_id is not None  # a pending request is one we received: it names our candidate
            c = self.store.candidate(req.candidate_id)
            job = self.store.job(req.job_id, req.job_author)
            out.append({"id": req.request_id.hex(), "job_id": req.job_id.hex(),
                        "job_title": job.job.title if job else None, "from": req.job_author.hex(),
                        "from_name": self.org_name(req.job_author),
                        "candidate": {"id": c.candidate_id.hex(), "name": c.name} if c else None})
        return out
