"""Matching over the skill index answers exactly what the old per-candidate scan answered, and a large
match never holds the holder's event loop (issue 11 item 1).

The reference below is the pre-index algorithm, kept verbatim in spirit: every held candidate in
``created_at`` order, its consents read one by one, ``protocol.matching.score`` per candidate, a
stable sort by score, the first ``MAX_OFFERS``. Pseudonyms are derived deterministically from the
holder's key, the asker, the query id, the job statement and the candidate, so the two answers are
compared offer by offer: pseudonym, score and matched labels, in order.
"""

from __future__ import annotations

import asyncio
import os
import random
import sqlite3

import aiohttp
import pytest

from node.core.match_answers import MATCH_THRESHOLD
from node.runtime import NodeRuntime
from protocol.match_query import MAX_OFFERS, MatchAnswer, MatchQuery, Offer, pseudonym
from protocol.matching import Vocabulary, score
from protocol.statement import Envelope
from tests.node.federation_helpers import FakeClock, Net, pair, signed_post, wait_until

MATCH = "/federation/v1/match"
DAY = 86_400_000
SKILLS = ["python", "Python programming", "forklift", "excel", "cooking", "welding", "first aid", "youth work",
          "project management", "javascript", "js", "bookkeeping", "knitting", "beekeeping", "Café service", "C++"]
SCOPES = ["all", "sector:company", "sector:nonprofit", "NODE", "all", "all"]


def reference_offers(holder: NodeRuntime, asker: bytes, query_id: bytes, job_statement_id: bytes, labels: list[str],
                     job_id: bytes, now: int) -> list[Offer]:
    """The old ``Talent._score_pool``: a scan of every candidate with a consent query each."""
    talent = holder.talent
    vocabulary = talent.vocabulary()
    key = talent._pseudonym_key()
    referred = talent._referred_to(job_id, asker)
    sector = talent.org_sector(asker)
    scored: list[Offer] = []
    for candidate in talent.store.candidates():
        if candidate.candidate_id in referred:
            continue
        if not any(row.covers("match", asker, sector, now) for row in talent.store.consents(candidate.candidate_id)):
            continue
        result = score(labels, list(candidate.skills), vocabulary)
        if len(result.matched) < MATCH_THRESHOLD:
            continue
        scored.append(Offer(pseudonym(key, asker, query_id, job_statement_id, candidate.candidate_id), result.score, result.matched))
    scored.sort(key=lambda offer: -offer.score)
    return scored[:MAX_OFFERS]


async def fill_pool(holder: NodeRuntime, corp: NodeRuntime, clock: FakeClock, n: int, seed: int) -> None:
    """``n`` candidates with varied skills and consents: none, refer only, every scope form, expired,
    withdrawn, renewed, erased. Each one a millisecond after the last (a stable order)."""
    rng = random.Random(seed)
    talent = holder.talent
    for i in range(n):
        clock.advance(1)
        skills = rng.sample(SKILLS, rng.randint(1, 5))
        kind = rng.randrange(10)
        consent: list[str] | None = None if kind == 0 else (["refer"] if kind == 1 else ["match", "refer"])
        scope = SCOPES[rng.randrange(len(SCOPES))].replace("NODE", "node:" + corp.service.node_id.hex())
        expires = clock() + DAY if kind == 2 else None  # expires before the match
        candidate, _ = talent.add_candidate(name=f"Person {i}", email=f"p{i}@example.org", skills=skills, consent=consent,
                                            consent_scope=scope if consent else "", consent_expires=expires,
                                            consent_evidence="form" if consent else "")
        if kind == 3:
            talent.withdraw_consent(candidate.candidate_id)
        elif kind == 4 and rng.random() < 0.5:
            talent.withdraw_consent(candidate.candidate_id)
            talent.give_consent(candidate.candidate_id, ["match"], "all", None, "renewed by phone")
        elif kind == 5 and rng.random() < 0.3:
            talent.erase_candidate(candidate.candidate_id)


async def holder_and_corp(net: Net, sector: str = "company") -> tuple[NodeRuntime, NodeRuntime, FakeClock]:
    holder = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind", sector=sector)
    await pair(holder, corp)
    clock = FakeClock()
    holder.service.clock = clock
    return holder, corp, clock


async def job_envelope(holder: NodeRuntime, corp: NodeRuntime, skills: list[str]) -> tuple[bytes, bytes, bytes]:
    job = corp.talent.post_job(title="Warehouse lead", skills=skills)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="job at the holder")
    row = corp.talent.store.job(job.job_id)
    statement = corp.service.log.get(row.statement_id)
    assert statement is not None
    return Envelope.of(statement).encode(), statement.id, job.job_id


