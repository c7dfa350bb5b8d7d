"""CLI commands for candidates and their consent: add, list, update, erase, report; consent give/withdraw
(import and export: node/cli/candidate_files.py).

Candidates never leave this node without consent; these commands talk to the running node over the
admin socket (``node/http/talent_api.py``).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any
from urllib.parse import urlencode

from node.cli.common import (
    admin,
    and_words,
    call,
    command,
    emit,
    emit_page,
    evidence,
    fetch_pages,
    group,
    org,
    page_options,
    scope_words,
    when,
    withdrawal_text,
)
from node.core.errors import UserError

SCOPE_HELP = ('who may receive them: "all" (any organization: trusted partners and '
              'organizations known through them, e.g. a partner\'s partner whose job was re-shared here), '
              '"sector:nonprofit", "node:<id>" (several: space- or comma-separated)')


def _consent_words(scope_text: str) -> str:
    return scope_words(scope_text.replace(",", " ").split(), {})


def cmd_candidate_add(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/candidates/add", {
        "name": args.name, "email": args.email, "phone": args.phone, "location": args.location, "skills": args.skills,
        "medal": args.medal, "for_job": args.for_job, "consent": args.consent, "consent_scope": args.consent_scope,
        "consent_expires": args.consent_expires, "consent_evidence": evidence(args.consent_evidence), "notes": args.notes})
    emit(args, data, f"Added candidate {data['id']}" + (
        f" with consent {data['consent_id']} for {_consent_words(args.consent_scope)}" if data["consent_id"] else
        " (no consent recorded: invisible to partners)"))
    return 0


def cmd_candidate_list(args: argparse.Namespace) -> int:
    client = admin(args)
    filters = urlencode([("skill", skill) for skill in args.skill or []]
                        + [(name, value) for name in ("medal", "consent", "search") if (value := getattr(args, name)) is not None])
    listed = fetch_pages(args, lambda limit, offset: client.call(
        "GET", f"/candidates?limit={limit}&offset={offset}{'&' + filters if filters else ''}", timeout=30))
    candidates = listed.items

    def human() -> str:
        if not candidates:
            if filters:
                return "No candidate fits these filters."
            return "No candidates yet: `orgnode candidate add` or `orgnode candidate import FILE.csv`."
        lines = []
        for c in candidates:
            consent = ", ".join(f"{'+'.join(k['purposes'])} [{' '.join(k['scope'])}] {listed_state(k)}" for k in c["consents"]) or "no consent"
            lines.append(f"{c['id']}  {c['name']:<24} {', '.join(c['skills'])[:40]:<40}  {consent}")
            for d in c["disclosures"]:
                lines.append(f"      referred to {d['recipient_name'] or d['recipient'][:16]} ({d['referral_id'][:8]}…)"
                             + withdrawal_text(d))
        return "\n".join(lines)

    emit_page(args, listed, "candidates", human)
    return 0


def cmd_candidate_update(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/candidates/update", {
        "id": args.candidate_id, "name": args.name, "email": args.email, "phone": args.phone, "location": args.location,
        "skills": args.skills, "medal": args.medal, "for_job": args.for_job, "notes": args.notes})
    earlier = data["recipients_with_earlier_copy"]
    emit(args, data, f"Updated candidate {data['id']} ({', '.join(data['changed'])})."
          + (f" {earlier} earlier referral(s) carried the old profile: `orgnode candidate report {data['id'][:8]}` lists "
             "the recipients, if the candidate wants them told." if earlier else ""))
    return 0


def cmd_consent_give(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/consent/give", {
        "id": args.candidate_id, "consent": args.consent, "consent_scope": args.consent_scope,
        "consent_expires": args.consent_expires, "consent_evidence": evidence(args.consent_evidence)})
    emit(args, data, f"Recorded consent {data['consent_id']} for {'+'.join(data['purposes'])} [{' '.join(data['scope'])}: {scope_words(data['scope'], {})}]"
          + (f", until {when(data['expires_at'])}" if data["expires_at"] else "") + " (signed in this node's log).")
    return 0


def _confirm_erase(args: argparse.Namespace) -> None:
    """Erasure cannot be undone: ask on the terminal, or require --yes when there is none."""
    if args.yes or args.json:
        if not args.yes:
            raise UserError("erasing cannot be undone: with --json, also give --yes")
        return
    report = call(args, "POST", "/candidates/report", {"id": args.candidate_id})
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
    data = call(args, "POST", "/candidates/erase", {"id": args.candidate_id})

    def human() -> str:
        lines = [("Erasure retried for" if data["already_erased"] else "Erased") + f" candidate {data['candidate']}: "
                 f"{data['consents_withdrawn']} consent(s) withdrawn, {data['statement_bodies_erased']} sent profile(s) "
                 "erased from this node's log (signed headers stay, so the log still verifies)."]
        if data["recipients_notified"]:
            lines.append(f"Asked {and_words(data['notified_names'])} to erase it; their receipts show in "
                         f"`orgnode candidate report {data['candidate'][:8]}`.")
        if data["recipients_told_before"]:
            # Truthful on a repeated erase: the first erase (not a withdrawal) may have told them.
            when = ("(by the consent withdrawal or an earlier erasure)" if data["already_erased"]
                    else "when the consent was withdrawn")
            lines.append(f"{len(data['recipients_told_before'])} recipient(s) had already been asked to erase it {when}.")
        for down in data.get("receipts_waiting_for", []):
            lines.append(f"Their erasure receipt{receipt_waiting_text(down)}.")
        if data["recipients_waiting_for_a_path"]:
            lines.append(f"{len(data['recipients_waiting_for_a_path'])} recipient(s) have no trust path now: their withdrawal "
                         "is kept and goes out by itself as soon as there is one (`orgnode candidate list` shows it).")
        return "\n".join(lines)

    emit(args, data, human)
    return 0


def receipt_waiting_text(down: dict[str, Any] | None) -> str:
    """``: waiting for PARTNER (unreachable since …)`` for a receipt that waits on a partner that is down."""
    if not down:
        return ""
    return f": waiting for {down['name'] or down['node_id'][:16]} (unreachable since {down['unreachable_since']})"


def report_text(r: dict[str, Any]) -> str:
    """A subject-access report in plain words (GDPR Art. 15), for an admin to answer the person."""
    names = {d["recipient"]: d["recipient_name"] for d in r["disclosures"]}
    lines = [f"Subject-access report for candidate {r['candidate']}, generated {when(r['generated_at'])}.",
             f"Recorded on this node on {when(r['created_at'])}.", "", "Data held about the person:"]
    if r["erased"]:
        lines.append(f"  none: the candidate was erased on {when(r['erased_at'])}. Only ids, dates and the records below remain.")
    else:
        labels = {"name": "name", "email": "email", "phone": "phone", "location": "location", "skills": "skills",
                  "medal": "runner-up medal", "for_job": "interviewed for", "notes": "staff notes (never sent)"}
        for key, label in labels.items():
            value = r["data_held"].get(key)
            if value:
                lines.append(f"  {label}: {', '.join(value) if isinstance(value, list) else value}")
    lines += ["", "Consent history:"]
    for c in r["consents"] or []:
        lines.append(f"  consent {c['id'][:8]}… to {' and '.join(c['purposes'])}, for {scope_words(c['scope'], names)}; "
                     f"fields {', '.join(c['fields'])}; recorded {when(c['collected_at'])}"
                     + (f", expires {when(c['expires_at'])}" if c["expires_at"] else "")
                     + f"; now {'in force' if c['state'] == 'given' else c['state']}"
                     + (f", replaced by the newer consent {c['replaced_by_id'][:8]}… recorded {when(c['replaced_at'])}"
                        if c["state"] == "given" and c.get("replaced_by_id") else ""))
        if c["evidence"]:
            lines.append(f"    evidence: {c['evidence']}")
        for h in c["history"]:
            lines.append(f"    {when(h['at'])}: {h['state']}" + (f" ({h['note']})" if h["note"] else ""))
    if not r["consents"]:
        lines.append("  no consent was ever recorded.")
    lines += ["", "Disclosures (the person's profile was sent to):"]
    for d in r["disclosures"]:
        job = f"the job {d['job_title']!r}" if d["job_title"] else "a job no longer known here"
        lines.append(f"  {when(d['at'])}: to {org(d['recipient_name'], d['recipient'])} for {job}"
                     f" under consent {d['consent_id'][:8]}…"
                     f" (fields {', '.join(d['fields']) or '-'}); referral {d['referral_id'][:8]}…, now {d['status']}")
        if d["withdrawal"]:
            lines.append(f"    asked to erase it on {when(d['withdrawal']['at'])}"
                         + (f"; erasure receipt received {when(d['erasure_receipt']['at'])}" if d["erasure_receipt"]
                            else f"; no erasure receipt yet{receipt_waiting_text(d.get('erasure_waiting_for'))}"))
    if not r["disclosures"]:
        lines.append("  none: the profile was never sent to another organization.")
    lines += ["", "Erasure receipts:"]
    lines += [f"  {when(e['at'])} from {org(e['from_name'], e['from'])} for referral {e['referral_id'][:8]}…"
              for e in r["erasure_receipts"]] or ["  none."]
    if r["match_offers"] or r["referral_requests"]:
        lines += ["", "Matching (only a pseudonym and a score left this node, no personal data):"]
        lines += [f"  {when(o['at'])}: offered as a match to {org(o['to_name'], o['to'])} for {o['job_title']!r}"
                  for o in r["match_offers"]]
        lines += [f"  {when(q['at'])}: {org(q['from_name'], q['from'])} asked for a referral for {q['job_title']!r} ({q['state']})"
                  for q in r["referral_requests"]]
    return "\n".join(lines)


def listed_state(consent: dict[str, Any]) -> str:
    """A consent's state in a list line: a renewed one says it was replaced (both stay in force)."""
    if consent["state"] == "given" and consent.get("replaced_by_id"):
        return f"given (replaced by {consent['replaced_by_id'][:8]}…)"
    return str(consent["state"])


