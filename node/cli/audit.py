"""CLI commands for provenance: ``audit export``, ``audit verify`` (offline) and ``impact``."""

from __future__ import annotations

import argparse
import base64
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli.common import admin, command, emit, group, json_option
from node.core.errors import UserError
from node.formats.audit_words import CHECK_WORDS, FIGURE_WORDS, NOT_CHECKED, applies, figure_words
from node.safe_files import write_private
from node.terminal import safe_text

if TYPE_CHECKING:
    from protocol.audit import AuditReport


def _write(path: str, data: bytes) -> None:
    """Exports go through the one safe writer: 0600, never through a symlink (node/safe_files.py)."""
    write_private(Path(path), data)


def _check_writable(path: str) -> None:
    """Fail before the node does any work (or signs anything) if the output cannot be written."""
    target = Path(path)
    if target.is_symlink():
        raise UserError(f"refusing to write {path}: it is a symbolic link (remove it or choose another file)")
    parent = target.parent if str(target.parent) else Path(".")
    if not parent.is_dir():
        raise UserError(f"cannot write {path}: the folder {parent} does not exist")
    if (target.exists() and not os.access(target, os.W_OK)) or not os.access(parent, os.W_OK):
        raise UserError(f"cannot write {path}: permission denied")


def cmd_audit_export(args: argparse.Namespace) -> int:
    _check_writable(args.output)
    data = admin(args).call("POST", "/audit/export", {"id": args.referral_id, "redact": args.redact}, timeout=120)
    _write(args.output, base64.b64decode(data["bundle"]))
    erased = bool(data.get("profile_erased"))
    emit(args, {"output": args.output, "bytes": data["bytes"], "profile_erased": erased},
             f"Wrote audit bundle ({data['bytes']} bytes) to {args.output}\nAn auditor checks it with `orgnode audit verify {args.output}`."
             + ("\nThe candidate was erased on this node: the bundle carries their profile only as its signed commitment, "
                "and the log checks still pass." if erased else ""))
    return 0




def cmd_audit_verify(args: argparse.Namespace) -> int:
    from protocol.audit import verify
    from protocol.audit_bundle import AuditInputError

    try:
        data = Path(args.file).read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {args.file}: {exc.strerror}", 2, code="unreadable-file") from exc
    try:
        report = verify(data)
    except AuditInputError as exc:  # not a bundle at all: nothing to judge valid or not (exit 2, not 1)
        # The detail is the decoder's (msgpack, field names): say in plain words what to do next.
        detail = str(exc).rstrip(".")
        if "not supported" in detail:
            raise UserError(f"{detail}; it was written by a newer orgnode: verify it with that release (upgrade orgnode)",
                            2, code="not-a-bundle") from exc
        raise UserError(f"{detail}; give the file `orgnode audit export` or `orgnode impact --export` wrote, copied whole "
                        "(as a binary file, not pasted as text)", 2, code="not-a-bundle") from exc
    if args.json:
        emit(args, report.to_json(), "")
    else:
        print(report_text(report))
    return 0 if report.valid else 1


def report_text(report: AuditReport) -> str:
    """An audit report for people: who (each organization by the name on its verified card, with the
    fingerprint to compare), when (the period its records span), what was proven, what is only noted,
    and what each check means — passed, failed, or not run after the failure."""
    from node.formats.cli_json import rfc3339
    from protocol.audit import CHECKS
    from protocol.identity import fingerprint_for

    def named(node: bytes) -> str:
        return report.organizations.get(node) or f"an organization not known by name (fingerprint {fingerprint_for(node)})"

    kind = f"referral {report.subject.hex()}" if report.subject else "an impact report"
    lines = [f"Audit bundle for {kind}, exported by {named(report.exported_by)} on {rfc3339(report.exported_at)}"]
    if report.organizations:
        width = max(len(name) for name in report.organizations.values())
        lines.append("Organizations (by the name on each one's verified card; the fingerprint is what its admins compare):")
        lines += [f"  {name:<{width}}  fingerprint {fingerprint_for(node)}"
                  for node, name in sorted(report.organizations.items(), key=lambda item: (item[1], item[0]))]
    if report.period:
        lines.append(f"Period: records signed from {rfc3339(report.period[0])} to {rfc3339(report.period[1])}")
    lines += [f"  proven: {fact}" for fact in report.facts]
    lines += [f"  note:   {note}" for note in report.notes]
    # A check with nothing to check in this kind of bundle passed, but proved nothing: said as such.
    # An impact report's figures are only set once its ``impact`` check has run.
    kind_of = {"about_referral": report.subject is not None, "has_impact_report": bool(report.figures)}
    lines += [f"  ok      {name}: {CHECK_WORDS.get(name, name)}" if applies(name, **kind_of)
              else f"  n/a     {name}: {NOT_CHECKED[name]}" for name in report.passed]
    if report.failed:
        failed = report.failed
        where = f" (record {failed.statement.hex()[:16]}…)" if failed.statement else ""
        lines.append(f"  FAILED  {failed.check}: {CHECK_WORDS.get(failed.check, failed.check)} — not so: {failed.detail}{where}")
        done = {*report.passed, failed.check}
        lines += [f"  not run {name}: {CHECK_WORDS.get(name, name)} (the checks stop at the first failure)"
                  for name in CHECKS if name not in done]
    lines += [f"  figure  {figure_words(name)}: {value}" for name, value in sorted(report.figures.items())]
    lines.append("VALID: every check passed" if report.valid else "INVALID: the check named FAILED above did not hold")
    # One line each, escaped on its own: names and details come from the bundle (untrusted), and a line
    # break in one must not forge a line of the report.
    return "\n".join(safe_text(line, multiline=False) for line in lines)