async def ask(holder: NodeRuntime, corp: NodeRuntime, envelope: bytes, query_id: bytes) -> MatchAnswer:
    answer = await signed_post(holder, MATCH, MatchQuery(query_id, envelope).encode(), corp.service.identity)
    assert answer.status == 200, answer.body
    return MatchAnswer.decode(answer.body)


def as_tuples(offers: list[Offer] | tuple[Offer, ...]) -> list[tuple[bytes, int, tuple[str, ...]]]:
    return [(o.pseudonym, o.score, tuple(o.matched)) for o in offers]


async def test_indexed_match_answers_the_same_offers_as_the_scan(net):
    holder, corp, clock = await holder_and_corp(net)
    await fill_pool(holder, corp, clock, 320, seed=11)
    clock.advance(2 * DAY)  # the expiring consents have lapsed
    talent = holder.talent
    jobs = [["Python", "python programming", "Excel", "forklift", "first aid"],  # two labels, one concept
            ["knitting", "beekeeping"],  # a small pool: fewer than MAX_OFFERS
            ["C++", "js", "youth work", "welding", "cooking"],
            ["underwater basket weaving"]]  # nobody
    sizes = []
    for skills in jobs:
        envelope, statement_id, job_id = await job_envelope(holder, corp, skills)
        query_id = os.urandom(16)
        expected = reference_offers(holder, corp.service.node_id, query_id, statement_id, skills, job_id, clock())
        got = await ask(holder, corp, envelope, query_id)
        assert as_tuples(got.offers) == as_tuples(expected), skills
        sizes.append(len(expected))
    assert sizes[0] == MAX_OFFERS and 0 < sizes[1] < MAX_OFFERS and sizes[3] == 0, sizes  # the data set reaches every case
    # Correcting a candidate's skills and erasing one move the index with them.
    first = next(c for c in talent.store.candidates() if talent.consent_in_force(c.candidate_id, "match", corp.service.node_id, clock()))
    talent.update_candidate(first.candidate_id, {"skills": ["underwater basket weaving"]})
    envelope, statement_id, job_id = await job_envelope(holder, corp, ["underwater basket weaving"])
    query_id = os.urandom(16)
    expected = reference_offers(holder, corp.service.node_id, query_id, statement_id, ["underwater basket weaving"],
                                job_id, clock())
    assert as_tuples((await ask(holder, corp, envelope, query_id)).offers) == as_tuples(expected)
    assert any(o.score == 100 for o in expected), "the corrected candidate is found by its new skills"
    talent.erase_candidate(first.candidate_id)
    query_id = os.urandom(16)
    expected = reference_offers(holder, corp.service.node_id, query_id, statement_id, ["underwater basket weaving"],
                                job_id, clock())
    assert as_tuples((await ask(holder, corp, envelope, query_id)).offers) == as_tuples(expected)
    assert not any(o.score == 100 for o in expected), "the erased candidate is gone"


async def test_health_answers_while_a_large_match_runs(net):
    holder, corp, clock = await holder_and_corp(net)
    talent = holder.talent
    for i in range(400):
        clock.advance(1)
        talent.add_candidate(name=f"Person {i}", email=f"p{i}@example.org", skills=["forklift", "excel"], consent=["match"],
                             consent_scope="all", consent_evidence="form")
    envelope, _statement_id, _job_id = await job_envelope(holder, corp, ["forklift"])
    talent.match_chunk = 1  # one candidate a page while the match builds its index: hundreds of steps
    query_id = os.urandom(16)
    match = asyncio.create_task(ask(holder, corp, envelope, query_id))
    # The holder charges the query to the asker's quota (committed) before it scores the pool: from
    # then on the match is running. The old scan then ran to the end without giving the loop back.
    day = clock() // DAY
    await wait_until(lambda: query_id in talent.store.match_usage(corp.service.node_id, day)[0], interval=0, what="match started")
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{holder.port}/health") as resp:
            assert resp.status == 200
    assert not match.done() and not _offers_written(holder, query_id), \
        "/health answered only after the match had finished: the match held the event loop"
    answer = await match
    assert len(answer.offers) == MAX_OFFERS  # positive control: the match completed and found people
    assert _offers_written(holder, query_id)
    # The bookkeeping was committed without its own fsync; everything after it is durable again.
    assert holder.service.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def _offers_written(holder: NodeRuntime, query_id: bytes) -> bool:
    return any(row.query_id == query_id for c in holder.talent.store.candidates() for row in holder.talent.store.offers_of(c.candidate_id))


