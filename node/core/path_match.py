"""Matching across the trust path (issue 13 item 1): our job reached partners of partners through
re-shares; ask those holders too, by a path call (node/core/path_calls.py) sealed end to end to each,
and take their pseudonymous offers, sealed to us, through the partner that leads to them.

The holder applies the same privacy limits as to a partner's query (node/core/match_answers.py):
only a job the asker published and the holder holds (here: re-shared to it), the asker's daily caps,
consent per audience at the moment of answering. Answering is kept out of match_answers.py on purpose
(it only differs in where the asker's keys and job come from).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from node.core.path_calls import HOLDERS_PATH, PathCalls, simple_path
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.jobs import Job
from protocol.match_query import MatchAnswer, MatchQuery
from protocol.path_call import Holder, Holders, HoldersQuery
from protocol.statement import Envelope
from storage.cards import record_org_card
from storage.key_histories import vouched_history

if TYPE_CHECKING:
    from node.core.talent import Talent


# --- the holder's side -----------------------------------------------------------------------------


def register(talent: Talent, calls: PathCalls) -> None:
    """Let path calls with op ``match`` reach this node's talent exchange."""

    async def op(origin: bytes, content: bytes) -> bytes:
        return (await answer_path_match(talent, origin, MatchQuery.decode(content))).encode()

    calls.ops["match"] = op


async def answer_path_match(talent: Talent, asker: bytes, query: MatchQuery) -> MatchAnswer:
    """``answer_match`` for an asker that is not our partner: its job must be one re-shared to us."""
    job_statement = Envelope.decode(query.job_envelope).open_plain()
    if job_statement.author != asker or job_statement.kind != Job.KIND:
        raise RemoteProtocolError(E.BAD_BODY, "a match query must carry a job of the asking organization")
    history = talent.federation.service.log.key_history(asker) or vouched_history(talent.db, asker)
    if history is None:
        raise RemoteProtocolError(E.UNKNOWN_KEY, "the asking organization's keys are not known here")
    history.check_key(job_statement.header.key, job_statement.seq)
    held = talent.federation.service.log.find(job_statement.id)
    if held is None or held.author != asker or held.kind != Job.KIND:
        raise RemoteProtocolError(E.JOB_NOT_HELD, "this node holds no such job statement of yours (re-shared to it): "
                                  "only published jobs that reached this node are matched")
    job = Job.from_value(job_statement.body_value())
    now = talent.clock()
    if talent.store.query_reused(query.query_id, asker, job_statement.id):
        raise RemoteProtocolError(E.BAD_BODY, "this query id was already used for another job: every match query needs a fresh id")
    if not job.is_offered(now):
        return MatchAnswer(query.query_id, talent.me, ())
    labels = [s.label for s in job.skills]
    talent._charge_match_quota(asker, query.query_id, labels, now)
    scored = await talent._score_pool(asker, query, job_statement.id, labels, now, job.job_id)
    with talent.store.match_bookkeeping():
        talent.store.add_offers([(query.query_id, offer.pseudonym, candidate_id, job.job_id, asker, job_statement.id, now)
                                 for offer, candidate_id in scored])
    log_event("match.path-answered", asker=asker, offers=len(scored))
    return MatchAnswer(query.query_id, talent.me, tuple(offer for offer, _ in scored))


# --- the asker's side ------------------------------------------------------------------------------


async def find_holders(talent: Talent, calls: PathCalls, job_statement_id: bytes, hops: int) -> dict[bytes, Holder]:
    """Who holds our job beyond our partners, each with the first path found to it (partners asked in parallel)."""
    if hops < 2:
        return {}
    peers = talent.federation.peers.trusted()
    query = HoldersQuery(job_statement_id, hops - 1).encode()
    answers = await asyncio.gather(*(calls._post(p.node_id, HOLDERS_PATH, query) for p in peers), return_exceptions=True)
    found: dict[bytes, Holder] = {}
    for peer, answer in zip(peers, answers, strict=True):
        if isinstance(answer, BaseException):
            continue
        try:
            holders = Holders.decode(answer).holders
        except ProtocolError:
            continue
        for holder in holders:
            target = holder.path[-1]
            if (holder.path[0] != peer.node_id or target == talent.me or talent.federation.peers.is_trusted(target)
                    or talent.me in holder.path or not simple_path(holder.path)):
                continue
            found.setdefault(target, holder)
    return found


async def ask_holder(talent: Talent, calls: PathCalls, job_id: bytes, query: MatchQuery, holder: Holder) -> tuple[VerifiedCard, MatchAnswer]:
    """One path call: verify the holder's card, call it, check and record its answer, and remember the
    way to it (the partner first on the path), so a referral request can be relayed the same way."""
    card = verify_bundle(holder.card_bundle, expected_node_id=holder.path[-1])
    content = await calls.call(card, job_id, holder.path, "match", query.encode())
    answer = MatchAnswer.decode(content)
    if answer.query_id != query.query_id or answer.holder != card.node_id:
        raise RemoteProtocolError(E.BAD_BODY, "answer is for another query or from another node")
    now = talent.clock()
    with talent.db.atomic():
        record_org_card(talent.db, card.statement, now)  # its name and sealing keys, for the referral request
        calls.relays.store.learn_verified(card.node_id, holder.path[0], now)
    talent.record_answer(job_id, answer)
    return card, answer


async def ask_path(talent: Talent, calls: PathCalls, job_id: bytes, query: MatchQuery, job: Job,
                   deadline: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Offers and a per-holder report from every organization beyond our partners that holds the job,
    within ``deadline`` seconds (holders not answered by then are reported, the rest kept)."""
    loop = asyncio.get_running_loop()
    until = loop.time() + deadline
    row = talent.own_job(job_id)
    try:
        holders = await asyncio.wait_for(find_holders(talent, calls, row.statement_id, job.hops), deadline)
    except TimeoutError:
        return [], [{"node_id": "", "name": "organizations beyond your partners", "via": [], "answered": False,
                     "error": "deadline passed while finding who holds the job"}]
    tasks = {node: asyncio.create_task(ask_holder(talent, calls, job_id, query, h)) for node, h in holders.items()}
    if tasks:
        await asyncio.wait(tasks.values(), timeout=max(0.0, until - loop.time()))
    results: list[dict[str, Any]] = []
    report: list[dict[str, Any]] = []
    for node, task in tasks.items():
        via = [{"node_id": hop.hex(), "name": talent.org_name(hop)} for hop in holders[node].path[:-1]]
        entry: dict[str, Any] = {"node_id": node.hex(), "via": via}
        if not task.done():
            task.cancel()
            report.append({**entry, "name": _claimed_name(holders[node]), "answered": False, "error": "deadline passed"})
            continue
        try:
            card, answer = task.result()
        except ProtocolError as exc:
            report.append({**entry, "name": _claimed_name(holders[node]), "answered": False, "error": f"{exc.code}: {exc}"[:200]})
            continue
        report.append({**entry, "name": card.card.name, "answered": True, "offers": len(answer.offers)})
        results.extend({"pseudonym": o.pseudonym.hex(), "holder": node.hex(), "holder_name": card.card.name,
                        "score": o.score, "matched": list(o.matched), "via": via} for o in answer.offers)
    return results, report


def _claimed_name(holder: Holder) -> str | None:
    """The name in a holder's self-signed card, for the report of one that did not answer."""
    try:
        return verify_bundle(holder.card_bundle, expected_node_id=holder.path[-1]).card.name
    except ProtocolError:
        return None