_FIGURES = tuple(FIGURE_WORDS.items())


def cmd_impact(args: argparse.Namespace) -> int:
    if args.export:
        _check_writable(args.export)
    data = admin(args).call("POST", "/impact", {"since": args.since, "export": bool(args.export)}, timeout=120)
    live: dict[str, Any] = {}
    if args.export:
        _write(args.export, base64.b64decode(data["bundle"]))
        live = data.get("live") or {}
        data = {**data["report"], "export": args.export, "live": live}

    def human() -> str:
        lines = [f"Impact of {data['organization']}" + (f" since {args.since}" if args.since else "")
                 + (f": the signed report in {args.export} (what an auditor can check)" if args.export else ""),
                 f"  jobs filled via referrals    {data['jobs_filled_via_referrals']}",
                 f"  referrals sent / received    {data['referrals_sent']} / {data['referrals_received']}",
                 f"  referrals accepted / hired   {data['referrals_accepted']} / {data['referrals_hired']}",
                 f"  median days to outcome       {data['median_days_to_outcome']}",
                 f"  new partnerships             {data['new_partnerships']}",
                 f"  active peers                 {data['active_peers']}",
                 f"  signed records exchanged     {data['statements_exchanged']}",
                 f"  consent withdrawals          {data['consent_withdrawals']}",
                 f"  erasures acknowledged        {data['erasures_acknowledged']}"]
        for p in data["partners"]:
            lines.append(f"  partner {p['name'] or p['node_id'][:16]}: sent {p['referrals_sent_to']}, received "
                         f"{p['referrals_received_from']}, hires {p['hires']}, records {p['statements_received']}")
        for item in data.get("left_out", []):
            lines.append(f"  left out of the signed report: {item['statements']} record(s) of "
                         f"{item.get('name') or item['node_id'][:16]}: {item['reason']}")
        beyond = [f"{label} {live[key]}" for key, label in _FIGURES if key in live and live[key] != data.get(key)]
        if beyond:
            lines.append("  this node's own records count more than the signed report can prove: " + ", ".join(beyond)
                         + " (`orgnode impact` without --export shows them all)")
        if args.export:
            lines.append(f"Signed report written to {args.export}; verify with `orgnode audit verify {args.export}`.")
        return "\n".join(lines)

    emit(args, data, human)
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    inner = group(sub, common, "audit", "export and verify referral provenance bundles")
    p = command(inner, common, "export", cmd_audit_export, "write a self-contained audit bundle for one referral", json_flag=False)
    p.add_argument("referral_id")
    p.add_argument("--output", "-o", required=True, help="the bundle file to write")
    p.add_argument("--redact", action="store_true", help="leave the candidate's profile out even if they consented to audit disclosure")
    json_option(p)
    p = command(inner, common, "verify", cmd_audit_verify, "verify a bundle offline: no node, no network, no home needed",
                json_flag=False, description="verify an audit bundle offline; exit 0 valid, 1 invalid, 2 unusable")
    p.add_argument("file")
    json_option(p)

    p = command(sub, common, "impact", cmd_impact, "this organization's impact: referrals, hires, partnerships, engagement")
    p.add_argument("--since", help="count from this date (YYYY-MM-DD, or an RFC 3339 time)")
    p.add_argument("--export", metavar="FILE", help="also write a signed, verifiable impact report bundle")