async def test_the_index_is_rebuilt_when_the_vocabulary_changes(net):
    holder, corp, clock = await holder_and_corp(net)
    await fill_pool(holder, corp, clock, 80, seed=5)
    skills = ["Python programming", "js", "forklift"]
    envelope, statement_id, job_id = await job_envelope(holder, corp, skills)
    before = await ask(holder, corp, envelope, os.urandom(16))
    # Another vocabulary (here: none, labels match as text): "js" no longer means JavaScript, so an
    # index left with the old concept keys would offer people this vocabulary does not match.
    holder.talent.vocabulary = Vocabulary
    query_id = os.urandom(16)
    expected = reference_offers(holder, corp.service.node_id, query_id, statement_id, skills, job_id, clock())
    got = await ask(holder, corp, envelope, query_id)
    assert as_tuples(got.offers) == as_tuples(expected)
    assert sorted(o.score for o in got.offers) != sorted(o.score for o in before.offers), "the vocabulary change mattered"


async def test_early_termination_at_the_kth_score_answers_what_the_scan_answers(net):
    """The ranking stops once MAX_OFFERS are consented. Its boundary: more than MAX_OFFERS candidates
    tie at the K-th score, several in one millisecond (decided by id), the best and oldest have no
    consent (gaps at the top), and after the index was built candidates are added out of order (a
    clock set back), corrected (keeping their created_at), erased, and a refused import row rolled back."""
    holder, corp, clock = await holder_and_corp(net)
    talent = holder.talent
    for i in range(130):
        if i % 5 == 0:
            clock.advance(1)  # five candidates a millisecond: ties on created_at, ordered by id
        both = i < 80
        gap = i < 12 or i % 7 == 0  # the oldest of the best, and some after, give no consent to matching
        talent.add_candidate(name=f"Person {i}", email=f"p{i}@example.org", skills=["forklift", "excel"] if both else ["forklift"],
                             consent=None if gap else ["match"], consent_scope="" if gap else "all",
                             consent_evidence="" if gap else "form")
    skills = ["forklift", "excel"]
    envelope, statement_id, job_id = await job_envelope(holder, corp, skills)

    async def same_as_scan() -> tuple[list[Offer], bytes]:
        query_id = os.urandom(16)
        expected = reference_offers(holder, corp.service.node_id, query_id, statement_id, skills, job_id, clock())
        assert as_tuples((await ask(holder, corp, envelope, query_id)).offers) == as_tuples(expected)
        return expected, query_id

    expected, _ = await same_as_scan()
    consented_best = [c for c in talent.store.candidates() if "excel" in c.skills
                      and talent.consent_in_force(c.candidate_id, "match", corp.service.node_id, clock())]
    assert len(expected) == MAX_OFFERS and len(consented_best) > MAX_OFFERS and expected[-1].score == 100, \
        "the K-th offer ties with candidates left out: the boundary is reached"
    assert talent._bitmaps is not None and len(talent._bitmaps) == 130  # the index was built by that match
    # Changes after the build reach the index from the change records.
    clock.advance(-50)  # a clock set back: these are older than the newest held
    for i in range(3):
        talent.add_candidate(name=f"Late {i}", email=f"late{i}@example.org", skills=["excel", "forklift"], consent=["match"],
                             consent_scope="all", consent_evidence="form")
    clock.advance(60)
    held = talent.store.candidates()
    talent.update_candidate(held[20].candidate_id, {"skills": ["cooking"]})  # out of the best
    talent.update_candidate(held[100].candidate_id, {"skills": ["excel", "forklift", "cooking"]})  # into it, kept its age
    talent.erase_candidate(held[13].candidate_id)
    with pytest.raises(sqlite3.IntegrityError), holder.service.db.atomic():
        talent.add_candidate(name="Rolled back", email="rb@example.org", skills=["excel", "forklift"], consent=["match"],
                             consent_scope="all", consent_evidence="form")
        holder.service.db.execute("INSERT INTO candidates (candidate_id) VALUES (NULL)")  # fails: the add is undone
    expected, query_id = await same_as_scan()
    late = [c for c in talent.store.candidates() if c.name.startswith("Late")]
    offered = {o.pseudonym for o in expected}
    assert late and all(pseudonym(talent._pseudonym_key(), corp.service.node_id, query_id, statement_id, c.candidate_id)
                        in offered for c in late), "the candidates added after the build are found, oldest first"
    assert len(talent._bitmaps.disorder) >= 2, "the late and corrected candidates took the out-of-order path"
    assert talent.store.candidate_changes(0, 10) == [], "applied change records are deleted"
