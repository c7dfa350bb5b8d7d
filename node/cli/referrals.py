"""CLI commands for matching and referrals: match, referral request/list/pending/approve/decline/update/correct/show, refer.

They talk to the running node over the admin socket (``node/http/talent_api.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from node.cli.common import call, command, emit, evidence, group, withdrawal_text
from node.core.errors import UserError
from node.formats.referral_history import history_lines, words
from protocol.corrections import CORRECTABLE_TO, MAX_REASON_CHARS
from protocol.referrals import STATUS_UPDATES

MAX_MATCH_DEADLINE = 300.0  # seconds; longer than any partner should take, short enough to notice a typo


def match_deadline(text: str) -> float:
    """``--deadline``: positive seconds, at most MAX_MATCH_DEADLINE (a negative one asked nobody)."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value <= MAX_MATCH_DEADLINE:  # also refuses nan and inf
        raise argparse.ArgumentTypeError(f"must be seconds to wait for partners, more than 0 and at most "
                                         f"{MAX_MATCH_DEADLINE:g} (got {text!r})")
    return value


def _check_match_target(args: argparse.Namespace) -> bool:
    """Refuse a partner's job with the right advice; say whether the job is one of ours and open.

    Runs before the progress line, so a bad job id is not preceded by "Asking trusted partners…".
    Any other problem (unknown or ambiguous id) is left to the node, which names it.
    """
    wanted = args.job_id.strip().lower()
    if not wanted or any(c not in "0123456789abcdef" for c in wanted):
        return False
    hits = call(args, "POST", "/jobs/list", {"id_prefix": wanted, "limit": 2})
    if len(hits) != 1:
        return False
    if not hits[0]["mine"]:
        raise UserError("that job is a partner's: `match` asks partners about your own jobs. For a partner's job, find "
                        "the jobs that fit one of your candidates with `orgnode job match-candidate CANDIDATE_ID`, then "
                        f"`orgnode refer CANDIDATE_ID {hits[0]['id']}`")
    return bool(hits[0]["status"] == "open")


def cmd_match(args: argparse.Namespace) -> int:
    if _check_match_target(args) and not args.json:
        print("Asking trusted partners and the organizations beyond them that hold the job…", file=sys.stderr, flush=True)
    data = call(args, "POST", "/match", {"id": args.job_id, "deadline": args.deadline}, timeout=args.deadline + 30)

    emit(args, data, lambda: _match_lines(data))
    return 0


def _match_lines(data: dict[str, Any]) -> str:
    """The human answer of ``match``: offers best first, each naming its holder and, for one from
    beyond our partners, the partners it came through; then who answered and who did not."""
    lines = [f"Matches for {data['title']!r}{' (PARTIAL: some partners did not answer)' if data['partial'] else ''}:"]
    for r in data["results"]:
        via = "".join(f" via {hop['name'] or hop['node_id'][:16]}" for hop in r.get("via", []))
        lines.append(f"  {r['score']:>3}%  pseudonym {r['pseudonym']}  at {r['holder_name'] or r['holder'][:16]}{via}"
                     f"  matched: {', '.join(r['matched'])}")
    if not data["results"]:
        lines.append("  nobody yet")
    for p in data["peers"]:
        via = "".join(f" via {hop['name'] or hop['node_id'][:16]}" for hop in p.get("via", []))
        lines.append(f"  {p['name'] or p['node_id'][:16]}{via}: "
                     + (f"{p['offers']} offer(s)" if p["answered"] else f"no answer ({p['error']})"))
    lines.append(_next_step(data))
    return "\n".join(lines)


def _next_step(data: dict[str, Any]) -> str:
    """The command to run next, with this job's id and the best offer's pseudonym filled in (ready to
    copy), or, with no offer yet, the same ``match`` to run again later."""
    job = data["job_id"]
    if not data["results"]:
        return f"No offer yet: partners add candidates over time; ask again later with `orgnode match {job}`."
    best = data["results"][0]["pseudonym"]
    other = " (or another pseudonym above in place of the last word)" if len(data["results"]) > 1 else ""
    return f"Ask for the best match with `orgnode referral request {job} {best}`{other}."


def _referral_lines(referrals: list[dict[str, Any]]) -> str:
    if not referrals:
        return "No referrals yet."
    lines = []
    for r in referrals:
        who = ""
        if r.get("candidate"):
            name, email = r["candidate"].get("name") or "", r["candidate"].get("email") or ""
            who = (f"  candidate: {name or '?'} <{email or '?'}>" if name or email
                   else "  candidate: erased (their details are no longer held)")
        # The job by its title (a partner's text: ``emit`` escapes it for the terminal); the id stays in --json.
        job = repr(r["job_title"]) if r.get("job_title") else f"a job no longer held here ({r['job_id'][:8]}…)"
        lines.append(f"{r['id']}  {job}  {r['from_name'] or r['from'][:16]} → {r['to_name'] or r['to'][:16]}"
                     f"  {str(r['status']).replace('_', ' ')}{(' (' + r['reason'] + ')') if r.get('reason') else ''}{who}")
        if r.get("withdrawal"):
            w = r["withdrawal"]
            lines.append("      " + withdrawal_text({"acknowledged": w["state"] == "acknowledged", "withdrawal_sent": True,
                                                     "withdrawal": w}).lstrip("; "))
    return "\n".join(lines)


