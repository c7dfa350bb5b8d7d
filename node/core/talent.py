"""The talent exchange on one node: jobs, candidates and their consent, and matching.

``Talent`` is the one object the rest of the node uses (``runtime.talent``). Its candidates and their
consent live in node/core/candidates.py, erasure in node/core/erasure.py, the referral lifecycle
and its reactions to peers' statements in node/core/referrals.py, its JSON views in
node/core/talent_views.py; all are mixed in here, so callers still see one object.

Consent is given, checked, withdrawn and enforced here. Every referral body is re-checked against
the candidate's consent at the moment its plaintext is built for a peer (``outbound_allowed``), so a
consent withdrawn or expired after a referral was queued stops it (THREATS rows 17 and 18).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from node.core.candidates import Candidates
from node.core.clock import Clock, RandomBytes, Timer
from node.core.errors import UserError
from node.core.federation import Federation
from node.core.ids import resolve_id
from node.core.limits import MatchQuota
from node.core.match_answers import MatchAnswers
from node.core.referrals import REFERABLE_AGAIN
from node.core.relay import Relays
from node.core.requests.talent import CandidateQuery
from node.core.skill_bitmaps import SkillBitmaps
from node.core.talent_views import TalentViews
from node.formats.jobposting import JobPostingError
from node.formats.posting import Imported, import_posting
from node.formats.posting_identity import identifier_value, stored_identity
from protocol import codec
from protocol.errors import ProtocolError
from protocol.jobs import Job, Location, Salary, Skill
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.matching import Vocabulary, score
from protocol.referrals import Referral, ReferralProfile
from protocol.statement import BODY_LIMITS, MAX_BODY_BYTES, Envelope, Statement
from storage.candidate_filters import CandidateFilter
from storage.talent import TalentStore
from storage.talent_rows import Candidate, JobRow, ReferralRow

MATCH_CHUNK = 2_500  # candidates per step of building the match index: a few milliseconds of SQL, then the loop runs


@dataclass
class Talent(Candidates, TalentViews, MatchAnswers):
    federation: Federation
    vocabulary: Callable[[], Vocabulary]
    relays: Relays | None = None
    match_quota: MatchQuota = dataclasses.field(default_factory=MatchQuota)
    match_chunk: int = MATCH_CHUNK  # candidates per step of a match (the event loop runs between steps)
    _skill_index_for: str | None = dataclasses.field(default=None, init=False, repr=False)
    _bitmaps: SkillBitmaps | None = dataclasses.field(default=None, init=False, repr=False)
    _bitmaps_lock: asyncio.Lock = dataclasses.field(default_factory=asyncio.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.store = TalentStore(self.federation.service.db)
        self.federation.on_appended.append(self.on_appended)
        if self.relays is not None:
            self.relays.on_delivered.append(lambda statements, via: self.on_appended(statements))
        self.federation.outbound_guards.append(self.outbound_allowed)
        self.federation.timers.append(Timer("erasure-receipts", self.send_due_receipts, self.store.next_receipt_due))
        self.federation.timers.append(Timer("withdrawal-retries", self.retry_withdrawals, self.store.next_withdrawal_due))

    @property
    def me(self) -> bytes:
        return self.federation.me

    @property
    def clock(self) -> Clock:
        """The node's clock (``Federation.clock``, i.e. ``NodeService.clock``)."""
        return self.federation.clock

    @clock.setter
    def clock(self, clock: Clock) -> None:
        self.federation.clock = clock

    @property
    def random(self) -> RandomBytes:
        """The node's random source (``Federation.random``): job, candidate, consent and query ids."""
        return self.federation.random

    @property
    def db(self) -> Any:
        return self.federation.service.db

    def resolve(self, text: str, what: str) -> bytes:
        return resolve_id(self.db, text, what)

    def _pseudonym_key(self) -> bytes:
        raw = self.federation.service.identity.x25519_key.private_bytes_raw()
        return hashlib.sha256(b"orgnode/pseudonym-key/v1\x00" + raw).digest()

    def org_sector(self, node_id: bytes) -> str | None:
        """The sector consent scopes are judged against: for a partner, the one an admin confirmed when
        trusting it; for an organization known only through a re-share, the one on the first card a
        partner vouched for. Never a card the organization sent itself (a LAN pairing request, a newer
        card in its log): those are shown to the admin (`trust list`), not used (issue 8 item 1)."""
        identity = self.federation.peers.consent_identity(node_id)
        return identity.sector if identity is not None else None

    # --- jobs ------------------------------------------------------------------------------------

    def post_job(self, *, title: str, skills: list[str], description: str = "", location: Location | None = None,
                 location_type: str = "onsite", employment_type: tuple[str, ...] = (), salary: Salary | None = None,
                 valid_through: int | None = None, hops: int = 1, job_id: bytes | None = None) -> Job:
        vocabulary = self.vocabulary()
        resolved = tuple(Skill(s, vocabulary.concept(s).uri) for s in skills)
        job = self.checked_job(lambda: Job(
            job_id=job_id or self.random(16), version=1, title=title, skills=resolved, date_posted=self.clock(), hops=hops,
            description=description, location=location or Location(), location_type=location_type,
            employment_type=employment_type, salary=salary, valid_through=valid_through))
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def checked_job(self, build: Callable[[], Job]) -> Job:
        """The one validation of a job version this node is about to publish (post, import, update).

        ``Job`` itself checks what every receiver checks (title, enumerations, hops); on top, an own new
        version must be matchable (skills) and still offered (no past ``valid_through``), so ``job
        update`` cannot publish what ``job post`` refuses (issue 12 item 4).
        """
        try:
            job = build()
            # What every receiver checks of the body (lengths, sizes: docs/protocol.md 15.2): an own
            # version that would not pass is the admin's to fix, not a peer's bad-body.
            body = codec.encode(job.to_value())
            if len(body) > MAX_BODY_BYTES:
                raise UserError(f"the job would be {len(body)} bytes, over the {MAX_BODY_BYTES} a job can carry: shorten "
                                "the description or the skills, or remove properties of the posting")
            Job.from_value(codec.decode(body, BODY_LIMITS))
        except ProtocolError as exc:
            raise UserError(exc.detail, field="skills" if exc.detail.startswith("skill") else None) from exc
        if not job.skills:
            raise UserError("give the job's skills: matching needs them, a job without skills never matches", field="skills")
        if job.valid_through is not None and job.valid_through < self.clock():
            raise UserError("valid_through is in the past: give a later date, or close the job", field="valid_through")
        return job

    def import_posting(self, document: Any, *, page: str | None = None, hops: int = 1, skills: tuple[str, ...] = (),
                       update: bool = False) -> tuple[Imported, Job | None]:
        """Post a job from a schema.org JobPosting (node/formats/jobposting.py), carrying the original.

        A posting without skills is refused: it could never match a candidate (issue 12 item 1). A
        posting that names itself like a job already posted here (its ``identifier``, else ``url`` or
        ``sameAs``: node/formats/posting_identity.py) is refused, naming that job, unless ``update``:
        then it becomes that job's next version, checked like a posted one. Returns the import and the
        version it replaced (None when the job is new).
        """
        vocabulary = self.vocabulary()
        resolved = tuple(Skill(s, vocabulary.concept(s).uri) for s in skills)
        imported = import_posting(document, job_id=self.random(16), now=self.clock(), hops=hops, page=page, skills=resolved)
        if imported.job.valid_through is not None and imported.job.valid_through < self.clock():
            raise JobPostingError("validThrough", "is in the past: the posting has expired (give a later date in the file)")
        if not imported.job.skills:
            raise UserError("the JobPosting has no skills, so no candidate could ever match it: give them in skills "
                            '(comma-separated, e.g. "python, project management")', field="skills")
        earlier = self._posted_as(imported.job.posting)
        if earlier is not None:
            old = earlier.job
            if old.status != "open":
                raise UserError(f"this JobPosting is job {old.job_id.hex()} ({old.title!r}), which is {old.status}: a "
                                f"{old.status} job is not changed and nothing was imported. To post it as a new job, give "
                                "the posting another identifier", code="duplicate-posting")
            if not update:
                raise UserError(f"this JobPosting is already posted here as job {old.job_id.hex()} ({old.title!r}, "
                                f"version {old.version}); nothing was imported. To replace that job with this posting, "
                                f"import it with update (`orgnode job import FILE --update`); to change a few fields, "
                                f"`orgnode job update {old.job_id.hex()[:8]}`", code="duplicate-posting")
            job = dataclasses.replace(imported.job, job_id=old.job_id, version=old.version + 1)
            imported = dataclasses.replace(imported, job=job)
        self.publish_job(imported.job)
        return imported, earlier.job if earlier is not None else None

    def _posted_as(self, posting: str | None) -> JobRow | None:
        """Our own job that this posting names: one whose original posting has the same identity, or the
        one whose id is the posting's identifier (a re-import of our own export)."""
        key = stored_identity(posting)
        if key is None or posting is None:
            return None
        own = self.store.jobs(author=self.me)
        for row in reversed(own):  # the latest updated first
            if stored_identity(row.job.posting) == key:
                return row
        value = (identifier_value(posting) or "").lower()
        return next((row for row in own if row.job.job_id.hex() == value), None)

    def publish_job(self, job: Job) -> Job:
        """Publish a fully built job (JSON-LD import), checked like a posted one."""
        checked = self.checked_job(lambda: job)
        self.federation.append(Job.KIND, checked.to_value(), private=True)
        return checked

    def own_job(self, job_id: bytes) -> JobRow:
        row = self.store.job(job_id, self.me)
        if row is None:
            if self.store.job(job_id) is not None:
                raise UserError("that job belongs to another organization: only its author can change it; ask that organization to")
            raise UserError(f"no job {job_id.hex()} here (see `orgnode job list`)")
        return row

    def close_job(self, job_id: bytes, filled_by: bytes | None) -> Job:
        """Close an own open job, or mark it filled by a hired referral.

        A filled job is final: closing it again would drop the hire from impact, so it is refused (filling
        it again by the same referral is a no-op, like closing a closed job). Closing
        a closed job is a no-op that returns the job as it is (no new version: partners would only get a
        copy); the caller tells it by the unchanged ``version``. A closed job can still be marked filled
        (the hire was recorded after closing).
        """
        row = self.own_job(job_id)
        if row.job.status == "filled" and filled_by is not None and row.job.filled_by is not None:
            again = self.store.referral(filled_by) or self.store.referral_answering(filled_by, self.me)
            if again is not None and again.referral_id == row.job.filled_by:
                return row.job  # idempotent: filled again by the same referral (a script's retry) publishes nothing
        if row.job.status == "filled":
            raise UserError(f"the job is already filled (by referral {row.job.filled_by.hex() if row.job.filled_by else '?'}): "
                            "a filled job stays filled; nothing changed. For another opening, post a new job (`orgnode job post`)")
        if row.job.status == "closed" and filled_by is None:
            return row.job  # idempotent: closing a closed job publishes nothing (issue 12 item 4)
        if filled_by is not None:
            referral = self.store.referral(filled_by) or self.store.referral_answering(filled_by, self.me)  # or our request's id
            if referral is not None:
                filled_by = referral.referral_id
            if referral is None or referral.job_id != job_id:
                raise UserError("filled_by must name a referral for this job (see `orgnode referral list`)", field="filled_by")
            if referral.status != "hired":
                record_hire = f"orgnode referral update {referral.referral_id.hex()} --status hired"  # a quoted command
                raise UserError(f"that referral is {referral.status}, not hired: record the hire first (`{record_hire}`)")
        old = row.job
        job = dataclasses.replace(old, version=old.version + 1, status="filled" if filled_by else "closed", filled_by=filled_by)
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

    def update_job(self, job_id: bytes, **changes: Any) -> Job:
        """Publish a new version of an own open job with ``changes`` (title, skills, description, …)."""
        row = self.own_job(job_id)
        if row.job.status != "open":
            raise UserError(f"the job is {row.job.status}: only an open job can be updated; post a new job instead (`orgnode job post`)")
        if "skills" in changes:
            vocabulary = self.vocabulary()
            changes["skills"] = tuple(Skill(s, vocabulary.concept(s).uri) for s in changes["skills"])
        job = self.checked_job(lambda: dataclasses.replace(row.job, version=row.job.version + 1, **changes))
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return job

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
        return consent is not None and consent.in_force(self.clock())

    def candidate_page(self, query: CandidateQuery) -> list[Candidate]:
        """One page of ``candidate list`` with the recruiter's filters, filtered in SQL (storage/candidate_filters.py)."""
        only = CandidateFilter(skill_keys=tuple(tuple(self._skill_keys([skill])) for skill in query.skills),
                               medal=query.medal, consent=query.consent, search=query.search, now=self.clock())
        return self.store.candidates(query.page.limit, query.page.offset, only)

    def _skill_keys(self, skills: list[str] | tuple[str, ...]) -> list[str]:
        """The concept keys a candidate's skills are indexed under (what ``score`` compares)."""
        vocabulary = self.vocabulary()
        self._ensure_skill_index(vocabulary)
        return sorted(vocabulary.keys(skills))

    def _referred_to(self, job_id: bytes, job_author: bytes) -> set[bytes]:
        """Our candidates with a live referral to this job (the rule of ``live_referral``): they are
        not offered for it again, under any pseudonym."""
        return {row.candidate_id for row in self._live_referrals()
                if row.job_id == job_id and row.job_author == job_author and row.candidate_id is not None}

    def _live_referrals(self) -> list[ReferralRow]:
        return [row for row in self.store.referrals() if row.referrer == self.me and row.status not in REFERABLE_AGAIN]

    def match_query_for(self, job_id: bytes) -> tuple[MatchQuery, Job]:
        row = self.own_job(job_id)
        if not row.job.is_offered(self.clock()):
            raise UserError("that job is not open (closed, filled or past its valid-through date): pick an open one from `orgnode job list`")
        statement = self.federation.service.log.get(row.statement_id)
        assert statement is not None
        return MatchQuery(self.random(16), Envelope.of(statement).encode()), row.job

    def record_answer(self, job_id: bytes, answer: MatchAnswer) -> None:
        """Record a holder's offers, in one transaction (one durable commit, not one per offer)."""
        self.record_answers(job_id, [answer])

    def record_answers(self, job_id: bytes, answers: list[MatchAnswer]) -> None:
        """Record the offers of several holders' answers to one query in one transaction and one
        ``executemany`` (a fan-out to 20 partners: one commit, not 20; issue 11 item 1)."""
        now = self.clock()
        with self.store.match_bookkeeping():
            self.store.add_results([(a.query_id, job_id, a.holder, o.pseudonym, o.score, o.matched, now)
                                    for a in answers for o in a.offers])

    def _all_jobs(self, page: int = 1000) -> Iterator[JobRow]:
        """Every job, read a page at a time: 100,000 decoded jobs are never held at once (issue 11)."""
        offset = 0
        while rows := self.store.jobs(limit=page, offset=offset):
            yield from rows
            offset += len(rows)

    def match_candidate(self, candidate_id: bytes) -> list[dict[str, Any]]:
        """Search received (and own) open jobs for one of our candidates, locally."""
        candidate = self.held_candidate(candidate_id)
        vocabulary = self.vocabulary()
        now = self.clock()
        out = []
        referred = {(r.job_id, r.job_author) for r in self._live_referrals() if r.candidate_id == candidate_id}
        for row in self._all_jobs():
            if not row.job.is_offered(now) or (row.job.job_id, row.author) in referred:
                continue  # closed, or the candidate is already referred to it (a second referral is refused)
            result = score([s.label for s in row.job.skills], list(candidate.skills), vocabulary)
            if result.matched:
                view = self.job_view(row)
                view.update(score=result.score, matched=list(result.matched),
                            consent_covers=self.consent_in_force(candidate_id, "refer", row.author, now) is not None)
                view["consent_gap"] = None if view["consent_covers"] else self.consent_gap(candidate_id, "refer", row.author, now)
                out.append(view)
        return sorted(out, key=lambda v: -v["score"])
