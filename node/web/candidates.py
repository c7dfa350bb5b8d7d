"""The candidates pages: the list (search, skill, medal and consent filters, pages), adding a person
with their consent, correcting their details, giving and withdrawing consent, erasing (after a
confirmation page) and the subject-access report. A viewer reads; changes need the staff role.
Importing a CSV file is node/web/candidate_import.py.

Every form is read into the typed requests the admin API uses (``node.core.requests``) and handled by
the same ``Talent`` use cases: one set of checks, whichever surface asks.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from multidict import MultiDict

from node.core import requests as R
from node.core.errors import UserError
from node.web.auth import requires, see_other
from node.web.context import WEB, session_of
from protocol.bodies import SECTORS
from protocol.consent import PURPOSES
from storage.candidate_filters import CONSENT_FILTERS

PAGE_SIZE = 25
CANDIDATE_ID = "{candidate_id:[0-9a-f]{32}}"
EVIDENCE_NEEDED = ("say how the candidate gave consent (for example “signed form of 3 March”): it is kept as the "
                   "evidence; nothing was recorded")
DONE_WORDS = {"added": "The candidate was added.", "edited": "The candidate's details were corrected.",
              "unchanged": "Nothing was changed: the form held the candidate's details as they are.", "consent": "The consent was recorded.",
              "withdrawn": "Every consent was withdrawn; partners who received the candidate are being told.",
              "erased": "The candidate was erased; partners who received them are being told to erase them too."}


def _filters(request: web.Request) -> MultiDict[str]:
    """The list's filters as the admin API reads them; empty form fields mean "any"."""
    kept: MultiDict[str] = MultiDict()
    for key in ("skill", "medal", "consent", "search", "offset"):
        for value in request.query.getall(key, []):
            if value.strip():
                kept.add(key, value.strip())
    kept["limit"] = str(PAGE_SIZE + 1)  # one more than shown: is there a next page?
    return kept


