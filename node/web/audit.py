"""The audit page: download one referral's signed audit bundle (staff: it may carry the candidate's
profile unless redacted) and check a bundle someone gives you, with the verifier's report in plain
words (the same ``protocol.audit.verify`` as `orgnode audit verify`, and the same check wording)."""

from __future__ import annotations

import re
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import path_proofs
from node.core.errors import UserError
from node.core.requests import AuditExport
from node.formats.audit_words import CHECK_WORDS, figure_words
from node.web.auth import requires
from node.web.consent_words import PURPOSE_WORDS, listed, scope_words
from node.web.context import WEB, session_of
from node.web.referrals import STAGE_WORDS
from protocol.audit import AuditReport, verify
from protocol.audit_bundle import AuditInputError


def exportable(request: web.Request) -> list[dict[str, Any]]:
    """The referrals whose bundle this node can export: the ones it made (it holds the consent records);
    the employer's side is proven in the referrer's bundle."""
    ctx = request.app[WEB]
    me = ctx.federation.me.hex()
    return [{**v, "stage": STAGE_WORDS.get(v["status"], v["status"])} for v in ctx.talent.list_referrals() if v["to"] != me]


async def audit_page(request: web.Request) -> web.Response:
    return aiohttp_jinja2.render_template("audit.html", request, {"referrals": exportable(request), "report": None})


@requires("staff")
async def export(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    req = AuditExport.from_json({"id": str(form.get("referral", "")), "redact": form.get("redact") == "yes"})
    referral_id = ctx.talent.resolve(req.id, "REFERRAL_ID")
    data = await path_proofs.export_referral(ctx.provenance, ctx.paths, referral_id, req.redact)
    ctx.accounts.record(session_of(request).user.name, "exported the audit bundle" + (" (redacted)" if req.redact else ""),
                        referral_id.hex())
    return web.Response(body=data, content_type="application/octet-stream", headers={
        "Content-Disposition": f'attachment; filename="referral-{referral_id.hex()[:16]}.orgaudit"'})


CONSENT_FACT = re.compile(r"consent ([0-9a-f]{8})… for ([a-z, ]+) \(scope ([^)]*)\) was recorded")
CORRECTION_FACT = re.compile(r"corrected the outcome ([a-z_]+) to ([a-z_]+) on")
STATUS = re.compile(r"\b(" + "|".join(sorted((k for k in STAGE_WORDS if "_" in k), key=len, reverse=True)) + r")\b")


def fact_words(fact: str, names: dict[bytes, str]) -> str:
    """A verifier's fact (protocol/audit_*.py, shared with `orgnode audit verify`) without protocol words for
    the page: a consent's purposes and scope as the candidates page says them, stages as the referrals page."""
    def stage(name: str) -> str:
        return STAGE_WORDS.get(name, name).lower()

    def org(node_id: bytes) -> str | None:
        return names.get(node_id)

    fact = CONSENT_FACT.sub(lambda m: f"the candidate's consent ({m.group(1)}…) to "
                            f"{listed([PURPOSE_WORDS.get(p.strip(), p.strip()) for p in m.group(2).split(',')])}, shared with "
                            f"{scope_words(m.group(3).split(), org)}, was recorded", fact)
    fact = CORRECTION_FACT.sub(lambda m: f"corrected the outcome from “{stage(m.group(1))}” to “{stage(m.group(2))}” on", fact)
    fact = re.sub(r"^lifecycle (.*) is legal and in order", r"the referral's steps \1 are allowed and in order", fact)
    return STATUS.sub(lambda m: stage(m.group(1)), fact)


def report_view(report: AuditReport) -> dict[str, Any]:
    failed = report.failed
    names = dict(report.organizations)
    return {
        "valid": report.valid, "subject": report.subject.hex() if report.subject else None,
        "exported_by": report.organizations.get(report.exported_by) or f"node {report.exported_by.hex()[:16]}…",
        "exported_at": report.exported_at, "organizations": sorted(report.organizations.values()),
        "period": report.period, "facts": [fact_words(f, names) for f in report.facts], "notes": report.notes,
        "passed": [(name, CHECK_WORDS.get(name, name)) for name in report.passed],
        "failed": None if failed is None else {"check": failed.check, "words": CHECK_WORDS.get(failed.check, failed.check),
                                               "detail": failed.detail,
                                               "statement": failed.statement.hex() if failed.statement else None},
        "figures": [(figure_words(name), value) for name, value in sorted(report.figures.items())],
    }


async def check(request: web.Request) -> web.Response:
    """Any signed-in user may check a bundle: it reads nothing of ours and changes nothing."""
    upload = (await request.post()).get("bundle")
    if not isinstance(upload, web.FileField):
        raise UserError("choose the audit bundle file to check (the file downloaded with “Download the bundle”, "
                        "here or at a partner)")
    try:
        report = verify(upload.file.read())
    except AuditInputError as exc:
        raise UserError(f"this file is not an audit bundle ({exc}): choose the file downloaded with “Download the "
                        "bundle” (here or at a partner), copied whole") from exc
    referrals = exportable(request)
    return aiohttp_jinja2.render_template("audit.html", request, {"referrals": referrals, "report": report_view(report)})


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/audit", audit_page)
    router.add_post("/audit/export", export)
    router.add_post("/audit/check", check)