def cmd_candidate_report(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/candidates/report", {"id": args.candidate_id})
    emit(args, data, lambda: report_text(data))
    return 0


def cmd_consent_withdraw(args: argparse.Namespace) -> int:
    data = call(args, "POST", "/consent/withdraw", {"id": args.candidate_id})
    asked = (f"asked {and_words(data['notified_names'])} to erase the candidate's data; `orgnode candidate list` shows "
             "their acknowledgements." if data["notified_names"] else "no organization had received their data.")
    emit(args, data, f"Consent withdrawn; {asked}")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    cand = group(sub, common, "candidate", "add, import and list candidates (they never leave this node without consent)")
    p = command(cand, common, "add", cmd_candidate_add, "add a candidate, optionally with recorded consent")
    p.add_argument("--name", required=True)
    p.add_argument("--email", required=True)
    p.add_argument("--phone")
    p.add_argument("--location")
    p.add_argument("--skills", required=True, help='comma-separated, e.g. "youth work, first aid"')
    p.add_argument("--medal", choices=["silver", "bronze"], help="they were a runner-up in one of your hires")
    p.add_argument("--for-job", help="the job they interviewed for")
    p.add_argument("--consent", help="what they agreed to: match, refer (comma-separated)")
    p.add_argument("--consent-scope", help="required with --consent: " + SCOPE_HELP)
    p.add_argument("--consent-expires", help="consent expiry date (YYYY-MM-DD, or an RFC 3339 time)")
    p.add_argument("--consent-evidence", help="how consent was given: text, or a file (its hash is signed)")
    p.add_argument("--notes", help="staff notes about the candidate (stay on this node, never sent)")
    from node.cli import candidate_files

    candidate_files.register(cand, common)
    p = command(cand, common, "list", cmd_candidate_list, "list candidates with their consent and disclosures")
    p.add_argument("--skill", action="append", help="only those with this skill (repeat: all of them); synonyms count")
    p.add_argument("--medal", choices=["silver", "bronze"], help="only those with this runner-up medal")
    p.add_argument("--consent", choices=["match", "refer", "none"],
                   help="only those whose consent in force allows this (none: no consent in force)")
    p.add_argument("--search", help="only those whose name or email contains this text (any case)")
    page_options(p, "candidates")
    p = command(cand, common, "update", cmd_candidate_update, "correct a candidate's details (only the fields given change)")
    p.add_argument("candidate_id")
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--phone", help='"" clears it')
    p.add_argument("--location", help='"" clears it')
    p.add_argument("--skills", help="the new full skill list, comma-separated")
    p.add_argument("--medal", choices=["silver", "bronze", "none"], help="none clears it")
    p.add_argument("--for-job", help='the job they interviewed for ("" clears it)')
    p.add_argument("--notes", help='staff notes (stay on this node, never sent; "" clears them)')
    p = command(cand, common, "erase", cmd_candidate_erase,
             "erase a candidate and every copy of their data on this node; every recipient is asked to erase it too")
    p.add_argument("candidate_id")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation (erasure cannot be undone)")
    p = command(cand, common, "report", cmd_candidate_report,
             "everything held about a candidate and every disclosure, for a subject-access request")
    p.add_argument("candidate_id")

    consent = group(sub, common, "consent", "manage candidates' consent")
    p = command(consent, common, "give", cmd_consent_give, "record a new or renewed consent for a candidate already added")
    p.add_argument("candidate_id")
    p.add_argument("--consent", required=True, help="what they agreed to: match, refer, audit (comma-separated)")
    p.add_argument("--consent-scope", required=True, help=SCOPE_HELP)
    p.add_argument("--consent-expires", help="consent expiry date (YYYY-MM-DD, or an RFC 3339 time)")
    p.add_argument("--consent-evidence", required=True, help="how consent was given: text, or a file (its hash is signed)")
    p = command(consent, common, "withdraw", cmd_consent_withdraw, "withdraw a candidate's consent; every recipient must erase their data")
    p.add_argument("candidate_id")