async def candidate_list(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    filters = _filters(request)
    query = R.CandidateQuery.from_query(filters)
    found = ctx.talent.candidate_views(ctx.talent.candidate_page(query))
    offset = query.page.offset
    keep = [(k, v) for k, v in filters.items() if k not in ("offset", "limit")]
    return aiohttp_jinja2.render_template("candidates.html", request, {
        "candidates": found[:PAGE_SIZE], "offset": offset, "page_size": PAGE_SIZE,
        "more": len(found) > PAGE_SIZE, "keep": keep, "shown": dict(keep),
        "consent_filters": CONSENT_FILTERS, "purposes": PURPOSES, "sectors": SECTORS,
        "done": DONE_WORDS.get(request.query.get("done", ""))})


def consent_body(form: Any) -> dict[str, Any]:
    """The consent fields of a form as the admin API's JSON: ticked purposes, the scope, expiry, evidence."""
    purposes = [p for p in PURPOSES if form.get(f"purpose-{p}") == "yes"]
    scope = str(form.get("consent_scope", "")).strip()
    if scope == "sector" and form.get("sector") in SECTORS:
        scope = f"sector:{form.get('sector')}"
    elif scope == "sector":
        raise UserError("choose the sector the candidate agreed to be shared with", field="sector")
    body = {"consent": ",".join(purposes), "consent_scope": scope if purposes else "",
            "consent_expires": str(form.get("consent_expires", "")).strip() or None,
            "consent_evidence": str(form.get("consent_evidence", "")).strip()}
    if purposes and not body["consent_evidence"]:
        raise UserError(EVIDENCE_NEEDED, field="consent_evidence")  # as `candidate add --consent` and `consent give` require
    return body


@requires("staff")
async def candidate_add(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    body: dict[str, Any] = {key: str(form.get(key, "")) for key in ("name", "email", "skills")}
    for key in ("phone", "location", "medal", "notes"):
        if str(form.get(key, "")).strip():
            body[key] = str(form.get(key))
    body.update(consent_body(form))
    candidate, _ = ctx.talent.add_candidate(**R.CandidateAdd.from_json(body).core_args())
    ctx.accounts.record(session_of(request).user.name, "added the candidate", candidate.candidate_id.hex())
    return see_other("/candidates?done=added")


@requires("staff")
async def consent_give(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    req = R.ConsentGive.from_json({"id": request.match_info["candidate_id"], **consent_body(form)})
    c = req.consent
    candidate = ctx.talent.find_candidate(req.id)
    ctx.talent.give_consent(candidate.candidate_id, list(c.purposes), c.scope, c.expires, c.evidence)
    ctx.accounts.record(session_of(request).user.name, "recorded a consent", candidate.candidate_id.hex())
    return see_other("/candidates?done=consent")


@requires("staff")
async def consent_withdraw(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    candidate = ctx.talent.find_candidate(request.match_info["candidate_id"])
    ctx.talent.withdraw_consent(candidate.candidate_id)
    ctx.accounts.record(session_of(request).user.name, "withdrew the consents", candidate.candidate_id.hex())
    return see_other("/candidates?done=withdrawn")


@requires("staff")
async def erase_confirm(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    candidate = ctx.talent.find_candidate(request.match_info["candidate_id"])
    return aiohttp_jinja2.render_template("candidate_erase.html", request, {
        "candidate": ctx.talent.candidate_view(candidate), "erased": candidate.erased})


@requires("staff")
async def erase(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    candidate = ctx.talent.find_candidate(request.match_info["candidate_id"])
    if form.get("confirm") != "erase":  # only the confirmation page's button erases
        return see_other(f"/candidates/{candidate.candidate_id.hex()}/erase")
    ctx.talent.erase_candidate(candidate.candidate_id)
    ctx.accounts.record(session_of(request).user.name, "erased the candidate", candidate.candidate_id.hex())
    return see_other("/candidates?done=erased")


EDIT_FIELDS = ("name", "email", "phone", "location", "skills", "medal", "for_job", "notes")


def edit_values(candidate: Any) -> dict[str, str]:
    """A candidate's fields as the edit form shows them (and ``CandidateUpdate`` reads them back)."""
    return {k: ", ".join(candidate.skills) if k == "skills" else (getattr(candidate, k) or "") for k in EDIT_FIELDS}


def _edit_page(request: web.Request, candidate: Any, values: dict[str, str], error: str | None = None,
               field: str | None = None, status: int = 200) -> web.Response:
    ctx = request.app[WEB]
    return aiohttp_jinja2.render_template("candidate_edit.html", request, {
        "c": candidate, "v": values, "error": error, "field": field,
        "earlier": len(ctx.talent.store.disclosures(candidate.candidate_id))}, status=status)


@requires("staff")
async def edit_form(request: web.Request) -> web.Response:
    candidate = request.app[WEB].talent.find_candidate(request.match_info["candidate_id"])
    if candidate.erased:
        raise UserError("this candidate was erased: nothing is left to correct")
    return _edit_page(request, candidate, edit_values(candidate))


@requires("staff")
async def edit(request: web.Request) -> web.StreamResponse:
    """Correct the fields that differ from what is held (`candidate update` with only those)."""
    ctx = request.app[WEB]
    candidate = ctx.talent.find_candidate(request.match_info["candidate_id"])
    form = await request.post()
    given = {k: str(form.get(k, "")).strip() for k in EDIT_FIELDS}
    current = edit_values(candidate)
    changed = {k: v for k, v in given.items() if v != current[k]}
    if not changed:
        return see_other("/candidates?done=unchanged")
    if changed.get("medal") == "":
        changed["medal"] = "none"  # what CandidateUpdate reads as "clear the medal"
    try:
        req = R.CandidateUpdate.from_json({"id": candidate.candidate_id.hex(), **changed})
        ctx.talent.update_candidate(candidate.candidate_id, dict(req.changes))
    except UserError as exc:
        return _edit_page(request, candidate, {**current, **given}, str(exc), exc.field, status=400)
    ctx.accounts.record(session_of(request).user.name, "corrected the candidate's details", candidate.candidate_id.hex())
    return see_other("/candidates?done=edited")


async def report(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    candidate = ctx.talent.find_candidate(request.match_info["candidate_id"])
    return aiohttp_jinja2.render_template("candidate_report.html", request, {"r": ctx.talent.candidate_report(candidate)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/candidates", candidate_list)
    router.add_post("/candidates", candidate_add)
    router.add_post(f"/candidates/{CANDIDATE_ID}/consent", consent_give)
    router.add_post(f"/candidates/{CANDIDATE_ID}/withdraw", consent_withdraw)
    router.add_get(f"/candidates/{CANDIDATE_ID}/erase", erase_confirm)
    router.add_post(f"/candidates/{CANDIDATE_ID}/erase", erase)
    router.add_get(f"/candidates/{CANDIDATE_ID}/report", report)
    router.add_get(f"/candidates/{CANDIDATE_ID}/edit", edit_form)
    router.add_post(f"/candidates/{CANDIDATE_ID}/edit", edit)
