"""HTTP surfaces of the talent exchange: the federation ``/match`` endpoint and the admin routes the
CLI uses for jobs, candidates, consent, matching and referrals (the match fan-out is node/core/matching.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from node.core.errors import UserError
from node.core.matching import MATCH_DEADLINE, MATCH_PATH, ask_peers
from node.core.talent import Talent
from node.formats.jobposting import job_from_jsonld, job_to_jsonld
from node.http import federation_api
from node.http.admin_api import CTX, json_body
from protocol.errors import ProtocolError
from protocol.jobs import EMPLOYMENT_TYPES, Location, Salary
from protocol.match_query import MatchQuery
from protocol.matching import split_skills
from storage.cards import CardStore

MSGPACK = "application/msgpack"

TALENT = web.AppKey("talent", Talent)


# --- federation side -------------------------------------------------------------------------------


async def match_endpoint(request: web.Request) -> web.Response:
    origin, body = await federation_api.authenticate(request)
    talent = request.app[TALENT]
    answer = talent.answer_match(origin, MatchQuery.decode(body))  # a bad query is a RemoteProtocolError
    return web.Response(body=answer.encode(), content_type=MSGPACK)


# --- admin side ------------------------------------------------------------------------------------


def _hops(body: dict[str, Any], default: int) -> int:
    value = body.get("hops")
    hops = default if value is None else int(value)
    if not 1 <= hops <= 8:
        raise UserError("hops must be between 1 (direct partners only) and 8", field="hops")
    return hops


def parse_date_ms(text: str | None, what: str) -> int | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as exc:
        raise UserError(f"{what} must be a date like 2027-03-31", field=what) from exc
    return int(dt.datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=dt.UTC).timestamp() * 1000)


def parse_salary(text: str | None) -> Salary | None:
    """ "EUR 30000-38000/YEAR" or "USD 40/HOUR" (amounts in whole units; stored ×100)."""
    if not text:
        return None
    try:
        currency, rest = text.strip().split(" ", 1)
        amounts, _, unit = rest.partition("/")
        lo, _, hi = amounts.partition("-")
        low = round(float(lo) * 100)
        high = round(float(hi) * 100) if hi else low
        return Salary(currency.upper(), low, high, (unit or "YEAR").upper())
    except (ValueError, ProtocolError) as exc:
        raise UserError("salary looks like \"EUR 30000-38000/YEAR\" or \"USD 40/HOUR\"", field="salary") from exc


async def job_post(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    location_type = "remote" if b.get("remote") else "hybrid" if b.get("hybrid") else "onsite"
    employment = tuple(t.strip().upper().replace("-", "_") for t in str(b.get("employment_type") or "").split(",") if t.strip())
    bad = [t for t in employment if t not in EMPLOYMENT_TYPES]
    if bad:
        raise UserError(f"employment_type must be among {', '.join(EMPLOYMENT_TYPES)}", field="employment_type")
    location = None
    if b.get("location"):
        parts = [p.strip() for p in str(b["location"]).split(",")]
        location = Location(*([*parts, None, None, None])[:3])
    job = talent.post_job(
        title=str(b.get("title", "")), skills=split_skills(str(b.get("skills", ""))), description=str(b.get("description") or ""),
        location=location, location_type=location_type, employment_type=employment, salary=parse_salary(b.get("salary")),
        valid_through=parse_date_ms(b.get("valid_through"), "valid_through"), hops=_hops(b, default=1),
    )
    return web.json_response({"id": job.job_id.hex(), "version": job.version})


async def job_update(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    changes: dict[str, Any] = {}
    if b.get("title"):
        changes["title"] = str(b["title"])
    if b.get("skills"):
        changes["skills"] = split_skills(str(b["skills"]))
    if b.get("description") is not None:
        changes["description"] = str(b["description"])
    if b.get("valid_through"):
        changes["valid_through"] = parse_date_ms(b["valid_through"], "valid_through")
    if b.get("hops") is not None:
        changes["hops"] = _hops(b, default=1)
    if b.get("salary"):
        changes["salary"] = parse_salary(b["salary"])
    if not changes:
        raise UserError("nothing to change: give at least one of title, skills, description, valid_through, hops, salary")
    job = talent.update_job(talent.resolve(str(b.get("id", "")), "JOB_ID"), **changes)
    return web.json_response({"id": job.job_id.hex(), "version": job.version})


async def job_import(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    if "jsonld" not in b:
        raise UserError("give the JobPosting to import", field="jsonld")
    # A bad JobPosting is the input file's fault: JobPostingError is a RemoteProtocolError (malformed).
    job = job_from_jsonld(b["jsonld"], job_id=talent.random(16), now=talent.clock(), hops=_hops(b, default=1))
    talent.publish_job(job)
    return web.json_response({"id": job.job_id.hex(), "title": job.title})


async def job_export(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    row = talent.store.job(talent.resolve(str(b.get("id", "")), "JOB_ID"))
    if row is None:
        raise UserError("no such job here (see `orgnode job list`)")
    card = CardStore(talent.db).declared(row.author)
    name, url = (card.name, card.url) if card else ("unknown", "")
    return web.json_response(job_to_jsonld(row.job, org_name=name, org_url=url, node_id_hex=row.author.hex()))


async def job_list(request: web.Request) -> web.Response:
    b = await json_body(request)
    return web.json_response(request.app[TALENT].list_jobs(mine=bool(b.get("mine"))))


async def job_close(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    filled_by = talent.resolve(str(b["filled_by"]), "REFERRAL_ID") if b.get("filled_by") else None
    job = talent.close_job(talent.resolve(str(b.get("id", "")), "JOB_ID"), filled_by)
    return web.json_response({"id": job.job_id.hex(), "status": job.status, "version": job.version})


async def job_match_candidate(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    return web.json_response(talent.match_candidate(talent.find_candidate(str(b.get("id", ""))).candidate_id))


def _require_scope(purposes: list[str], b: dict[str, Any]) -> None:
    """A consent names who may receive the person: the widest scope ("all") is never a default."""
    if purposes and not str(b.get("consent_scope") or "").strip():
        raise UserError('say who may receive the candidate: consent_scope "sector:nonprofit" (or "node:<id>", or "all" '
                        "for any organization, partners' partners included); nothing was recorded", field="consent_scope")


async def candidate_add(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    consent = [p.strip() for p in str(b.get("consent") or "").split(",") if p.strip()]
    _require_scope(consent, b)
    candidate, consent_row = talent.add_candidate(
        name=str(b.get("name", "")), email=str(b.get("email", "")), skills=split_skills(str(b.get("skills", ""))),
        phone=b.get("phone"), location=b.get("location"), medal=b.get("medal"), for_job=b.get("for_job"), consent=consent,
        consent_scope=str(b.get("consent_scope") or ""), consent_expires=parse_date_ms(b.get("consent_expires"), "consent_expires"),
        consent_evidence=str(b.get("consent_evidence") or ""), notes=b.get("notes"),
    )
    return web.json_response({"id": candidate.candidate_id.hex(), "consent_id": consent_row.consent_id.hex() if consent_row else None})


CANDIDATE_FIELDS = ("name", "email", "phone", "location", "skills", "medal", "for_job", "notes")


async def candidate_update(request: web.Request) -> web.Response:
    """Correct a candidate's fields; only the fields given change ("" clears an optional one)."""
    talent = request.app[TALENT]
    b = await json_body(request)
    changes: dict[str, Any] = {k: b[k] for k in CANDIDATE_FIELDS if b.get(k) is not None}
    if "skills" in changes:
        changes["skills"] = split_skills(str(changes["skills"]))
    if changes.get("medal") == "none":
        changes["medal"] = ""
    candidate = talent.update_candidate(talent.find_candidate(str(b.get("id", ""))).candidate_id, changes)
    return web.json_response({"id": candidate.candidate_id.hex(), "changed": sorted(changes),
                              "recipients_with_earlier_copy": len(talent.store.disclosures(candidate.candidate_id))})


