"""HTTP surfaces of the talent exchange: the federation ``/match`` endpoint and the admin routes the
CLI uses for jobs, candidates, consent, matching and referrals (the match fan-out is node/core/matching.py).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from node.core import requests as R
from node.core.errors import UserError
from node.core.matching import MATCH_PATH, ask_peers
from node.core.talent import Talent
from node.formats.posting import job_to_jsonld
from node.http import federation_api
from node.http.admin_api import CTX, read
from node.http.part import Part
from node.http.path_api import PATHS
from protocol.match_query import MatchQuery
from storage.cards import CardStore

MSGPACK = "application/msgpack"

TALENT = web.AppKey("talent", Talent)


# --- federation side -------------------------------------------------------------------------------


async def match_endpoint(request: web.Request) -> web.Response:
    origin, body = await federation_api.authenticate(request)
    talent = request.app[TALENT]
    answer = await talent.answer_match(origin, MatchQuery.decode(body))  # a bad query is a RemoteProtocolError
    return web.Response(body=answer.encode(), content_type=MSGPACK)


# --- admin side ------------------------------------------------------------------------------------


async def job_post(request: web.Request) -> web.Response:
    req = await read(request, R.JobPost.from_json)
    job = request.app[TALENT].post_job(**req.core_args())
    return web.json_response({"id": job.job_id.hex(), "version": job.version})


async def job_update(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.JobUpdate.from_json)
    job = talent.update_job(talent.resolve(req.id, "JOB_ID"), **dict(req.changes))
    return web.json_response({"id": job.job_id.hex(), "version": job.version})


async def job_import(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.JobImport.from_json)
    # A bad JobPosting is the input file's fault: JobPostingError is a RemoteProtocolError (malformed).
    imported, replaced = talent.import_posting(req.jsonld, page=req.html, hops=req.hops, skills=req.skills, update=req.update)
    job = imported.job
    return web.json_response({"id": job.job_id.hex(), "title": job.title, "version": job.version, "updated": replaced is not None,
                              "skills": [s.label for s in job.skills], "kept": list(imported.kept),
                              "ignored": list(imported.ignored)})


async def job_export(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    row = talent.store.job(talent.resolve((await read(request, R.Ref.from_json)).id, "JOB_ID"))
    if row is None:
        raise UserError("no such job here (see `orgnode job list`)")
    card = CardStore(talent.db).declared(row.author)
    name, url = (card.name, card.url) if card else ("unknown", "")
    return web.json_response(job_to_jsonld(row.job, org_name=name, org_url=url, node_id_hex=row.author.hex()))


async def job_list(request: web.Request) -> web.Response:
    req = await read(request, R.JobList.from_json)
    return web.json_response(request.app[TALENT].list_jobs(mine=req.mine, limit=req.page.limit, offset=req.page.offset,
                                                           id_prefix=req.id_prefix))


async def job_close(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.JobClose.from_json)
    filled_by = talent.resolve(req.filled_by, "REFERRAL_ID") if req.filled_by else None
    job_id = talent.resolve(req.id, "JOB_ID")
    before = talent.own_job(job_id).job.version
    job = talent.close_job(job_id, filled_by)
    return web.json_response({"id": job.job_id.hex(), "status": job.status, "version": job.version,
                              "already_closed": job.version == before})


async def job_match_candidate(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.Ref.from_json)
    return web.json_response(talent.match_candidate(talent.find_candidate(req.id).candidate_id))


async def candidate_add(request: web.Request) -> web.Response:
    req = await read(request, R.CandidateAdd.from_json)
    candidate, consent_row = request.app[TALENT].add_candidate(**req.core_args())
    return web.json_response({"id": candidate.candidate_id.hex(), "consent_id": consent_row.consent_id.hex() if consent_row else None})


async def candidate_import(request: web.Request) -> web.Response:
    # Decoding and checking up to 5,000 rows' fields is pure work: in a worker thread, beside the batch being stored.
    rows = await read(request, _import_rows, off_loop=True)
    return web.json_response({"results": await request.app[TALENT].import_candidates_async(rows)})


def _import_rows(body: dict[str, Any]) -> list[tuple[int, dict[str, Any] | None, UserError | None]]:
    """A ``POST /candidates/import`` body as ``Talent.import_candidates`` rows (each row's arguments, or its error)."""
    return [(r.row, r.add.core_args() if r.add else None, r.error) for r in R.CandidateImport.from_json(body).rows]


async def candidate_update(request: web.Request) -> web.Response:
    """Correct a candidate's fields; only the fields given change ("" clears an optional one)."""
    talent = request.app[TALENT]
    req = await read(request, R.CandidateUpdate.from_json)
    changes = dict(req.changes)
    candidate = talent.update_candidate(talent.find_candidate(req.id).candidate_id, changes)
    return web.json_response({"id": candidate.candidate_id.hex(), "changed": sorted(changes),
                              "recipients_with_earlier_copy": len(talent.store.disclosures(candidate.candidate_id))})


async def consent_give(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.ConsentGive.from_json)
    c = req.consent
    row = talent.give_consent(talent.find_candidate(req.id).candidate_id, list(c.purposes), c.scope, c.expires, c.evidence)
    return web.json_response({"id": row.candidate_id.hex(), "consent_id": row.consent_id.hex(), "purposes": list(row.purposes),
                              "scope": list(row.scope), "expires_at": row.expires_at})


async def candidate_erase(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.Ref.from_json)
    return web.json_response(talent.erase_candidate(talent.find_candidate(req.id).candidate_id))


async def candidate_report(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.Ref.from_json)
    return web.json_response(talent.candidate_report(talent.find_candidate(req.id)))


async def candidate_list(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    query = R.CandidateQuery.from_query(request.query)
    return web.json_response(talent.candidate_views(talent.candidate_page(query)))


async def consent_withdraw(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.Ref.from_json)
    return web.json_response(talent.withdraw_consent(talent.find_candidate(req.id).candidate_id))


async def match(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    req = await read(request, R.MatchRequest.from_json)
    talent = request.app[TALENT]
    return web.json_response(await ask_peers(talent, ctx.client, talent.resolve(req.id, "JOB_ID"), req.deadline,
                                             paths=request.app.get(PATHS)))


async def referral_request(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralRequestCreate.from_json)
    talent = request.app[TALENT]
    return web.json_response(talent.request_referral(talent.resolve(req.job_id, "JOB_ID"), talent.resolve(req.pseudonym, "PSEUDONYM")))


async def referral_list(request: web.Request) -> web.Response:
    return web.json_response(request.app[TALENT].list_referrals())


async def referral_pending(request: web.Request) -> web.Response:
    return web.json_response(request.app[TALENT].pending_requests())


async def referral_approve(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralAnswer.approve)
    talent = request.app[TALENT]
    return web.json_response(talent.approve_request(talent.resolve(req.id, "REQUEST_ID"), req.text))


async def referral_decline(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralAnswer.decline)
    talent = request.app[TALENT]
    return web.json_response(talent.decline_request(talent.resolve(req.id, "REQUEST_ID"), req.text))


async def referral_update(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralUpdate.from_json)
    talent = request.app[TALENT]
    return web.json_response(talent.update_referral(talent.resolve(req.id, "REFERRAL_ID"), req.status, req.reason))


async def referral_correct(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralCorrect.from_json)
    talent = request.app[TALENT]
    return web.json_response(talent.correct_referral(talent.resolve(req.id, "REFERRAL_ID"), req.status, req.reason))


async def referral_show(request: web.Request) -> web.Response:
    req = await read(request, R.ReferralShow.from_json)
    talent = request.app[TALENT]
    return web.json_response(talent.show_referral(talent.resolve(req.id, "REFERRAL_ID")))


async def refer(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    req = await read(request, R.ReferRequest.from_json)
    candidate = talent.find_candidate(req.candidate_id)
    return web.json_response(talent.refer(candidate.candidate_id, talent.resolve(req.job_id, "JOB_ID"), req.note))


ADMIN_ROUTES = [
    ("POST", "/jobs/post", job_post),
    ("POST", "/jobs/update", job_update),
    ("POST", "/jobs/import", job_import),
    ("POST", "/jobs/export", job_export),
    ("POST", "/jobs/list", job_list),
    ("POST", "/jobs/close", job_close),
    ("POST", "/jobs/match-candidate", job_match_candidate),
    ("POST", "/candidates/add", candidate_add),
    ("POST", "/candidates/import", candidate_import),
    ("GET", "/candidates", candidate_list),
    ("POST", "/candidates/update", candidate_update),
    ("POST", "/candidates/erase", candidate_erase),
    ("POST", "/candidates/report", candidate_report),
    ("POST", "/consent/give", consent_give),
    ("POST", "/consent/withdraw", consent_withdraw),
    ("POST", "/match", match),
    ("POST", "/referrals/request", referral_request),
    ("GET", "/referrals", referral_list),
    ("GET", "/referrals/pending", referral_pending),
    ("POST", "/referrals/approve", referral_approve),
    ("POST", "/referrals/decline", referral_decline),
    ("POST", "/referrals/update", referral_update),
    ("POST", "/referrals/correct", referral_correct),
    ("POST", "/referrals/show", referral_show),
    ("POST", "/refer", refer),
]
FEDERATION_ROUTES = [("POST", MATCH_PATH, match_endpoint)]


def part(talent: Talent) -> Part:
    """The talent exchange's routes on both APIs and the ``Talent`` its handlers read (no loop of its own)."""
    return Part("talent", tuple(FEDERATION_ROUTES), tuple(ADMIN_ROUTES), ((TALENT, talent),))
