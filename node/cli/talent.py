"""CLI commands of the talent exchange: jobs, candidates, consent, matching and referrals.

All of them talk to the running node over the admin socket (``node/http/talent_api.py``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from node.core.errors import UserError
from node.safe_files import write_private
from node.terminal import safe_json_text


def _cli() -> Any:
    from node.cli import main as cli

    return cli


def _call(args: argparse.Namespace, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
    return _cli().admin(args).call(method, path, body, timeout=timeout)


def _emit(args: argparse.Namespace, data: Any, human: Any) -> None:
    _cli().emit(args, data, human)


# --- jobs ------------------------------------------------------------------------------------------


def cmd_job_post(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/jobs/post", {
        "title": args.title, "skills": args.skills, "description": args.description, "location": args.location,
        "remote": args.remote, "hybrid": args.hybrid, "employment_type": args.employment_type, "salary": args.salary,
        "valid_through": args.valid_through, "hops": args.hops})
    _emit(args, {"id": data["id"]}, f"Posted job {data['id']} — shared with trusted partners (hops={args.hops})")
    return 0


def cmd_job_update(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/jobs/update", {
        "id": args.id, "title": args.title, "skills": args.skills, "description": args.description,
        "valid_through": args.valid_through, "hops": args.hops, "salary": args.salary})
    _emit(args, data, f"Job {data['id']} updated (version {data['version']}); partners get the new version.")
    return 0


def cmd_job_import(args: argparse.Namespace) -> int:
    try:
        document = json.loads(Path(args.file).read_text())
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from exc
    except ValueError as exc:
        raise UserError(f"{args.file} is not JSON: {exc}") from exc
    data = _call(args, "POST", "/jobs/import", {"jsonld": document, "hops": args.hops})
    _emit(args, data, f"Imported and posted job {data['id']}: {data['title']}")
    return 0


def cmd_job_export(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/jobs/export", {"id": args.id})
    text = safe_json_text(json.dumps(data, indent=2, ensure_ascii=False))  # a partner's title must not drive the terminal
    if args.output:
        write_private(Path(args.output), (text + "\n").encode())
        print(f"Wrote schema.org JobPosting JSON-LD to {args.output}", file=sys.stderr)
    else:
        print(text)
    return 0


def cmd_job_list(args: argparse.Namespace) -> int:
    jobs = _call(args, "POST", "/jobs/list", {"mine": args.mine})

    def human() -> str:
        if not jobs:
            return "No jobs yet: `orgnode job post --title … --skills …` posts one."
        lines = [f"{'ID':<34} {'STATUS':<8} {'HOPS':<4} {'FROM':<24} {'VIA':<18} TITLE"]
        for j in jobs:
            lines.append(f"{j['id']:<34} {j['status']:<8} {j['hops']:<4} {(j['author_name'] or j['author'][:16])[:24]:<24} "
                         f"{(j.get('via_name') or (j['via'] or '-')[:16])[:18]:<18} {j['title']}")
        return "\n".join(lines)

    _emit(args, jobs, human)
    return 0


def cmd_job_close(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/jobs/close", {"id": args.id, "filled_by": args.filled_by})
    _emit(args, data, f"Job {data['id']} is now {data['status']} (version {data['version']}); partners are told.")
    return 0


def cmd_job_match_candidate(args: argparse.Namespace) -> int:
    jobs = _call(args, "POST", "/jobs/match-candidate", {"id": args.candidate_id})

    def human() -> str:
        if not jobs:
            return "No open job fits this candidate."
        return "\n".join(f"{j['score']:>3}%  {j['id']}  {j['title']}  ({j['author_name']})  matched: {', '.join(j['matched'])}"
                         f"{'' if j['consent_covers'] else '  [consent does not cover this org]'}" for j in jobs)

    _emit(args, jobs, human)
    return 0


# --- candidates and consent ---------------------------------------------------------------------------


def _evidence(text: str | None) -> str:
    if text and Path(text).is_file():
        return Path(text).read_text()
    return text or ""


SCOPE_HELP = ('who may receive them: "all" (any organization: trusted partners and '
              'organizations known through them, e.g. a partner\'s partner whose job was re-shared here), '
              '"sector:nonprofit", "node:<id>" (several: space- or comma-separated)')


def _check_consent_flags(args: argparse.Namespace) -> None:
    """No silent default for who may receive a candidate: the widest scope is never implied, and a
    scope without a consent is refused instead of recording nothing."""
    if args.consent and not (args.consent_scope or "").strip():
        raise UserError('say who may receive the candidate: --consent-scope "sector:nonprofit" (or "node:<id>", or "all" '
                        "for any organization, partners' partners included); nothing was recorded")
    if not args.consent and (args.consent_scope or "").strip():
        raise UserError("--consent-scope says who may receive a consent: also give --consent match,refer "
                        "(and --consent-evidence); nothing was recorded")


def _consent_words(scope_text: str) -> str:
    return _scope_words(scope_text.replace(",", " ").split(), {})


def cmd_candidate_add(args: argparse.Namespace) -> int:
    _check_consent_flags(args)
    data = _call(args, "POST", "/candidates/add", {
        "name": args.name, "email": args.email, "phone": args.phone, "location": args.location, "skills": args.skills,
        "medal": args.medal, "for_job": args.for_job, "consent": args.consent, "consent_scope": args.consent_scope,
        "consent_expires": args.consent_expires, "consent_evidence": _evidence(args.consent_evidence), "notes": args.notes})
    _emit(args, data, f"Added candidate {data['id']}" + (
        f" with consent {data['consent_id']} for {_consent_words(args.consent_scope)}" if data["consent_id"] else
        " (no consent recorded: invisible to partners)"))
    return 0


def cmd_candidate_import(args: argparse.Namespace) -> int:
    from node.formats.candidate_csv import parse_candidates_csv

    try:
        raw = Path(args.file).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Spreadsheet programs on Windows save "CSV" in Windows-1252 unless told to use UTF-8.
        text = raw.decode("cp1252", errors="replace")
        print(f"note: {args.file} is not UTF-8; read it as Windows-1252 (save as \"CSV UTF-8\" to avoid this)", file=sys.stderr)
    rows, errors = parse_candidates_csv(text)
    imported: list[str] = []
    failures: list[dict[str, Any]] = [{"row": e.row, "column": e.column, "error": e.message} for e in errors]
    total = len(rows)
    for index, row in enumerate(rows, 1):
        try:
            data = _call(args, "POST", "/candidates/add", {
                "name": row.name, "email": row.email, "phone": row.phone, "location": row.location, "skills": ", ".join(row.skills),
                "medal": row.medal, "for_job": row.for_job, "consent": ",".join(row.consent), "consent_scope": row.consent_scope,
                "consent_expires": row.consent_expires, "consent_evidence": row.consent_evidence})
            imported.append(data["id"])
        except UserError as exc:
            failures.append({"row": row.row, "column": None, "error": str(exc)})
        if not args.json and (index % 25 == 0 or index == total):
            print(f"\r  imported {index}/{total}", end="", file=sys.stderr, flush=True)
    if not args.json and total:
        print(file=sys.stderr)
    failures.sort(key=lambda f: f["row"])
    report = {"imported": len(imported), "ids": imported, "errors": failures}
    _emit(args, report, lambda: "\n".join([f"Imported {len(imported)} candidate(s)"
                                           + (f"; {len({f['row'] for f in failures})} row(s) with errors:" if failures else ".")]
                                          + [f"  row {f['row']}{' (' + f['column'] + ')' if f['column'] else ''}: {f['error']}"
                                             for f in failures]))
    return 0 if not failures else 1


def cmd_candidate_list(args: argparse.Namespace) -> int:
    candidates = _call(args, "GET", "/candidates")

    def human() -> str:
        if not candidates:
            return "No candidates yet: `orgnode candidate add` or `orgnode candidate import FILE.csv`."
        lines = []
        for c in candidates:
            consent = ", ".join(f"{'+'.join(k['purposes'])} [{' '.join(k['scope'])}] {k['state']}" for k in c["consents"]) or "no consent"
            lines.append(f"{c['id']}  {c['name']:<24} {', '.join(c['skills'])[:40]:<40}  {consent}")
            for d in c["disclosures"]:
                lines.append(f"      referred to {d['recipient_name'] or d['recipient'][:16]} ({d['referral_id'][:8]}…)"
                             + withdrawal_text(d))
        return "\n".join(lines)

    _emit(args, candidates, human)
    return 0


def cmd_candidate_update(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/candidates/update", {
        "id": args.candidate_id, "name": args.name, "email": args.email, "phone": args.phone, "location": args.location,
        "skills": args.skills, "medal": args.medal, "for_job": args.for_job, "notes": args.notes})
    earlier = data["recipients_with_earlier_copy"]
    _emit(args, data, f"Updated candidate {data['id']} ({', '.join(data['changed'])})."
          + (f" {earlier} earlier referral(s) carried the old profile: `orgnode candidate report {data['id'][:8]}` lists "
             "the recipients, if the candidate wants them told." if earlier else ""))
    return 0


def cmd_consent_give(args: argparse.Namespace) -> int:
    _check_consent_flags(args)
    data = _call(args, "POST", "/consent/give", {
        "id": args.candidate_id, "consent": args.consent, "consent_scope": args.consent_scope,
        "consent_expires": args.consent_expires, "consent_evidence": _evidence(args.consent_evidence)})
    _emit(args, data, f"Recorded consent {data['consent_id']} for {'+'.join(data['purposes'])} [{' '.join(data['scope'])}: {_scope_words(data['scope'], {})}]"
          + (f", until {_when(data['expires_at'])}" if data["expires_at"] else "") + " (signed in this node's log).")
    return 0


def _confirm_erase(args: argparse.Namespace) -> None:
    """Erasure cannot be undone: ask on the terminal, or require --yes when there is none."""
    if args.yes or args.json:
        if not args.yes:
            raise UserError("erasing cannot be undone: with --json, also give --yes")
        return
    report = _call(args, "POST", "/candidates/report", {"id": args.candidate_id})
    name = report["data_held"].get("name") or "(already erased)"
    if not sys.stdin.isatty():
        raise UserError("erasing cannot be undone and there is no terminal to confirm on: run it again with --yes")
    from node.terminal import safe_text

    print(safe_text(f"Erase candidate {name} ({report['candidate']}) and every copy of their data on this node?\n"
                    f"{len(report['disclosures'])} recipient organization(s) will be asked to erase it too. This cannot be undone."))
    answer = input("Type 'erase' to confirm: ")
    if answer.strip().lower() != "erase":
        raise UserError("not erased (confirmation not given)")


def cmd_candidate_erase(args: argparse.Namespace) -> int:
    _confirm_erase(args)
    data = _call(args, "POST", "/candidates/erase", {"id": args.candidate_id})

    def human() -> str:
        lines = [("Erasure retried for" if data["already_erased"] else "Erased") + f" candidate {data['candidate']}: "
                 f"{data['consents_withdrawn']} consent(s) withdrawn, {data['statement_bodies_erased']} sent profile(s) "
                 "erased from this node's log (signed headers stay, so the log still verifies)."]
        if data["recipients_notified"]:
            lines.append(f"{len(data['recipients_notified'])} recipient(s) asked to erase it; their receipts show in "
                         f"`orgnode candidate report {data['candidate'][:8]}`.")
        if data["recipients_told_before"]:
            # Truthful on a repeated erase: the first erase (not a withdrawal) may have told them.
            when = ("(by the consent withdrawal or an earlier erasure)" if data["already_erased"]
                    else "when the consent was withdrawn")
            lines.append(f"{len(data['recipients_told_before'])} recipient(s) had already been asked to erase it {when}.")
        if data["recipients_waiting_for_a_path"]:
            lines.append(f"{len(data['recipients_waiting_for_a_path'])} recipient(s) have no trust path now: their withdrawal "
                         "is kept and goes out by itself as soon as there is one (`orgnode candidate list` shows it).")
        return "\n".join(lines)

    _emit(args, data, human)
    return 0


def _when(ms: int | None) -> str:
    import datetime as dt

    if ms is None:
        return "-"
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def _org(name: str | None, node_id: str) -> str:
    return f"{name or 'an organization not known by name'} (node {node_id[:16]}…)"


def _scope_words(scope: list[str], names: dict[str, str | None]) -> str:
    words = []
    for item in scope:
        if item == "all":
            words.append("any organization (trusted partners and organizations known through them)")
        elif item.startswith("sector:"):
            words.append(f"organizations of the {item[7:]} sector")
        elif item.startswith("node:"):
            words.append(f"only {_org(names.get(item[5:]), item[5:])}")
        else:
            words.append(item)
    return " or ".join(words)


def report_text(r: dict[str, Any]) -> str:
    """A subject-access report in plain words (GDPR Art. 15), for an admin to answer the person."""
    names = {d["recipient"]: d["recipient_name"] for d in r["disclosures"]}
    lines = [f"Subject-access report for candidate {r['candidate']}, generated {_when(r['generated_at'])}.",
             f"Recorded on this node on {_when(r['created_at'])}.", "", "Data held about the person:"]
    if r["erased"]:
        lines.append(f"  none: the candidate was erased on {_when(r['erased_at'])}. Only ids, dates and the records below remain.")
    else:
        labels = {"name": "name", "email": "email", "phone": "phone", "location": "location", "skills": "skills",
                  "medal": "runner-up medal", "for_job": "interviewed for", "notes": "staff notes (never sent)"}
        for key, label in labels.items():
            value = r["data_held"].get(key)
            if value:
                lines.append(f"  {label}: {', '.join(value) if isinstance(value, list) else value}")
    lines += ["", "Consent history:"]
    for c in r["consents"] or []:
        lines.append(f"  consent {c['id'][:8]}… to {' and '.join(c['purposes'])}, for {_scope_words(c['scope'], names)}; "
                     f"fields {', '.join(c['fields'])}; recorded {_when(c['collected_at'])}"
                     + (f", expires {_when(c['expires_at'])}" if c["expires_at"] else "")
                     + f"; now {'in force' if c['state'] == 'given' else c['state']}")
        if c["evidence"]:
            lines.append(f"    evidence: {c['evidence']}")
        for h in c["history"]:
            lines.append(f"    {_when(h['at'])}: {h['state']}" + (f" ({h['note']})" if h["note"] else ""))
    if not r["consents"]:
        lines.append("  no consent was ever recorded.")
    lines += ["", "Disclosures (the person's profile was sent to):"]
    for d in r["disclosures"]:
        job = f"the job {d['job_title']!r}" if d["job_title"] else "a job no longer known here"
        lines.append(f"  {_when(d['at'])}: to {_org(d['recipient_name'], d['recipient'])} for {job}"
                     f" under consent {d['consent_id'][:8]}…"
                     f" (fields {', '.join(d['fields']) or '-'}); referral {d['referral_id'][:8]}…, now {d['status']}")
        if d["withdrawal"]:
            lines.append(f"    asked to erase it on {_when(d['withdrawal']['at'])}"
                         + (f"; erasure receipt received {_when(d['erasure_receipt']['at'])}" if d["erasure_receipt"]
                            else "; no erasure receipt yet"))
    if not r["disclosures"]:
        lines.append("  none: the profile was never sent to another organization.")
    lines += ["", "Erasure receipts:"]
    lines += [f"  {_when(e['at'])} from {_org(e['from_name'], e['from'])} for referral {e['referral_id'][:8]}…"
              for e in r["erasure_receipts"]] or ["  none."]
    if r["match_offers"] or r["referral_requests"]:
        lines += ["", "Matching (only a pseudonym and a score left this node, no personal data):"]
        lines += [f"  {_when(o['at'])}: offered as a match to {_org(o['to_name'], o['to'])} for {o['job_title']!r}"
                  for o in r["match_offers"]]
        lines += [f"  {_when(q['at'])}: {_org(q['from_name'], q['from'])} asked for a referral for {q['job_title']!r} ({q['state']})"
                  for q in r["referral_requests"]]
    return "\n".join(lines)


def cmd_candidate_report(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/candidates/report", {"id": args.candidate_id})
    _emit(args, data, lambda: report_text(data))
    return 0


def withdrawal_text(d: dict[str, Any]) -> str:
    """The state of a withdrawal in words: acknowledged, or sent and not yet acknowledged (and the
    partners it was retried through, issue 8 item 8)."""
    if d["acknowledged"]:
        return "; erasure acknowledged"
    if not d["withdrawal_sent"]:
        return ""
    w = d.get("withdrawal") or {}
    vias = [v["name"] or v["id"][:16] for v in w.get("via", [])]
    if w.get("state") == "no-path":
        return "; withdrawal not sent yet: no partner on the way to the recipient now; it goes out as soon as there is one"
    if w.get("attempts", 1) > 1:
        return f"; withdrawal sent, not yet acknowledged, retried via {vias[-1]} ({w['attempts']} sends through {', '.join(vias)})"
    return "; withdrawal sent, not yet acknowledged" + (f" (via {vias[0]})" if vias else "")


def cmd_consent_withdraw(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/consent/withdraw", {"id": args.candidate_id})
    _emit(args, data, f"Consent withdrawn; {len(data['recipients_notified'])} recipient(s) asked to erase the candidate's data. "
                      "`orgnode candidate list` shows their acknowledgements.")
    return 0


# --- matching and referrals ----------------------------------------------------------------------------


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
    hits = [j for j in _call(args, "POST", "/jobs/list", {}) if wanted and j["id"].startswith(wanted)]
    if len(hits) != 1:
        return False
    if not hits[0]["mine"]:
        raise UserError("that job is a partner's: `match` asks partners about your own jobs. For a partner's job, find "
                        "your candidates with `orgnode job match-candidate CANDIDATE_ID`, then `orgnode refer CANDIDATE_ID JOB_ID`")
    return bool(hits[0]["status"] == "open")


def cmd_match(args: argparse.Namespace) -> int:
    if _check_match_target(args) and not args.json:
        print("Asking trusted partners…", file=sys.stderr, flush=True)
    data = _call(args, "POST", "/match", {"id": args.job_id, "deadline": args.deadline}, timeout=args.deadline + 30)

    def human() -> str:
        lines = [f"Matches for {data['title']!r}{' (PARTIAL: some partners did not answer)' if data['partial'] else ''}:"]
        for r in data["results"]:
            lines.append(f"  {r['score']:>3}%  pseudonym {r['pseudonym']}  at {r['holder_name'] or r['holder'][:16]}"
                         f"  matched: {', '.join(r['matched'])}")
        if not data["results"]:
            lines.append("  nobody yet")
        for p in data["peers"]:
            lines.append(f"  {p['name'] or p['node_id'][:16]}: " + (f"{p['offers']} offer(s)" if p["answered"] else f"no answer ({p['error']})"))
        lines.append("Ask for one with `orgnode referral request JOB_ID PSEUDONYM`.")
        return "\n".join(lines)

    _emit(args, data, human)
    return 0


def _referral_lines(referrals: list[dict[str, Any]]) -> str:
    if not referrals:
        return "No referrals yet."
    lines = []
    for r in referrals:
        who = ""
        if r.get("candidate"):
            who = f"  candidate: {r['candidate'].get('name', '?')} <{r['candidate'].get('email', '?')}>"
        lines.append(f"{r['id']}  job {r['job_id'][:8]}…  {r['from_name'] or r['from'][:16]} → {r['to_name'] or r['to'][:16]}"
                     f"  {r['status']}{(' (' + r['reason'] + ')') if r.get('reason') else ''}{who}")
        if r.get("withdrawal"):
            w = r["withdrawal"]
            lines.append("      " + withdrawal_text({"acknowledged": w["state"] == "acknowledged", "withdrawal_sent": True,
                                                     "withdrawal": w}).lstrip("; "))
    return "\n".join(lines)


def cmd_referral_request(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/referrals/request", {"job_id": args.job_id, "pseudonym": args.pseudonym})
    _emit(args, data, f"Referral requested ({data['id']}); the holder sends the profile if the candidate's consent covers you.")
    return 0


def cmd_referral_list(args: argparse.Namespace) -> int:
    data = _call(args, "GET", "/referrals")
    _emit(args, data, lambda: _referral_lines(data))
    return 0


def cmd_referral_pending(args: argparse.Namespace) -> int:
    data = _call(args, "GET", "/referrals/pending")
    _emit(args, data, lambda: "\n".join(f"{p['id']}  {p['from_name']} asks for {p['candidate']['name'] if p['candidate'] else '?'}"
                                        f" for {p['job_title']!r}" for p in data) or "No referral requests waiting.")
    return 0


def cmd_referral_approve(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/referrals/approve", {"id": args.id, "consent_evidence": _evidence(args.consent_evidence)})
    _emit(args, data, f"Referral {data['id']} sent to {data['to_name']}.")
    return 0


def cmd_referral_decline(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/referrals/decline", {"id": args.id, "reason": args.reason})
    _emit(args, data, f"Request {data['id']} declined; the asking organization is told.")
    return 0


def cmd_referral_update(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/referrals/update", {"id": args.id, "status": args.status, "reason": args.reason})
    _emit(args, data, f"Referral {data['id']} is now {data['status']}; the other organization is told.")
    return 0


def cmd_refer(args: argparse.Namespace) -> int:
    data = _call(args, "POST", "/refer", {"candidate_id": args.candidate_id, "job_id": args.job_id, "note": args.note})
    _emit(args, data, f"Referred the candidate to {data['to_name']} (referral {data['id']}).")
    return 0


def register(sub: Any, common: argparse.ArgumentParser, add: Any) -> None:
    from node.cli.main import COMMANDS

    def group(name: str, help_text: str) -> Any:
        parser = sub.add_parser(name, help=help_text, description=help_text, parents=[common])
        inner = parser.add_subparsers(dest=f"{name}_command", metavar="ACTION")
        inner.required = True
        return inner

    def leaf(inner: Any, group_name: str, name: str, fn: Any, help_text: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = inner.add_parser(name, help=help_text, description=help_text, parents=[common])
        p.add_argument("--json", action="store_true", help="print JSON for scripts")
        p.set_defaults(func=fn)
        COMMANDS[f"{group_name} {name}"] = fn
        return p

    job = group("job", "post, import, export, list and close jobs")
    p = leaf(job, "job", "post", cmd_job_post, "post a job to trusted partners")
    p.add_argument("--title", required=True)
    p.add_argument("--skills", required=True, help='comma-separated, e.g. "python, project management"')
    p.add_argument("--description", default="")
    p.add_argument("--location", help='"City, Region, Country"')
    where = p.add_mutually_exclusive_group()
    where.add_argument("--remote", action="store_true", help="fully remote")
    where.add_argument("--hybrid", action="store_true", help="partly remote")
    p.add_argument("--employment-type", help="FULL_TIME, PART_TIME, CONTRACTOR, TEMPORARY, INTERN, VOLUNTEER (comma-separated)")
    p.add_argument("--salary", help='e.g. "EUR 30000-38000/YEAR" or "USD 40/HOUR"')
    p.add_argument("--valid-through", help="last day the job is offered (YYYY-MM-DD)")
    p.add_argument("--hops", type=int, default=1, help="how far partners may re-share it (1 = direct partners only)")
    p = leaf(job, "job", "update", cmd_job_update, "publish a new version of one of your open jobs")
    p.add_argument("id")
    p.add_argument("--title")
    p.add_argument("--skills", help='the new full skill list, comma-separated')
    p.add_argument("--description")
    p.add_argument("--valid-through", help="last day the job is offered (YYYY-MM-DD)")
    p.add_argument("--hops", type=int, help="how far partners may re-share it")
    p.add_argument("--salary", help='e.g. "EUR 30000-38000/YEAR"')
    p = leaf(job, "job", "import", cmd_job_import, "post a job from a schema.org JobPosting JSON-LD file")
    p.add_argument("file")
    p.add_argument("--hops", type=int, default=1, help="how far partners may re-share it")
    p = leaf(job, "job", "export", cmd_job_export, "print a job as schema.org JobPosting JSON-LD")
    p.add_argument("id")
    p.add_argument("--output", "-o", help="write to this file instead of stdout")
    p = leaf(job, "job", "list", cmd_job_list, "list own and received jobs")
    p.add_argument("--mine", action="store_true", help="only this organization's jobs")
    p = leaf(job, "job", "close", cmd_job_close, "close a job, or mark it filled by a referral")
    p.add_argument("id")
    p.add_argument("--filled-by", metavar="REFERRAL_ID", help="the referral that filled it (credits the referrer)")
    p = leaf(job, "job", "match-candidate", cmd_job_match_candidate, "find open jobs (own and received) that fit one of your candidates")
    p.add_argument("candidate_id")

    cand = group("candidate", "add, import and list candidates (they never leave this node without consent)")
    p = leaf(cand, "candidate", "add", cmd_candidate_add, "add a candidate, optionally with recorded consent")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--phone")
    p.add_argument("--location")
    p.add_argument("--skills", required=True, help='comma-separated, e.g. "youth work, first aid"')
    p.add_argument("--medal", choices=["silver", "bronze"], help="they were a runner-up in one of your hires")
    p.add_argument("--for-job", help="the job they interviewed for")
    p.add_argument("--consent", help="what they agreed to: match, refer (comma-separated)")
    p.add_argument("--consent-scope", help="required with --consent: " + SCOPE_HELP)
    p.add_argument("--consent-expires", help="consent expiry date (YYYY-MM-DD)")
    p.add_argument("--consent-evidence", help="how consent was given: text, or a file (its hash is signed)")
    p.add_argument("--notes", help="staff notes about the candidate (stay on this node, never sent)")
    p = leaf(cand, "candidate", "import", cmd_candidate_import, "import candidates from a CSV file (reports bad rows, imports good ones)")
    p.add_argument("file")
    leaf(cand, "candidate", "list", cmd_candidate_list, "list candidates with their consent and disclosures")
    p = leaf(cand, "candidate", "update", cmd_candidate_update, "correct a candidate's details (only the fields given change)")
    p.add_argument("candidate_id")
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--phone", help='"" clears it')
    p.add_argument("--location", help='"" clears it')
    p.add_argument("--skills", help="the new full skill list, comma-separated")
    p.add_argument("--medal", choices=["silver", "bronze", "none"], help="none clears it")
    p.add_argument("--for-job", help='the job they interviewed for ("" clears it)')
    p.add_argument("--notes", help='staff notes (stay on this node, never sent; "" clears them)')
    p = leaf(cand, "candidate", "erase", cmd_candidate_erase,
             "erase a candidate and every copy of their data on this node; every recipient is asked to erase it too")
    p.add_argument("candidate_id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (erasure cannot be undone)")
    p = leaf(cand, "candidate", "report", cmd_candidate_report,
             "everything held about a candidate and every disclosure, for a subject-access request")
    p.add_argument("candidate_id")

    consent = group("consent", "manage candidates' consent")
    p = leaf(consent, "consent", "give", cmd_consent_give, "record a new or renewed consent for a candidate already added")
    p.add_argument("candidate_id")
    p.add_argument("--consent", required=True, help="what they agreed to: match, refer, audit (comma-separated)")
    p.add_argument("--consent-scope", required=True, help=SCOPE_HELP)
    p.add_argument("--consent-expires", help="consent expiry date (YYYY-MM-DD)")
    p.add_argument("--consent-evidence", required=True, help="how consent was given: text, or a file (its hash is signed)")
    p = leaf(consent, "consent", "withdraw", cmd_consent_withdraw, "withdraw a candidate's consent; every recipient must erase their data")
    p.add_argument("candidate_id")

    p = add("match", cmd_match, "ask trusted partners which of their consented candidates fit one of your jobs")
    p.add_argument("job_id")
    p.add_argument("--deadline", type=match_deadline, default=10.0,
                   help=f"seconds to wait for partners, more than 0 and at most {MAX_MATCH_DEADLINE:g} (default 10)")

    ref = group("referral", "request, approve, track and update referrals")
    p = leaf(ref, "referral", "request", cmd_referral_request, "ask the holder of a matched candidate for a referral")
    p.add_argument("job_id")
    p.add_argument("pseudonym")
    leaf(ref, "referral", "list", cmd_referral_list, "list referrals sent and received, with their status")
    leaf(ref, "referral", "pending", cmd_referral_pending, "list referral requests waiting for staff")
    p = leaf(ref, "referral", "approve", cmd_referral_approve, "send the profile for a pending request")
    p.add_argument("id")
    p.add_argument("--consent-evidence", help="how the candidate agreed to this referral (needed when their consent does not cover it)")
    p = leaf(ref, "referral", "decline", cmd_referral_decline, "decline a pending request")
    p.add_argument("id")
    p.add_argument("--reason", default="")
    p = leaf(ref, "referral", "update", cmd_referral_update, "record a referral's progress; the referrer is told")
    p.add_argument("id")
    p.add_argument("--status", required=True, choices=["received", "in_process", "hired", "not_hired", "declined", "withdrawn"])
    p.add_argument("--reason", default="")

    p = add("refer", cmd_refer, "refer one of your candidates to a partner's job on your own initiative (consent required)")
    p.add_argument("candidate_id")
    p.add_argument("job_id")
    p.add_argument("--note", default="")