async def consent_give(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    purposes = [p.strip() for p in str(b.get("consent") or "").split(",") if p.strip()]
    _require_scope(purposes, b)
    row = talent.give_consent(talent.find_candidate(str(b.get("id", ""))).candidate_id, purposes,
                              str(b.get("consent_scope") or ""), parse_date_ms(b.get("consent_expires"), "consent_expires"),
                              str(b.get("consent_evidence") or ""))
    return web.json_response({"id": row.candidate_id.hex(), "consent_id": row.consent_id.hex(), "purposes": list(row.purposes),
                              "scope": list(row.scope), "expires_at": row.expires_at})


async def candidate_erase(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    return web.json_response(talent.erase_candidate(talent.find_candidate(str(b.get("id", ""))).candidate_id))


async def candidate_report(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    return web.json_response(talent.candidate_report(talent.find_candidate(str(b.get("id", "")))))


async def candidate_list(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    return web.json_response([talent.candidate_view(c) for c in talent.store.candidates()])


async def consent_withdraw(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    return web.json_response(talent.withdraw_consent(talent.find_candidate(str(b.get("id", ""))).candidate_id))


async def match(request: web.Request) -> web.Response:
    ctx = request.app[CTX]
    b = await json_body(request)
    deadline = float(b.get("deadline") or MATCH_DEADLINE)
    talent = request.app[TALENT]
    return web.json_response(await ask_peers(talent, ctx.client, talent.resolve(str(b.get("id", "")), "JOB_ID"), deadline))


async def referral_request(request: web.Request) -> web.Response:
    b = await json_body(request)
    talent = request.app[TALENT]
    return web.json_response(talent.request_referral(talent.resolve(str(b.get("job_id", "")), "JOB_ID"),
                                                     talent.resolve(str(b.get("pseudonym", "")), "PSEUDONYM")))


async def referral_list(request: web.Request) -> web.Response:
    return web.json_response(request.app[TALENT].list_referrals())


async def referral_pending(request: web.Request) -> web.Response:
    return web.json_response(request.app[TALENT].pending_requests())


async def referral_approve(request: web.Request) -> web.Response:
    b = await json_body(request)
    talent = request.app[TALENT]
    return web.json_response(talent.approve_request(talent.resolve(str(b.get("id", "")), "REQUEST_ID"), str(b.get("consent_evidence") or "")))


async def referral_decline(request: web.Request) -> web.Response:
    b = await json_body(request)
    talent = request.app[TALENT]
    return web.json_response(talent.decline_request(talent.resolve(str(b.get("id", "")), "REQUEST_ID"), str(b.get("reason") or "")))


async def referral_update(request: web.Request) -> web.Response:
    b = await json_body(request)
    talent = request.app[TALENT]
    return web.json_response(talent.update_referral(talent.resolve(str(b.get("id", "")), "REFERRAL_ID"), str(b.get("status", "")),
                                                                 str(b.get("reason") or "")))


async def refer(request: web.Request) -> web.Response:
    talent = request.app[TALENT]
    b = await json_body(request)
    candidate = talent.find_candidate(str(b.get("candidate_id", "")))
    return web.json_response(talent.refer(candidate.candidate_id, talent.resolve(str(b.get("job_id", "")), "JOB_ID"), str(b.get("note") or "")))


ADMIN_ROUTES = [
    ("POST", "/jobs/post", job_post),
    ("POST", "/jobs/update", job_update),
    ("POST", "/jobs/import", job_import),
    ("POST", "/jobs/export", job_export),
    ("POST", "/jobs/list", job_list),
    ("POST", "/jobs/close", job_close),
    ("POST", "/jobs/match-candidate", job_match_candidate),
    ("POST", "/candidates/add", candidate_add),
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
    ("POST", "/refer", refer),
]
FEDERATION_ROUTES = [("POST", MATCH_PATH, match_endpoint)]
