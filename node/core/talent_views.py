"""The JSON shapes of the talent exchange: jobs, candidates, referrals and pending requests as the
API, the CLI and the dashboard show them.

Reading only: nothing here appends a statement or changes a row. It is a part of ``Talent``
(node/core/talent.py), kept apart so the exchange's rules are not buried among display fields.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from node.core.clock import Clock
from node.core.consent_rules import holding_rule, replaced_by
from node.core.errors import UserError
from node.core.views import iso
from storage.log_store import LogStore
from storage.talent_rows import Candidate, ConsentRow, DisclosureRow, JobRow, ReferralRow

if TYPE_CHECKING:
    from node.core.federation import Federation
    from storage.talent import TalentStore


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


class TalentViews:
    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py)
        store: TalentStore
        federation: Federation

        @property
        def clock(self) -> Clock: ...

        @property
        def me(self) -> bytes: ...

        @property
        def db(self) -> Any: ...

        def org_sector(self, node_id: bytes) -> str | None: ...

    def org_name(self, node_id: bytes) -> str | None:
        from storage.cards import CardStore

        return CardStore(self.db).name(node_id)

    def job_view(self, row: JobRow) -> dict[str, Any]:
        job = row.job
        return {
            "id": job.job_id.hex(), "title": job.title, "author": row.author.hex(), "author_name": self.org_name(row.author),
            "via": _hex(row.via), "via_name": self.org_name(row.via) if row.via else None, "hops": job.hops, "status": job.status if job.is_offered(self.clock()) or job.status != "open" else "expired",
            "version": job.version, "skills": [s.label for s in job.skills], "location": job.location.text(),
            "location_type": job.location_type, "employment_type": list(job.employment_type),
            "valid_through": job.valid_through, "filled_by": _hex(job.filled_by), "mine": row.author == self.me,
            "statement_id": row.statement_id.hex(),
        }

    def list_jobs(self, mine: bool = False, limit: int = -1, offset: int = 0, id_prefix: str = "") -> list[dict[str, Any]]:
        """One page of jobs (oldest update first; -1: all), read as a page from the store: a list of
        100,000 jobs is never built at once (issue 11)."""
        rows = self.store.jobs(author=self.me if mine else None, limit=limit, offset=offset, id_prefix=id_prefix)
        return [self.job_view(r) for r in rows]

    # --- subject access (GDPR Art. 15; issue 8 item 7) ---------------------------------------------

    def candidate_report(self, c: Candidate) -> dict[str, Any]:
        """Everything this node holds or did with one person's data, for a subject-access request:
        the data held, every consent with its history, every disclosure (to whom, when, under which
        consent, what became of it), every erasure receipt, pseudonymous match offers and referral
        requests about them. Works on an erased candidate's tombstone too (then nothing personal)."""
        consents = {row.consent_id: row for row in self.store.consents(c.candidate_id)}
        replaced = replaced_by(list(consents.values()), self.clock())
        held = {} if c.erased else {"name": c.name, "email": c.email, "phone": c.phone, "location": c.location,
                                   "skills": list(c.skills), "medal": c.medal, "for_job": c.for_job, "notes": c.notes}
        disclosures = [self._disclosure_report(d, consents.get(d.consent_id)) for d in self.store.disclosures(c.candidate_id)]
        receipts = [{"referral_id": d["referral_id"], "from": d["recipient"], "from_name": d["recipient_name"],
                     **d["erasure_receipt"]} for d in disclosures if d["erasure_receipt"] is not None]
        return {
            "candidate": c.candidate_id.hex(), "candidate_ref": c.candidate_ref.hex(), "created_at": c.created_at,
            "erased": c.erased, "erased_at": c.erased_at, "generated_at": self.clock(), "data_held": held,
            "consents": [{**self._consent_report(row), **_replaced(replaced.get(row.consent_id))} for row in consents.values()],
            "disclosures": disclosures, "erasure_receipts": receipts,
            "match_offers": [{"to": o.asker.hex(), "to_name": self.org_name(o.asker), "job_id": o.job_id.hex(),
                              "job_title": self._job_title(o.job_id, o.asker), "at": o.created_at, "pseudonym": o.pseudonym.hex()}
                             for o in self.store.offers_of(c.candidate_id)],
            "referral_requests": [{"id": r.request_id.hex(), "from": r.job_author.hex(), "from_name": self.org_name(r.job_author),
                                   "job_id": r.job_id.hex(), "job_title": self._job_title(r.job_id, r.job_author),
                                   "at": r.created_at, "state": r.state}
                                  for r in self.store.requests_about(c.candidate_id)],
        }

    def _job_title(self, job_id: bytes, author: bytes) -> str | None:
        row = self.store.job(job_id, author)
        return row.job.title if row is not None else None

    def _consent_report(self, row: ConsentRow) -> dict[str, Any]:
        now = self.clock()
        return {"id": row.consent_id.hex(), "statement_id": row.statement_id.hex(), "purposes": list(row.purposes),
                "scope": list(row.scope), "fields": list(row.fields), "evidence": row.evidence,
                "collected_at": row.collected_at, "expires_at": row.expires_at,
                "state": "expired" if row.state == "given" and not row.in_force(now) else row.state,
                "history": [{"state": h.state, "at": h.at, "note": h.note} for h in self.store.consent_history(row.consent_id)]}

    def _disclosure_report(self, d: DisclosureRow, consent: ConsentRow | None) -> dict[str, Any]:
        referral = self.store.referral(d.referral_id)
        log = LogStore(self.db)
        withdrawal = log.get(d.withdrawal_statement) if d.withdrawal_statement is not None else None
        return {
            "referral_id": d.referral_id.hex(), "recipient": d.recipient.hex(), "recipient_name": self.org_name(d.recipient),
            "at": d.at, "consent_id": d.consent_id.hex(),
            "consent_purposes": list(consent.purposes) if consent else [], "consent_scope": list(consent.scope) if consent else [],
            "fields": list(consent.fields) if consent else [],
            "job_id": referral.job_id.hex() if referral else None,
            "job_title": self._job_title(referral.job_id, referral.job_author) if referral else None,
            "status": referral.status if referral else None,
            "withdrawal": None if d.withdrawal_statement is None else {
                "statement_id": d.withdrawal_statement.hex(), "at": withdrawal.header.ts if withdrawal else None},
            "erasure_receipt": None if d.acked_at is None else {
                "at": d.acked_at, "statement_id": _hex(d.ack_statement)},
            # Asked to erase, no receipt yet: the partner the receipt waits for, if peer health has it down.
            "erasure_waiting_for": self.erasure_waiting_for(d),
        }

    def erasure_waiting_for(self, d: DisclosureRow) -> dict[str, Any] | None:
        """Who an erasure receipt not yet received waits for (the recipient, or a partner on the relayed
        withdrawal's way) when peer health has seen it down past ``unreachable_warn_after``; None when
        the receipt came, no withdrawal went out, or nobody on the way is known to be down."""
        if d.withdrawal_statement is None or d.acked_at is not None:
            return None
        view = self._withdrawal_view(d)
        return None if view is None else view["waiting_for"]

    def candidate_view(self, c: Candidate) -> dict[str, Any]:
        return self.candidate_views([c])[0]

    def candidate_views(self, candidates: list[Candidate]) -> list[dict[str, Any]]:
        """``candidate_view`` of a page of candidates, their consents, histories and disclosures read
        for the whole page at once (storage/candidate_pages.py: a few queries, not three per candidate)."""
        now = self.clock()
        ids = [c.candidate_id for c in candidates]
        consents_of, disclosures_of = self.store.page_consents(ids), self.store.page_disclosures(ids)
        histories = self.store.page_histories([row.consent_id for i in ids for row in consents_of.get(i, [])])
        views = []
        for c in candidates:
            consents = []
            replaced = replaced_by(consents_of.get(c.candidate_id, []), now)
            for row in consents_of.get(c.candidate_id, []):
                state = "expired" if row.state == "given" and not row.in_force(now) else row.state
                consents.append({"id": row.consent_id.hex(), "purposes": list(row.purposes), "scope": list(row.scope),
                                 "expires_at": row.expires_at, "state": state, "evidence": row.evidence,
                                 "history": [{"state": h.state, "at": h.at, "note": h.note}
                                             for h in histories.get(row.consent_id, [])],
                                 **_replaced(replaced.get(row.consent_id))})
            views.append({"id": c.candidate_id.hex(), "name": c.name, "email": c.email, "phone": c.phone,
                          "location": c.location, "skills": list(c.skills), "medal": c.medal, "for_job": c.for_job,
                          "notes": c.notes, "consents": consents,
                          "disclosures": [self._disclosure_view(d) for d in disclosures_of.get(c.candidate_id, [])]})
        return views

    def _disclosure_view(self, d: DisclosureRow) -> dict[str, Any]:
        return {"referral_id": d.referral_id.hex(), "recipient": d.recipient.hex(),
                "recipient_name": self.org_name(d.recipient), "at": d.at,
                "withdrawal_sent": d.withdrawal_statement is not None, "acknowledged": d.acked_at is not None,
                "acked_at": d.acked_at, "withdrawal": self._withdrawal_view(d)}

    def _withdrawal_view(self, d: DisclosureRow) -> dict[str, Any] | None:
        """How a withdrawal relayed to a non-partner is getting on (issue 8 item 8): sent how often,
        through which partners, and when it is re-sent next if no erasure receipt comes."""
        if d.withdrawal_statement is None:
            return None
        row = self.store.withdrawal_delivery(d.withdrawal_statement, d.recipient)
        if row is None:
            acked = d.acked_at is not None
            return {"state": "acknowledged" if acked else "sent", "attempts": 1, "via": [], "next_retry_at": None,
                    "waiting_for": None if acked else self._waiting_for([d.recipient])}
        acked = d.acked_at is not None or row.acked_at is not None
        state = "acknowledged" if acked else "retried" if row.attempts > 1 else "sent" if row.attempts else "no-path"
        return {"state": state,
                "attempts": row.attempts, "first_sent_at": row.first_sent_at, "last_sent_at": row.last_sent_at,
                "via": [{"id": v.hex(), "name": self.org_name(v)} for v in row.vias],
                "next_retry_at": None if acked else row.next_at,
                "waiting_for": None if acked else self._waiting_for([d.recipient, *reversed(row.vias)])}

    def _waiting_for(self, nodes: list[bytes]) -> dict[str, Any] | None:
        """The first of ``nodes`` (the recipient, then the partners a relayed copy went through, last
        first) that the node's peer health has seen down past ``unreachable_warn_after``: what an
        unacknowledged withdrawal is really waiting for."""
        now = self.clock()
        for node in nodes:
            since = self.federation.health.down_since(node, now)
            if since is not None:
                return {"node_id": node.hex(), "name": self.org_name(node), "unreachable_since": iso(since)}
        return None

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
        disclosure = self.store.disclosure(rid) if row.referrer == self.me else None
        return {"id": rid.hex(), "job_id": row.job_id.hex(), "job_title": self._job_title(row.job_id, row.job_author),
                "from": row.referrer.hex(),
                "from_name": self.org_name(row.referrer), "to": row.job_author.hex(),
                "to_name": self.org_name(row.job_author), "status": row.status, "reason": row.reason,
                "candidate": candidate, "request_id": _hex(row.request_id),
                "withdrawal": self._withdrawal_view(disclosure) if disclosure is not None else None,
                "history": self._history(rid)}

    def _history(self, rid: bytes) -> list[dict[str, Any]]:
        """The referral's steps as recorded here, a correction after what it corrects (both kept):
        ``corrects_statement_id`` names the step a correction corrects, ``corrected`` marks a step a
        later correction replaced, ``acted_by`` the staff member named (ours, or the partner's word)."""
        events = self.store.events(rid)
        corrected = {e.corrects for e in events if e.corrects is not None}
        return [{"status": e.status, "by": e.by.hex(), "by_name": self.org_name(e.by), "at": e.at, "reason": e.reason,
                 "statement_id": e.statement_id.hex(), "corrects_statement_id": _hex(e.corrects),
                 "corrected": e.statement_id in corrected, "acted_by": e.acted_by, "ours": e.by == self.me}
                for e in events]

    def show_referral(self, referral_id: bytes) -> dict[str, Any]:
        """One referral with its whole history (``referral show``)."""
        row = self.store.referral(referral_id)
        if row is None:
            raise UserError("no such referral (see `orgnode referral list`)")
        return self.referral_view(row)

    def list_referrals(self) -> list[dict[str, Any]]:
        views = [self.referral_view(r) for r in self.store.referrals()]
        for req in self.store.requests():
            if req.state in ("requested", "pending", "declined") and req.job_author == self.me:
                views.append({"id": req.request_id.hex(), "job_id": req.job_id.hex(),
                              "job_title": self._job_title(req.job_id, req.job_author), "from": req.holder.hex(),
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
            name = self.org_name(req.job_author) or "the asking organization"
            rule = holding_rule(self.store.consents(req.candidate_id), "refer", req.job_author, name,
                                self.org_sector(req.job_author), self.clock())
            out.append({"id": req.request_id.hex(), "job_id": req.job_id.hex(),
                        "job_title": job.job.title if job else None, "from": req.job_author.hex(),
                        "from_name": self.org_name(req.job_author),
                        "candidate": {"id": c.candidate_id.hex(), "name": c.name} if c else None,
                        "held_by": {"rule": rule.code, "words": rule.words}})
        return out


def _replaced(newer: ConsentRow | None) -> dict[str, Any]:
    """A consent's ``replaced_by_id`` (the renewal's id, None when none) and ``replaced_at`` (when it was given)."""
    return {"replaced_by_id": newer.consent_id.hex() if newer else None, "replaced_at": newer.collected_at if newer else None}
