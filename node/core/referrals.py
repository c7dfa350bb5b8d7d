"""Referrals between organizations: requests, referrals, their statuses, and erasure on withdrawal.

A part of ``Talent`` (node/core/talent.py), which owns jobs, candidates, consent and matching; this is
the referral lifecycle built on them, on both sides: the job's organization asks (``request_referral``)
and moves a referral along (``update_referral``); the holder refers (``refer``, ``approve_request``) or
declines. Everything that leaves the node goes through ``Federation.append`` with an explicit
audience. Reactions to peers' statements (a referral request, a referral, a status, a withdrawal, an
erasure receipt) run in ``on_appended``; a withdrawal erases the profile and answers with a receipt.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from node.core.clock import Clock, RandomBytes
from node.core.consent_rules import DUPLICATE_REFERRAL, not_pending_reason
from node.core.errors import PartnerStatementRefused, UserError
from node.core.outcome_advice import outcome_advice
from node.logs import log_event
from protocol.audience import Audience
from protocol.consent import PROFILE_FIELDS, ConsentWithdrawal, ErasureReceipt
from protocol.errors import ProtocolError
from protocol.log import KeyHistory
from protocol.referrals import (
    HOLDER,
    JOB_ORG,
    Referral,
    ReferralProfile,
    ReferralRequest,
    ReferralStatus,
    check_transition,
    consent_for_referral,
    feature_needed,
)
from protocol.statement import Envelope, Statement
from storage.key_histories import vouched_history

if TYPE_CHECKING:
    from node.core.federation import Federation
    from node.core.relay import Relays
    from storage.talent import TalentStore
    from storage.talent_rows import Candidate, ConsentRow, JobRow, ReferralRow


REFERABLE_AGAIN = frozenset({"withdrawn", "expired"})  # after these, the same person may be referred to the job again


class Referrals:
    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py) and TalentViews (node/core/talent_views.py)
        federation: Federation
        relays: Relays | None
        store: TalentStore

        @property
        def clock(self) -> Clock: ...

        @property
        def random(self) -> RandomBytes: ...

        @property
        def me(self) -> bytes: ...

        @property
        def db(self) -> Any: ...

        def own_job(self, job_id: bytes) -> JobRow: ...

        def consent_in_force(self, candidate_id: bytes, purpose: str, org: bytes, now: int) -> ConsentRow | None: ...

        def consent_gap(self, candidate_id: bytes, purpose: str, org: bytes, now: int) -> str: ...

        def _give_consent(self, candidate: Candidate, purposes: list[str], scope_text: str, expires: int | None,
                          evidence: str, fields: tuple[str, ...], now: int) -> ConsentRow: ...

        def referral_view(self, row: ReferralRow | None) -> dict[str, Any]: ...

        def _on_withdrawal(self, statement: Statement) -> None: ...  # node/core/erasure.py

        def _on_receipt(self, statement: Statement) -> None: ...

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

    # --- referrals: the job's side ----------------------------------------------------------------

    def request_referral(self, job_id: bytes, alias: bytes) -> dict[str, Any]:
        row = self.own_job(job_id)
        result = self.store.result_by_pseudonym(job_id, alias)
        if result is None:
            raise UserError(f"no match answer with that pseudonym for this job: run `orgnode match {job_id.hex()}` first")
        holder = result.holder
        if any(r.pseudonym == alias and r.job_id == job_id and r.state in ("requested", "pending", "sent")
               for r in self.store.requests()):
            raise UserError("this candidate was already requested for this job (see `orgnode referral list`)")
        body = ReferralRequest(self.random(16), job_id, row.statement_id, holder, result.query_id, alias)
        # A holder reached through the trust path (a path match) gets the request relayed the way its answer came.
        statement = self._send(ReferralRequest.KIND, body.to_value(), holder, job_id)
        self.store.add_request(request_id=body.request_id, job_id=job_id, job_author=self.me, holder=holder,
                               query_id=body.query_id, pseudonym=alias, statement_id=statement.id, state="requested",
                               created_at=self.clock())
        return {"id": body.request_id.hex(), "job_id": job_id.hex(), "to": holder.hex(), "status": "requested"}

    def update_referral(self, referral_id: bytes, status: str, reason: str, acted_by: str | None = None) -> dict[str, Any]:
        """Move a referral on; ``acted_by`` (the dashboard user) is recorded here, and signed into the
        statement for the partner only when the admin turned ``share_staff_names`` on."""
        row = self.store.referral(referral_id) or self.store.referral_answering(referral_id, self.me)  # or our request's id
        if row is None:
            raise UserError("no such referral (see `orgnode referral list`)")
        referral_id = row.referral_id
        side = JOB_ORG if row.job_author == self.me else HOLDER
        try:
            check_transition(row.status, status, side)
        except ProtocolError as exc:
            advice = outcome_advice(row.status, status, side == JOB_ORG, referral_id)
            raise UserError(f"{exc.detail}; {advice}" if advice else exc.detail) from exc
        counterpart = row.referrer if side == JOB_ORG else row.job_author
        self._check_peer_understands(status, counterpart)
        body = ReferralStatus(referral_id, status, self.last_event(referral_id), reason, self.shared_name(acted_by))
        statement = self._send(ReferralStatus.KIND, body.to_value(), counterpart, row.job_id)
        self._apply_status(referral_id, status, self.me, statement.id, reason, self.clock(), notify=False, acted_by=acted_by)
        return self.referral_view(self.store.referral(referral_id) or row)

    def shared_name(self, acted_by: str | None) -> str | None:
        """The staff name a statement we sign may carry: none unless the admin shares names (``share_staff_names``)."""
        return acted_by if acted_by and self.federation.service.config.share_staff_names else None

    def _check_peer_understands(self, status: str, counterpart: bytes) -> None:
        """Refuse, before anything is signed, a status the counterpart's node would refuse as a bad body
        (and then stall on our log): the referral stages go only to a node whose last answer named
        their feature in ``OrgNode-Features`` (docs/protocol.md 15.9)."""
        feature = feature_needed(status)
        if feature is None or feature in self.federation.service.peer_features.get(counterpart, frozenset()):
            return
        raise UserError(
            f"the referring organization's node has not said it understands the stage {status!r} "
            f"(its answers do not name {feature!r}); nothing was sent. Run `orgnode sync` so its node answers; "
            "if it runs an older release, ask its operator to upgrade, or use in_process until then",
            code="peer-lacks-feature")

    # --- referrals: the holder's side ---------------------------------------------------------------

    def refer(self, candidate_id: bytes, job_id: bytes, note: str = "", request_id: bytes | None = None,
              job_author: bytes | None = None) -> dict[str, Any]:
        candidate = self.store.candidate(candidate_id)
        if candidate is None or candidate.erased:
            raise UserError("no such candidate (see `orgnode candidate list`)")
        job_row = self._referable_job(job_id, job_author, request_id)
        direct = self.federation.peers.is_trusted(job_row.author)
        earlier = self.live_referral(candidate_id, job_id, job_row.author)
        if earlier is not None:
            raise UserError(f"{DUPLICATE_REFERRAL}: this candidate was already referred to this job (referral "
                            f"{earlier.referral_id.hex()}, {earlier.status}); a second referral of the same person is "
                            "refused (see `orgnode referral list`)")
        now = self.clock()
        consent = self.consent_in_force(candidate_id, "refer", job_row.author, now)
        if consent is None:
            raise UserError(f"the candidate's consent does not cover this referral: "
                            f"{self.consent_gap(candidate_id, 'refer', job_row.author, now)}; ask the candidate, then "
                            f"record their agreement with `orgnode consent give {candidate_id.hex()[:8]}` (purpose refer, "
                            "a scope that covers this organization, and how they agreed)")
        consent_statement = self.federation.service.log.get(consent.statement_id)
        assert consent_statement is not None
        # One id from request to profile (docs/protocol.md 15.8): the request's, unless a referral has it already.
        taken = request_id is None or self.store.referral(request_id) is not None
        referral_id = self.random(16) if taken or request_id is None else request_id
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
            self._decline_duplicates(candidate_id, job_id, job_row.author, referral.referral_id)
        log_event("referral.sent", referral=referral.referral_id, relayed=not direct)
        return self.referral_view(self.store.referral(referral.referral_id))

    def _referable_job(self, job_id: bytes, job_author: bytes | None, request_id: bytes | None) -> JobRow:
        """The open job of another organization a referral can reach, or the ``UserError`` saying why not
        (for a partner's request: that declining it is the answer, with its id)."""
        job_row = self.store.job(job_id, job_author)
        if job_row is None:
            raise UserError("no such job here (see `orgnode job list`)")
        if job_row.author == self.me:
            raise UserError("that is this organization's own job: referrals go to another organization's job; to find "
                            f"candidates for your own job, run `orgnode match {job_id.hex()}`")
        if not job_row.job.is_offered(self.clock()):
            if request_id is not None:
                raise UserError(f"the job {job_row.job.title!r} is no longer open ({job_row.job.status}): nothing was "
                                f"sent or recorded; decline the request: `orgnode referral decline {request_id.hex()}`")
            raise UserError("that job is no longer open: pick an open one from `orgnode job list`")
        direct = self.federation.peers.is_trusted(job_row.author)
        if not direct and (self.relays is None or self.relays.next_hop(job_row.author, job_id) is None):
            raise UserError("the job's organization is not a partner and no partner passed its job on: no trust path to it; pair with it (`orgnode invite`) or with a partner that holds its job")
        return job_row

    def approve_request(self, request_id: bytes, evidence: str) -> dict[str, Any]:
        request = self.store.request(request_id)
        if request is None or request.state != "pending":
            raise UserError(not_pending_reason(request))
        candidate_id = request.candidate_id
        assert candidate_id is not None  # a pending request is one we received: it names our candidate
        asker = request.job_author
        now = self.clock()
        self._referable_job(request.job_id, asker, request_id)  # before a consent is recorded: a refusal records nothing
        if self.consent_in_force(candidate_id, "refer", asker, now) is None:
            candidate = self.store.candidate(candidate_id)
            assert candidate is not None
            if not evidence.strip():
                raise UserError(f"the candidate's consent does not cover this referral: "
                                f"{self.consent_gap(candidate_id, 'refer', asker, now)}; record their agreement with "
                                "consent_evidence (how and when they agreed)", field="consent_evidence")
            # The candidate agreed to this organization receiving their profile: record exactly that.
            self._give_consent(candidate, ["refer"], f"node:{asker.hex()}", None, evidence, PROFILE_FIELDS, now)
        return self.refer(candidate_id, request.job_id, request_id=request_id, job_author=asker)

    def decline_request(self, request_id: bytes, reason: str, acted_by: str | None = None) -> dict[str, Any]:
        request = self.store.request(request_id)
        if request is None or request.state != "pending":
            raise UserError(not_pending_reason(request))
        body = ReferralStatus(request_id, "declined", request.statement_id, reason, self.shared_name(acted_by))
        self._send(ReferralStatus.KIND, body.to_value(), request.job_author, request.job_id)  # relayed to a non-partner
        self.store.set_request_state(request_id, "declined", reason)
        return {"id": request_id.hex(), "status": "declined"}

    # --- one referral per person and job (issue 8 item 3) --------------------------------------------

    def live_referral(self, candidate_id: bytes, job_id: bytes, job_author: bytes) -> ReferralRow | None:
        """Our referral of this candidate to this job that still stands (any status but withdrawn or
        expired): a second one of the same person would be a duplicate."""
        for row in self.store.referrals():
            if (row.referrer == self.me and row.candidate_id == candidate_id and row.job_id == job_id
                    and row.job_author == job_author and row.status not in REFERABLE_AGAIN):
                return row
        return None

    def _decline_duplicates(self, candidate_id: bytes, job_id: bytes, job_author: bytes, referral_id: bytes) -> None:
        """Once a candidate is referred to a job, the asker's other pending requests for the same person
        and job (through other pseudonyms) are answered: declined as duplicates of that referral."""
        for request in self.store.requests("pending"):
            if request.candidate_id == candidate_id and request.job_id == job_id and request.job_author == job_author:
                self._decline_duplicate(request.request_id, referral_id)

    def _decline_duplicate(self, request_id: bytes, referral_id: bytes) -> None:
        self.decline_request(request_id, f"{DUPLICATE_REFERRAL}: the same candidate as referral {referral_id.hex()}")
        log_event("referral.duplicate-refused", request=request_id, referral=referral_id)

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
            except (ProtocolError, UserError, PartnerStatementRefused) as exc:
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
            raise PartnerStatementRefused("referral request names no offer of ours", "no-such-offer")
        candidate_id = offer.candidate_id
        now = self.clock()
        earlier = self.live_referral(candidate_id, body.job_id, statement.author)
        if earlier is not None:
            # The asker already has this person for this job (pseudonyms change with every match):
            # refuse, naming the referral it already has; no second disclosure, nothing more to count.
            self.store.add_request(request_id=body.request_id, job_id=body.job_id, job_author=statement.author,
                                   holder=self.me, query_id=body.query_id, pseudonym=body.pseudonym, candidate_id=candidate_id,
                                   statement_id=statement.id, state="pending", created_at=now)
            self._decline_duplicate(body.request_id, earlier.referral_id)
            return
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
            raise UserError("this referral has no recorded history on this node: run `orgnode sync` so its records arrive, then update it")
        return events[-1].statement_id

    def _on_referral(self, statement: Statement) -> None:
        body = Referral.from_value(statement.body_value())
        if body.job_author != self.me or self.store.referral(body.referral_id) is not None:
            return  # not for us, or already handled (reactions may be retried)
        job = self.store.job(body.job_id, self.me)
        if job is None:
            raise PartnerStatementRefused("referral for a job that is not ours", "not-our-job")
        now = self.clock()
        consent_statement, consent = consent_for_referral(body, statement.author)
        history = self._key_history(statement.author)
        if history is None:
            raise PartnerStatementRefused("referral from a node whose keys are unknown", "unknown-keys")
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
            raise PartnerStatementRefused("referral without its profile statement", "no-profile")
        profile = ReferralProfile.from_value(profile_statement.body_value())
        if profile.referral_id != body.referral_id:
            raise PartnerStatementRefused("referral's profile statement is for another referral", "profile-mismatch")
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
        # A referral answering a request has the request's id: a `declined` is the request's only when
        # it chains to the request itself (a declined referral chains to the referral's last status).
        if (request is not None and request.holder == statement.author and body.status == "declined"
                and (self.store.referral(body.referral_id) is None or body.previous == request.statement_id)):
            self.store.set_request_state(body.referral_id, "declined", body.reason)
            return
        self._apply_status(body.referral_id, body.status, statement.author, statement.id, body.reason, self.clock(),
                           notify=False, acted_by=body.acted_by)

    def _apply_status(self, referral_id: bytes, status: str, by: bytes, statement_id: bytes, reason: str, now: int,
                      notify: bool, acted_by: str | None = None) -> None:
        row = self.store.referral(referral_id)
        if row is None:
            return
        side = JOB_ORG if by == row.job_author else HOLDER if by == row.referrer else None
        if side is None:
            raise PartnerStatementRefused("status from a node that is not part of the referral", "not-a-party")
        if row.status == status:
            return
        try:
            check_transition(row.status, status, side)
        except ProtocolError:
            if notify:
                return
            raise
        self.store.upsert_referral(referral_id, status=status, reason=reason, updated_at=now)
        self.store.add_event(referral_id, status, by, statement_id, reason, now, acted_by=acted_by)
