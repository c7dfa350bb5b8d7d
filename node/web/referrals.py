"""The referrals page: each referral with the stage changes this side may make (one click each),
its history in plain words (a corrected outcome and its correction both shown), a "Correct outcome"
form on a referral to our job whose latest step is an outcome, requests waiting for our approval,
and who did what here. Changes need the staff role.

The buttons offered are exactly the transitions ``protocol.referrals`` allows this side from the
current stage; the click goes through ``Talent.update_referral``, which checks them again. The
correction form goes through ``Talent.correct_referral`` (``protocol.corrections`` rules), which
refuses what the form cannot know (a referrer's node that does not understand corrections)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from node.core import requests as R
from node.core.errors import UserError
from node.formats.referral_history import history_lines
from node.web.auth import requires, see_other
from node.web.context import WEB, session_of
from node.web.filters import when
from protocol.corrections import CORRECTABLE_TO, CORRECTIONS_FEATURE, MAX_REASON_CHARS, OUTCOMES
from protocol.referrals import HOLDER, JOB_ORG, STATUS_UPDATES, TRANSITIONS, WHO, feature_needed
from storage.users import UserStore

STAGE_WORDS = {"requested": "Asked for", "sent": "Sent", "received": "Received", "in_process": "In process",
               "interview": "Interview", "offer": "Offer", "hired": "Hired", "not_hired": "Not hired", "declined": "Declined", "withdrawn": "Withdrawn",
               "expired": "Expired"}


def next_stages(view: dict[str, Any], me: str, peer_features: frozenset[str]) -> list[tuple[str, str]]:
    """The stages this side may set next; ``interview``/``offer`` only if the other node understands them."""
    side = JOB_ORG if view["to"] == me else HOLDER
    allowed = TRANSITIONS.get(view["status"], frozenset())
    return [(s, STAGE_WORDS[s]) for s in STATUS_UPDATES if s in allowed and side in WHO[s]
            and feature_needed(s) in (None, *peer_features)]


def correction_choices(view: dict[str, Any], me: str, peer_features: frozenset[str]) -> list[tuple[str, str]] | None:
    """What the outcome may be corrected to, or None when there is nothing this node may correct: the
    referral is not to our job, or its latest step is no outcome (or correction) of ours. An empty list
    means there is one, but the referrer's node has not said it understands corrections."""
    history = view.get("history") or []
    if view["to"] != me or not history:
        return None
    latest = history[-1]
    is_ours = latest["ours"] and (latest["corrects_statement_id"] is not None or latest["status"] in OUTCOMES)
    if not is_ours:
        return None
    if CORRECTIONS_FEATURE not in peer_features:
        return []
    return [(s, STAGE_WORDS[s]) for s in CORRECTABLE_TO if s != view["status"] and feature_needed(s) in (None, *peer_features)]


def _features(ctx: Any, view: dict[str, Any], me: str) -> frozenset[str]:
    """What the other organization's node last advertised (``OrgNode-Features``)."""
    other = view["from"] if view["to"] == me else view["to"]
    features: frozenset[str] = ctx.service.peer_features.get(bytes.fromhex(other), frozenset())
    return features


async def referral_list(request: web.Request) -> web.Response:
    ctx = request.app[WEB]
    me = ctx.federation.me.hex()
    users = UserStore(ctx.service.db)
    # A request not answered yet is listed too (``list_referrals``); it has no stages to move. Since a referral made
    # from a request carries the request's id (issue 12), the ids cannot tell them apart: the store can.
    made = {row.referral_id.hex() for row in ctx.talent.store.referrals()}
    referrals = [{**v, "stage": STAGE_WORDS.get(v["status"], v["status"]),
                  "next": next_stages(v, me, _features(ctx, v, me)) if v["id"] in made else [],
                  "corrections": correction_choices(v, me, _features(ctx, v, me)) if v["id"] in made else None,
                  "steps": history_lines(v.get("history") or []),
                  "history": [f"{when(a.at)}: {a.user_name} {a.action}" for a in users.actions(v["id"])]}
                 for v in ctx.talent.list_referrals()]
    return aiohttp_jinja2.render_template("referrals.html", request, {
        "referrals": referrals, "pending": ctx.talent.pending_requests(), "max_reason": MAX_REASON_CHARS, "me_node": me})


@requires("staff")
async def change_stage(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    referral_id = ctx.talent.resolve(request.match_info["referral_id"], "REFERRAL_ID")
    stage = str(form.get("stage", ""))
    user = session_of(request).user.name
    ctx.talent.update_referral(referral_id, stage, str(form.get("reason", "")), acted_by=user)
    ctx.accounts.record(user, f"moved it to “{STAGE_WORDS.get(stage, stage)}”", referral_id.hex())
    return see_other("/referrals")


@requires("staff")
async def correct_outcome(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    form = await request.post()
    referral_id = ctx.talent.resolve(request.match_info["referral_id"], "REFERRAL_ID")
    status = str(form.get("status", ""))
    reason = str(form.get("reason", ""))
    if not reason.strip():
        raise UserError("say why the recorded outcome was wrong: the reason is required (the referring organization is told)")
    user = session_of(request).user.name
    ctx.talent.correct_referral(referral_id, status, reason, acted_by=user)
    ctx.accounts.record(user, f"corrected the outcome to “{STAGE_WORDS.get(status, status)}”: {reason.strip()}", referral_id.hex())
    return see_other("/referrals")


@requires("staff")
async def answer_request(request: web.Request) -> web.StreamResponse:
    ctx = request.app[WEB]
    request_id = ctx.talent.resolve(request.match_info["request_id"], "REQUEST_ID")
    if request.match_info["answer"] == "approve":
        form = await request.post()
        req = R.ReferralAnswer.approve({"id": request_id.hex(), "consent_evidence": str(form.get("consent_evidence", ""))})
        try:
            ctx.talent.approve_request(request_id, req.text)
        except UserError as exc:
            if exc.field != "consent_evidence":
                raise
            raise UserError("the candidate's consent does not cover this referral: say how they agreed to it (for example "
                            "“phoned on 3 May, agreed”) in the box next to “Approve and send”; nothing was sent",
                            field="consent_evidence") from exc
        ctx.accounts.record(session_of(request).user.name, "approved the referral request", request_id.hex())
    else:
        form = await request.post()
        answer = R.ReferralAnswer.decline({"id": request_id.hex(), "reason": str(form.get("reason", "")).strip()})
        ctx.talent.decline_request(request_id, answer.text, acted_by=session_of(request).user.name)
        ctx.accounts.record(session_of(request).user.name, "declined the referral request", request_id.hex())
    return see_other("/referrals")


def add_routes(router: web.UrlDispatcher) -> None:
    router.add_get("/referrals", referral_list)
    router.add_post("/referrals/{referral_id:[0-9a-f]{32}}/stage", change_stage)
    router.add_post("/referrals/{referral_id:[0-9a-f]{32}}/correct", correct_outcome)
    router.add_post("/requests/{request_id:[0-9a-f]{32}}/{answer:approve|decline}", answer_request)
