"""Importing a schema.org JobPosting on the jobs pages (staff and up): pasted, or a file uploaded.

The text is read as `orgnode job import` reads a file (``node.core.requests.talent.posting_input``:
a JSON-LD posting, an ``@graph`` document, or an HTML page with ``<script type="application/ld+json">``),
into the same ``JobImport`` request, and posted by the same ``Talent.import_posting``. The page says
what was kept without being used for matching and what was ignored. A posting without skills is
refused with the form shown again, the posting kept in it, so the skills can be added and it sent again.
"""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.core.errors import UserError
from node.formats.json_text import posting_input
from node.web.auth import requires
from node.web.context import WEB, session_of
from node.web.jobs import form_number
from protocol.errors import ProtocolError

NO_SKILLS = ("This posting names no skills, so no candidate could ever match it: write the skills the job needs in "
             "“Skills to match on” (separated by commas) and import it again.")
MAX_POSTING_BYTES = 1024 * 1024  # a posting's file or pasted text: a job carries at most 32 KiB of it


def _page(request: web.Request, values: dict[str, str], **extra: Any) -> web.Response:
    status = extra.pop("status", 200)
    return aiohttp_jinja2.render_template("job_import.html", request, {"v": values, **extra}, status=status)


@requires("staff")
async def import_form(request: web.Request) -> web.Response:
    return _page(request, {"posting": "", "skills": "", "hops": "1"})


async def posting_text(form: Any) -> tuple[str, str]:
    """The posting's text and what to call it: the uploaded file if one was chosen, else the pasted text."""
    upload = form.get("file")
    if isinstance(upload, web.FileField) and upload.filename:
        raw = upload.file.read(MAX_POSTING_BYTES + 1)
        name = str(upload.filename)
    else:
        raw, name = str(form.get("posting", "")).encode(), "the pasted text"
    if len(raw) > MAX_POSTING_BYTES:
        raise UserError(f"{name} is larger than {MAX_POSTING_BYTES // 1024} KiB: a job posting is far smaller; "
                        "check it is the right file")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UserError(f"{name} is not UTF-8 text ({exc.reason}): save it as UTF-8 and try again") from exc
    if not text.strip():
        raise UserError("paste a job posting or choose its file", field="posting")
    return text, name


@requires("staff")
async def import_posting(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    form = await request.post()
    values = {"posting": str(form.get("posting", "")), "skills": str(form.get("skills", "")).strip(),
              "hops": str(form.get("hops", "1")).strip() or "1"}
    try:
        text, name = await posting_text(form)
        values["posting"] = text  # shown again on a refusal: an uploaded file need not be chosen again
        req = R.JobImport.from_json({"hops": form_number(values["hops"]), "skills": values["skills"] or None, **posting_input(text, name)})
        imported, _replaced = ctx.talent.import_posting(req.jsonld, page=req.html, hops=req.hops, skills=req.skills)
    except UserError as exc:
        if exc.field == "skills" and not values["skills"]:
            return _page(request, values, error=NO_SKILLS, field="skills", status=400)
        return _page(request, values, error=str(exc), field=exc.field or "posting", status=400)
    except ProtocolError as exc:  # the posting's own fault (JobPostingError): which property, and why
        return _page(request, values, error=f"the job posting cannot be used: {exc.detail}", field="posting", status=400)
    job = imported.job
    ctx.accounts.record(session_of(request).user.name, "imported the job posting", job.job_id.hex())
    return aiohttp_jinja2.render_template("job_imported.html", request, {
        "job": job, "skills": [s.label for s in job.skills], "kept": imported.kept, "ignored": imported.ignored})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/jobs/import", import_form)
    router.add_post("/jobs/import", import_posting)
