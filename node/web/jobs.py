"""The jobs pages: this organization's and partners' jobs, posting, editing and closing one (staff and up).

Forms are read into the same typed requests the admin API uses (``node.core.requests.JobPost``,
``JobUpdate``), and the same ``Talent`` use cases post and update: one validation, whichever surface
asks (`job post`, `job update`). Importing a JobPosting is node/web/job_import.py, where a job
travelled node/web/job_travel.py.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.core.errors import UserError
from node.core.requests.talent import JOB_UPDATE_FIELDS
from node.core.views import iso
from node.web.auth import requires, see_other
from node.web.context import WEB, WebContext, session_of
from node.web.filters import description_html, pay_words
from protocol.errors import ProtocolError
from protocol.jobs import Job, Salary
from storage.talent_rows import JobRow


def job_card(ctx: WebContext, row: JobRow) -> dict[str, Any]:
    """A job as its card shows it: ``job_view``'s fields, the description (a partner's text, so as
    sanitised HTML), the pay and the last day in words."""
    job = row.job
    return {**ctx.talent.job_view(row), "description_html": description_html(job.description),
            "pay": pay_words(job.salary), "last_day": job.valid_through}


async def job_list(request: web.Request) -> web.Response:
    return _jobs_page(request)


def _jobs_page(request: web.Request, values: dict[str, str] | None = None, error: str | None = None,
               field: str | None = None, status: int = 200) -> web.Response:
    ctx = request.app[WEB]
    jobs = [job_card(ctx, row) for row in ctx.talent.store.jobs()]
    mine = [j for j in jobs if j["mine"]]
    theirs = [j for j in jobs if not j["mine"]]
    return aiohttp_jinja2.render_template("jobs.html", request, {
        "mine": mine, "theirs": theirs, "done": DONE_WORDS.get(request.query.get("done", "")),
        "posted": request.query.get("posted") == "1", "v": values or {}, "error": error, "field": field}, status=status)


POST_FIELDS = ("title", "skills", "location", "description", "valid_through", "salary", "hops", "where")


@requires("staff")
async def job_post(request: web.Request) -> web.StreamResponse:
    """`job post` from a form: the same ``JobPost`` request and ``Talent.post_job``, so the same checks
    (pay, last day, how far it travels); a refusal shows the form again with what was typed."""
    ctx = request.app[WEB]
    form = await request.post()
    given = {k: str(form.get(k, "")) for k in POST_FIELDS}
    body: dict[str, Any] = {k: given[k] for k in ("title", "skills", "description")}
    body["hops"] = form_number(given["hops"].strip() or "1")
    for key in ("location", "valid_through", "salary"):
        if given[key].strip():
            body[key] = given[key].strip()
    if given["where"] in ("remote", "hybrid"):
        body[given["where"]] = True
    try:
        job = ctx.talent.post_job(**R.JobPost.from_json(body).core_args())
    except (UserError, ProtocolError) as exc:
        text, field = (str(exc), exc.field) if isinstance(exc, UserError) else (exc.detail, None)
        return _jobs_page(request, given, text, field, status=400)
    ctx.accounts.record(session_of(request).user.name, "posted the job", job.job_id.hex())
    return see_other("/jobs?posted=1")


@requires("staff")
async def job_close(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    job_id = ctx.talent.resolve(request.match_info["job_id"], "JOB_ID")
    ctx.talent.close_job(job_id, None)
    ctx.accounts.record(session_of(request).user.name, "closed the job", job_id.hex())
    return see_other("/jobs")


def form_number(text: str) -> int | str:
    """A form's whole-number field as the request reads it (other text is left for its error to name)."""
    return int(text) if text.isdigit() else text


def salary_text(salary: Salary | None) -> str:
    """A salary as the form (and `job post --salary`) takes it: "EUR 30000-38000/YEAR"."""
    if salary is None:
        return ""

    def amount(cents: int | None) -> str:
        return "" if cents is None else f"{cents / 100:g}" if cents % 100 else str(cents // 100)

    low, high = amount(salary.min), amount(salary.max)
    return f"{salary.currency} {low if low == high or not high else f'{low}-{high}'}/{salary.unit}"


def edit_values(job: Job) -> dict[str, str]:
    """The job's fields as its edit form shows them (and as ``JobUpdate`` reads them back)."""
    return {"title": job.title, "skills": ", ".join(s.label for s in job.skills), "description": job.description,
            "valid_through": iso(job.valid_through)[:10] if job.valid_through is not None else "",
            "salary": salary_text(job.salary), "hops": str(job.hops)}


def _edit_page(request: web.Request, job: Job, values: dict[str, str], error: str | None = None,
               field: str | None = None, status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template("job_edit.html", request, {
        "job": job, "v": values, "error": error, "field": field}, status=status)


@requires("staff")
async def job_edit_form(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    row = ctx.talent.own_job(ctx.talent.resolve(request.match_info["job_id"], "JOB_ID"))
    if row.job.status != "open":
        raise UserError(f"the job is {row.job.status}: only an open job can be edited")
    return _edit_page(request, row.job, edit_values(row.job))


@requires("staff")
async def job_edit(request: web.Request) -> web.StreamResponse:
    """A new version with the fields that differ from the current one (`job update` with only those)."""
    ctx = request.app[WEB]
    job_id = ctx.talent.resolve(request.match_info["job_id"], "JOB_ID")
    row = ctx.talent.own_job(job_id)
    form = await request.post()
    given = {key: str(form.get(key, "")).strip() for key in JOB_UPDATE_FIELDS}
    given["description"] = str(form.get("description", ""))  # kept as written: it may be cleared
    current = edit_values(row.job)
    changed: dict[str, Any] = {k: v for k, v in given.items() if v != current[k]}
    if not changed:
        return see_other("/jobs?done=unchanged")
    if "hops" in changed:
        changed["hops"] = form_number(changed["hops"])
    try:
        emptied = [k for k in ("title", "skills", "valid_through", "salary") if k in changed and not changed[k]]
        if emptied:  # `job update` cannot clear these either: an empty value means "unchanged" there
            raise UserError(f"{emptied[0].replace('_', ' ')} cannot be emptied: a job needs a title and skills, and a "
                            "last day or a salary once given can be changed but not removed (close the job and post "
                            "a new one instead)", field=emptied[0])
        req = R.JobUpdate.from_json({"id": job_id.hex(), **changed})
        job = ctx.talent.update_job(job_id, **dict(req.changes))
    except (UserError, ProtocolError) as exc:
        text, field = (str(exc), exc.field) if isinstance(exc, UserError) else (exc.detail, None)
        return _edit_page(request, row.job, {**current, **given}, text, field, status=400)
    ctx.accounts.record(session_of(request).user.name, f"edited the job (version {job.version})", job_id.hex())
    return see_other("/jobs?done=edited")


DONE_WORDS = {"edited": "The job was updated; partners get the new version.",
              "unchanged": "Nothing was changed: the form held the job as it is.",
              "imported": "The job posting was imported and is on its way to your partners."}
JOB_ID = "{job_id:[0-9a-f]{32}}"


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/jobs", job_list)
    router.add_post("/jobs", job_post)
    router.add_post(f"/jobs/{JOB_ID}/close", job_close)
    router.add_get(f"/jobs/{JOB_ID}/edit", job_edit_form)
    router.add_post(f"/jobs/{JOB_ID}/edit", job_edit)
