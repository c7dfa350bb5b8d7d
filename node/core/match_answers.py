"""Answering a partner's match query: score our consented pool from the skill index, pseudonyms and
scores only. A mixin of ``Talent`` (node/core/talent.py), apart because it is the one privacy-critical
read path over the whole pool: only jobs the asker published are matched, each asker has daily caps,
consent is checked per audience at the moment of answering, and the event loop runs between steps.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from node.core.limits import DAY_MS, MatchQuota
from node.core.skill_bitmaps import Ranked, SkillBitmaps
from node.logs import log_event
from protocol import errors as E
from protocol.errors import RemoteProtocolError
from protocol.jobs import Job
from protocol.match_query import MAX_OFFERS, MatchAnswer, MatchQuery, Offer, pseudonym
from protocol.matching import Vocabulary, normalise
from protocol.statement import Envelope, Statement

if TYPE_CHECKING:
    from node.core.clock import Clock
    from node.core.federation import Federation
    from storage.talent import TalentStore

MATCH_THRESHOLD = 1  # a candidate must match at least one requirement to be offered
OFFER_TTL_MS = 30 * 86_400_000  # how long a pseudonym can still be resolved for a referral request
CONSENT_BATCH = 500  # ranked candidates whose consents are read in one query, at most
FIRST_CONSENT_BATCH = 64  # the first batch: usually enough for MAX_OFFERS, a few milliseconds


class MatchAnswers:
    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py)
        federation: Federation
        store: TalentStore
        vocabulary: Callable[[], Vocabulary]
        match_quota: MatchQuota
        match_chunk: int
        _skill_index_for: str | None
        _bitmaps: SkillBitmaps | None
        _bitmaps_lock: asyncio.Lock

        @property
        def clock(self) -> Clock: ...

        @property
        def me(self) -> bytes: ...

        @property
        def db(self) -> Any: ...

        def _pseudonym_key(self) -> bytes: ...

        def org_sector(self, node_id: bytes) -> str | None: ...

        def _referred_to(self, job_id: bytes, job_author: bytes) -> set[bytes]: ...

    # --- matching --------------------------------------------------------------------------------

    async def answer_match(self, asker: bytes, query: MatchQuery) -> MatchAnswer:
        """Score our consented pool for the asker's job; only pseudonyms, scores and job labels go back.

        Only a job the asker really published (a statement of its log that we hold) is answered, and
        each asker has a daily budget of distinct queries and labels: a partner cannot sign made-up
        probe jobs with long skill lists to reconstruct candidates' skill sets (issue 8 item 9)."""
        job_statement = Envelope.decode(query.job_envelope).open_plain()
        if job_statement.author != asker or job_statement.kind != Job.KIND:
            raise RemoteProtocolError(E.BAD_BODY, "a match query must carry a job of the asking organization")
        self.federation.service.log.key_history(asker).check_key(job_statement.header.key, job_statement.seq)  # type: ignore[union-attr]
        self._require_published(asker, job_statement)
        job = Job.from_value(job_statement.body_value())
        now = self.clock()
        if self.store.query_reused(query.query_id, asker, job_statement.id):
            raise RemoteProtocolError(E.BAD_BODY, "this query id was already used for another job: every match query needs a fresh id")
        if not job.is_offered(now):
            return MatchAnswer(query.query_id, self.me, ())
        labels = [s.label for s in job.skills]
        self._charge_match_quota(asker, query.query_id, labels, now)
        scored = await self._score_pool(asker, query, job_statement.id, labels, now, job.job_id)
        with self.store.match_bookkeeping():
            self.store.prune_offers(now - OFFER_TTL_MS)
            self.store.add_offers([(query.query_id, offer.pseudonym, candidate_id, job.job_id, asker, job_statement.id, now)
                                   for offer, candidate_id in scored])
        return MatchAnswer(query.query_id, self.me, tuple(offer for offer, _ in scored))

    def _require_published(self, asker: bytes, job_statement: Statement) -> None:
        """The job must be this very statement of the asker's log, as we received it by sync: a job
        signed only for the query (never published) is refused."""
        held = self.federation.service.log.get(job_statement.id)
        if held is None or held.author != asker or held.kind != Job.KIND:
            raise RemoteProtocolError(E.JOB_NOT_HELD, "this node holds no such job statement of yours: only jobs published "
                                      "in your log (and synced here) are matched; retry once it has synced")

    def _charge_match_quota(self, asker: bytes, query_id: bytes, labels: list[str], now: int) -> None:
        """Count this query against the asker's daily caps, or refuse it (nothing is counted then)."""
        day = now // DAY_MS
        queries, seen = self.store.match_usage(asker, day)
        folded = sorted({label.casefold() for label in labels})
        if query_id not in queries and len(queries) >= self.match_quota.queries:
            raise RemoteProtocolError(E.MATCH_QUOTA, f"at most {self.match_quota.queries} match queries a day per partner; "
                                      "try again tomorrow (UTC)")
        if len(seen | set(folded)) > self.match_quota.labels:
            raise RemoteProtocolError(E.MATCH_QUOTA, f"at most {self.match_quota.labels} distinct requirement labels a day "
                                      "per partner; try again tomorrow (UTC)")
        with self.store.match_bookkeeping():
            self.store.record_match_usage(asker, day, query_id, folded)

    async def _score_pool(self, asker: bytes, query: MatchQuery, job_statement_id: bytes, labels: list[str],
                          now: int, job_id: bytes) -> list[tuple[Offer, bytes]]:
        """The best ``MAX_OFFERS`` consented candidates for the job's labels, from the skill index.

        The answer is the one the old scan gave (score descending, then oldest candidate first; ties
        on the same millisecond by the order they were recorded in, their row id). The in-memory index (node/core/skill_bitmaps.py)
        ranks lazily, best first; candidates are checked for consent in batches as they come, and
        the ranking stops once ``MAX_OFFERS`` are consented: no candidate after that can beat them."""
        vocabulary = self.vocabulary()
        self._ensure_skill_index(vocabulary)
        wanted = [(label, vocabulary.concept(label).key) for label in labels if normalise(label)]
        if not wanted:
            return []
        index = await self._skill_bitmaps(vocabulary.fingerprint)
        return await self._consented_offers(index.ranked(dict(Counter(key for _, key in wanted))), wanted, asker, query,
                                            job_statement_id, now, job_id)

    async def _skill_bitmaps(self, fingerprint: str) -> SkillBitmaps:
        """The in-memory skill index, current with every committed change: built a page at a time
        (the event loop runs between pages) on first use, after a vocabulary change or when it has
        grown wasteful, then brought up to date from the change records (migration 026)."""
        async with self._bitmaps_lock:
            index = self._bitmaps
            if index is None or index.fingerprint != fingerprint or index.stale():
                index = SkillBitmaps(fingerprint, self.store.candidate_changes_head())
                after: tuple[int, int] | None = None
                while page := self.store.index_page(after, self.match_chunk):
                    for candidate_id, created_at, rowid, keys in page:
                        index.put(candidate_id, created_at, rowid, keys)
                    after = (page[-1][1], page[-1][2])
                    await asyncio.sleep(0)  # let /health, pushes and the admin socket run between pages
                self.store.forget_candidate_changes(index.seq)  # the build read everything up to it
                self._bitmaps = index
            while changes := self.store.candidate_changes(index.seq, self.match_chunk):
                ids = list(dict.fromkeys(cid for _, cid in changes))
                current = self.store.index_entries(ids)
                for cid in ids:
                    if cid in current:
                        index.put(cid, *current[cid])
                    else:
                        index.remove(cid)
                index.seq = changes[-1][0]
                self.store.forget_candidate_changes(index.seq)
                await asyncio.sleep(0)
            return index

    async def _consented_offers(self, ranked: Iterator[Ranked], wanted: list[tuple[str, str]],
                                asker: bytes, query: MatchQuery, job_statement_id: bytes, now: int,
                                job_id: bytes) -> list[tuple[Offer, bytes]]:
        """The first ``MAX_OFFERS`` ranked candidates whose consent covers matching for the asker, as
        offers, in order; consents are read a batch at a time (growing) and ranking stops there."""
        key = self._pseudonym_key()
        referred = self._referred_to(job_id, asker)
        sector = self.org_sector(asker)  # once per query, not once per candidate
        offers: list[tuple[Offer, bytes]] = []
        size = FIRST_CONSENT_BATCH
        earlier = 0  # offers whose consent was read before the last await
        while True:
            earlier = len(offers)
            batch = [r for r in itertools.islice(ranked, size) if r[2] not in referred]
            if not batch:
                break
            consents = self.store.consents_of([r[2] for r in batch])
            for _weight, _at, candidate_id, keys in batch:
                if not any(row.covers("match", asker, sector, now) for row in consents[candidate_id]):
                    continue
                matched = tuple(label for label, k in wanted if k in keys)
                if len(matched) < MATCH_THRESHOLD:
                    continue
                alias = pseudonym(key, asker, query.query_id, job_statement_id, candidate_id)
                offers.append((Offer(alias, round(100 * len(matched) / len(wanted)), matched), candidate_id))
                if len(offers) == MAX_OFFERS:
                    break
            if len(offers) == MAX_OFFERS:
                break
            size = min(CONSENT_BATCH, size * 4)
            await asyncio.sleep(0)
        return self._still_consented(offers[:earlier], asker, now) + offers[earlier:]

    def _still_consented(self, offers: list[tuple[Offer, bytes]], asker: bytes, now: int) -> list[tuple[Offer, bytes]]:
        """Drop an offer whose consent ended (or candidate was erased) while the match ran."""
        sector = self.org_sector(asker)
        consents = self.store.consents_of([cid for _, cid in offers])
        return [(o, cid) for o, cid in offers if any(row.covers("match", asker, sector, now) for row in consents[cid])]

    def _ensure_skill_index(self, vocabulary: Vocabulary) -> None:
        """Build the skill index if it was never built or was built with another vocabulary (its keys
        would be stale): once, after the migration or an upgrade of the vocabulary data."""
        if self._skill_index_for == vocabulary.fingerprint:
            return
        if self.store.skill_index_vocabulary() != vocabulary.fingerprint:
            with self.db.atomic():
                count = self.store.rebuild_skill_index(vocabulary.fingerprint, vocabulary.keys)
            log_event("skills.reindexed", candidates=count)
        self._skill_index_for = vocabulary.fingerprint
