"""The match fan-out use case: ask every trusted partner, in parallel and within a deadline, for
pseudonymous offers for one of our jobs, and record what came back; with ``paths``, also every
organization beyond our partners that our re-shared job reached (node/core/path_match.py), each offer
saying which partners it came through (``via``). The CLI's admin route, the demo
and the coming dashboard all call this; the HTTP client is passed in.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from node.core.errors import PeerUnavailable
from node.core.path_match import ask_path
from node.core.talent import Talent
from protocol.errors import ProtocolError
from protocol.match_query import MatchAnswer

if TYPE_CHECKING:
    from node.core.path_calls import PathCalls
    from node.http.client import FederationClient

MATCH_PATH = "/federation/v1/match"
MATCH_DEADLINE = 10.0


async def ask_peers(talent: Talent, client: FederationClient, job_id: bytes, deadline: float = MATCH_DEADLINE,
                    paths: PathCalls | None = None) -> dict[str, Any]:
    """Ask every trusted peer in parallel (and, with ``paths``, the holders beyond them); whoever has
    not answered by ``deadline`` is reported as such."""
    query, job = talent.match_query_for(job_id)
    path_task = asyncio.create_task(ask_path(talent, paths, job_id, query, job, deadline)) if paths is not None else None
    peers = talent.federation.peers.trusted()

    async def ask(peer_id: bytes, url: str) -> MatchAnswer:
        answer = await client.post(url, MATCH_PATH, peer_id, query.encode())
        if answer.status != 200:
            raise PeerUnavailable(answer.error_code or f"HTTP {answer.status}")
        decoded = MatchAnswer.decode(answer.body)
        if decoded.query_id != query.query_id or decoded.holder != peer_id:
            raise PeerUnavailable("answer is for another query or from another node")
        return decoded

    tasks = {p.node_id: asyncio.create_task(ask(p.node_id, p.url)) for p in peers}
    _done, pending = await asyncio.wait(tasks.values(), timeout=deadline) if tasks else (set(), set())
    results: list[dict[str, Any]] = []
    peers_report: list[dict[str, Any]] = []
    answers: list[MatchAnswer] = []
    for peer_id, task in tasks.items():
        name = talent.org_name(peer_id)
        if task in pending:
            task.cancel()
            peers_report.append({"node_id": peer_id.hex(), "name": name, "answered": False, "error": "deadline passed"})
            continue
        try:
            answer = task.result()
        except (PeerUnavailable, ProtocolError) as exc:
            peers_report.append({"node_id": peer_id.hex(), "name": name, "answered": False, "error": str(exc)[:200]})
            continue
        answers.append(answer)
        peers_report.append({"node_id": peer_id.hex(), "name": name, "answered": True, "offers": len(answer.offers)})
        for offer in answer.offers:
            results.append({"pseudonym": offer.pseudonym.hex(), "holder": peer_id.hex(), "holder_name": name,
                            "score": offer.score, "matched": list(offer.matched), "via": []})
    talent.record_answers(job_id, answers)  # one transaction for every partner's offers
    if path_task is not None:
        path_results, path_report = await path_task
        results.extend(path_results)
        peers_report.extend(path_report)
    results.sort(key=lambda r: -r["score"])
    return {"job_id": job_id.hex(), "title": job.title, "query_id": query.query_id.hex(), "results": results,
            "peers": peers_report, "partial": any(not p["answered"] for p in peers_report)}
