"""CLI commands for jobs: post, update, import, export, list, close and match-candidate.

They talk to the running node over the admin socket (``node/http/talent_api.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from node.cli.common import admin, call, command, emit, emit_page, fetch_pages, group, page_options
from node.core.errors import UserError
from node.formats.json_text import posting_input
from node.safe_files import write_private
from node.terminal import safe_json_text


def reach_words(hops: int) -> str:
    """How far a job travels, in words (``hops`` stays the technical term in --json and docs)."""
    if hops <= 1:
        return " only (they do not pass it on)"
    return f", who may pass it on: up to {hops} organizations away"


def cmd_job_post(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/jobs/post", {
        "title": args.title, "skills": args.skills, "description": args.description, "location": args.location,
        "remote": args.remote, "hybrid": args.hybrid, "employment_type": args.employment_type, "salary": args.salary,
        "valid_through": args.valid_through, "hops": args.hops})
    emit(args, {"id": data["id"]}, f"Posted job {data['id']} — shared with your trusted partners" + reach_words(args.hops))
    return 0


def cmd_job_update(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/jobs/update", {
        "id": args.id, "title": args.title, "skills": args.skills, "description": args.description,
        "valid_through": args.valid_through, "hops": args.hops, "salary": args.salary})
    emit(args, data, f"Job {data['id']} updated (version {data['version']}); partners get the new version.")
    return 0


def cmd_job_import(args: argparse.Namespace) -> int:
    try:
        text = Path(args.file).read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise UserError(f"{args.file} is not UTF-8 text: {exc.reason}; save it as UTF-8 and import it again") from exc
    request: dict[str, Any] = {"hops": args.hops, "skills": args.skills, "update": args.update, **posting_input(text, args.file)}
    data = call(args, "POST", "/jobs/import", request)

    def human() -> str:
        first = (f"Updated job {data['id']} from the posting (now version {data['version']}): {data['title']}" if data["updated"]
                 else f"Imported and posted job {data['id']}: {data['title']}")
        lines = [first,
                 f"  matched on skills: {', '.join(data['skills'])}"]
        if data["kept"]:
            lines.append(f"  kept but not used for matching: {', '.join(data['kept'])}")
        if data["ignored"]:
            lines.append(f"  ignored: {'; '.join(data['ignored'])}")
        return "\n".join(lines)

    emit(args, data, human)
    return 0


def cmd_job_export(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/jobs/export", {"id": args.id})
    text = safe_json_text(json.dumps(data, indent=2, ensure_ascii=False))  # a partner's title must not drive the terminal
    if args.output:
        write_private(Path(args.output), (text + "\n").encode())
        print(f"Wrote schema.org JobPosting JSON-LD to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_job_list(args: argparse.Namespace) -> int:
    client = admin(args)
    listed = fetch_pages(args, lambda limit, offset: client.call(
        "POST", "/jobs/list", {"mine": args.mine, "limit": limit, "offset": offset}, timeout=30))
    jobs = listed.items

    def human() -> str:
        if not jobs:
            return "No jobs yet: `orgnode job post --title … --skills …` posts one."
        lines = [f"{'ID':<34} {'STATUS':<8} {'HOPS':<4} {'FROM':<24} {'VIA':<18} TITLE"]
        for j in jobs:
            lines.append(f"{j['id']:<34} {j['status']:<8} {j['hops']:<4} {(j['author_name'] or j['author'][:16])[:24]:<24} "
                         f"{(j.get('via_name') or (j['via'] or '-')[:16])[:18]:<18} {j['title']}")
        return "\n".join(lines)

    emit_page(args, listed, "jobs", human)
    return 0


def cmd_job_close(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/jobs/close", {"id": args.id, "filled_by": args.filled_by})
    if data.get("already_closed"):
        state = "filled by that referral" if data["status"] == "filled" else "closed"
        emit(args, data, f"Job {data['id']} is already {state} (version {data['version']}); nothing changed.")
    else:
        emit(args, data, f"Job {data['id']} is now {data['status']} (version {data['version']}); partners are told.")
    return 0


def cmd_job_match_candidate(args: argparse.Namespace) -> int:
    jobs = call(args, "POST", "/jobs/match-candidate", {"id": args.candidate_id})

    def human() -> str:
        if not jobs:
            return "No open job fits this candidate."
        return "\n".join(f"{j['score']:>3}%  {j['id']}  {j['title']}  ({j['author_name']})  matched: {', '.join(j['matched'])}"
                         f"{'' if j['consent_covers'] else '  [not referable: ' + str(j.get('consent_gap')) + ']'}" for j in jobs)

    emit(args, jobs, human)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    job = group(sub, common, "job", "post, import, export, list and close jobs")
    p = command(job, common, "post", cmd_job_post, "post a job to trusted partners")
    p.add_argument("--title", required=True)
    p.add_argument("--skills", required=True, help='comma-separated, e.g. "python, project management"')
    p.add_argument("--description", default="")
    p.add_argument("--location", help='"City, Region, Country"')
    where = p.add_mutually_exclusive_group()
    where.add_argument("--remote", action="store_true", help="fully remote")
    where.add_argument("--hybrid", action="store_true", help="partly remote")
    p.add_argument("--employment-type", help="FULL_TIME, PART_TIME, CONTRACTOR, TEMPORARY, INTERN, VOLUNTEER (comma-separated)")
    p.add_argument("--salary", help='e.g. "EUR 30000-38000/YEAR" or "USD 40/HOUR"')
    p.add_argument("--valid-through", help="last day the job is offered (YYYY-MM-DD, or an RFC 3339 time)")
    p.add_argument("--hops", type=int, default=1, help="how far partners may re-share it (1 = direct partners only)")
    p = command(job, common, "update", cmd_job_update, "publish a new version of one of your open jobs")
    p.add_argument("id")
    p.add_argument("--title")
    p.add_argument("--skills", help='the new full skill list, comma-separated')
    p.add_argument("--description")
    p.add_argument("--valid-through", help="last day the job is offered (YYYY-MM-DD, or an RFC 3339 time)")
    p.add_argument("--hops", type=int, help="how far partners may re-share it")
    p.add_argument("--salary", help='e.g. "EUR 30000-38000/YEAR"')
    p = command(job, common, "import", cmd_job_import,
                "post a job from a schema.org JobPosting: a JSON-LD file (a posting, an @graph) or an HTML page with one")
    p.add_argument("file")
    p.add_argument("--skills", help='the skills to match on, comma-separated (replace the posting\'s own; needed when it has none)')
    p.add_argument("--hops", type=int, default=1, help="how far partners may re-share it")
    p.add_argument("--update", action="store_true",
                   help="if a job was already posted from this posting (same identifier, else url), replace it with a new "
                        "version instead of refusing")
    p = command(job, common, "export", cmd_job_export, "print a job as schema.org JobPosting JSON-LD")
    p.add_argument("id")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p = command(job, common, "list", cmd_job_list, "list own and received jobs")
    p.add_argument("--mine", action="store_true", help="only this organization's jobs")
    page_options(p, "jobs")
    p = command(job, common, "close", cmd_job_close, "close a job, or mark it filled by a referral")
    p.add_argument("id")
    p.add_argument("--filled-by", metavar="REFERRAL_ID", help="the referral that filled it (credits the referrer)")
    p = command(job, common, "match-candidate", cmd_job_match_candidate, "find open jobs (own and received) that fit one of your candidates")
    p.add_argument("candidate_id")