def cmd_referral_request(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/request", {"job_id": args.job_id, "pseudonym": args.pseudonym})
    emit(args, data, f"Referral {data['id']} requested; the holder sends the profile if the candidate's consent covers "
                     "you. This id names the referral at every step (`orgnode referral list`).")
    return 0


def cmd_referral_list(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/referrals")
    emit(args, data, lambda: _referral_lines(data))
    return 0


def cmd_referral_pending(args: argparse.Namespace) -> int:
    data = call(args, "GET", "/referrals/pending")
    emit(args, data, lambda: pending_lines(data))
    return 0


def pending_lines(data: list[dict[str, Any]]) -> str:
    """Each waiting request, why it waits, and the two commands that answer it (with its id filled in)."""
    lines = []
    for p in data:
        lines.append(f"{p['id']}  {p['from_name']} asks for {p['candidate']['name'] if p['candidate'] else '?'}"
                     f" for {p['job_title']!r}\n      waiting because {p['held_by']['words']} (rule {p['held_by']['rule']})")
        evidence_flag = "" if p["held_by"]["rule"] == "covered-now" else ' --consent-evidence "how the candidate agreed"'
        lines.append(f"      send it: `orgnode referral approve {p['id']}{evidence_flag}`;"
                     f" refuse it: `orgnode referral decline {p['id']}`")
    return "\n".join(lines) or "No referral requests waiting."


def cmd_referral_approve(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/approve", {"id": args.id, "consent_evidence": evidence(args.consent_evidence)})
    emit(args, data, f"Referral {data['id']} sent to {data['to_name']}.")
    return 0


def cmd_referral_decline(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/decline", {"id": args.id, "reason": args.reason})
    emit(args, data, f"Request {data['id']} declined; the asking organization is told.")
    return 0


def cmd_referral_update(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/update", {"id": args.id, "status": args.status, "reason": args.reason})
    emit(args, data, f"Referral {data['id']} moved to “{words(data['status'])}”; the other organization is told.")
    return 0


def cmd_referral_correct(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/correct", {"id": args.id, "status": args.status, "reason": args.reason})

    def text() -> str:
        lines = [f"Referral {data['id']} corrected: its outcome is now “{words(data['status'])}”; the referring organization is told.",
                 "Both the original outcome and the correction stay in its history (`orgnode referral show "
                 f"{data['id'][:8]}`)."]
        if data.get("unfilled_job_id"):
            lines.append(f"Job {data['unfilled_job_id'][:8]} was marked filled by this referral: it is now closed, not "
                         f"filled (mark the hire that filled it with `orgnode job close {data['unfilled_job_id']} --filled-by REFERRAL_ID`).")
        return "\n".join(lines)

    emit(args, data, text)
    return 0


def cmd_referral_show(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/referrals/show", {"id": args.id})

    def text() -> str:
        head = _referral_lines([data])
        return head + "\n  history:\n" + "\n".join("    " + line for line in history_lines(data["history"]))

    emit(args, data, text)
    return 0


def cmd_refer(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/refer", {"candidate_id": args.candidate_id, "job_id": args.job_id, "note": args.note})
    emit(args, data, f"Referred the candidate to {data['to_name']} (referral {data['id']}).")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(sub, common, "match", cmd_match, "ask trusted partners which of their consented candidates fit one of your jobs")
    p.add_argument("job_id")
    p.add_argument("--deadline", type=match_deadline, default=10.0,
                   help=f"seconds to wait for partners, more than 0 and at most {MAX_MATCH_DEADLINE:g} (default 10)")

    ref = group(sub, common, "referral", "request, approve, track and update referrals")
    p = command(ref, common, "request", cmd_referral_request, "ask the holder of a matched candidate for a referral")
    p.add_argument("job_id")
    p.add_argument("pseudonym")
    command(ref, common, "list", cmd_referral_list, "list referrals sent and received, with their status")
    command(ref, common, "pending", cmd_referral_pending, "list referral requests waiting for staff")
    p = command(ref, common, "approve", cmd_referral_approve, "send the profile for a pending request")
    p.add_argument("id")
    p.add_argument("--consent-evidence", help="how the candidate agreed to this referral (needed when their consent does not cover it)")
    p = command(ref, common, "decline", cmd_referral_decline, "decline a pending request")
    p.add_argument("id")
    p.add_argument("--reason", default="")
    p = command(ref, common, "update", cmd_referral_update, "record a referral's progress; the referrer is told")
    p.add_argument("id")
    p.add_argument("--status", required=True, choices=STATUS_UPDATES,
                   help="the new status; interview and offer need the referrer's node to understand them")
    p.add_argument("--reason", default="")

    p = command(ref, common, "correct", cmd_referral_correct,
                "correct a mistaken outcome (hired, not_hired, declined) of a referral to your job; the referrer is told")
    p.add_argument("id")
    p.add_argument("--status", required=True, choices=CORRECTABLE_TO,
                   help="what the outcome should have been; interview and offer need the referrer's node to understand them")
    p.add_argument("--reason", required=True, help=f"why the recorded outcome was wrong (at most {MAX_REASON_CHARS} characters, one line)")
    p = command(ref, common, "show", cmd_referral_show, "show one referral with its whole history, corrections included")
    p.add_argument("id")

    p = command(sub, common, "refer", cmd_refer, "refer one of your candidates to a partner's job on your own initiative (consent required)")
    p.add_argument("candidate_id")
    p.add_argument("job_id")
    p.add_argument("--note", default="")
