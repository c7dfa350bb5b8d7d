"""A referral's history in plain words, as the CLI (``referral show``) and the dashboard print it.

One line per step, a correction after the outcome it corrects, so both stay visible: who set what,
when, why, and which staff member did it. A partner's staff name is its node's untrusted word (the
signed ``acted_by``, docs/protocol.md 15.9): it is quoted and marked as theirs; callers escape it
for their medium (the CLI's ``emit`` escapes control characters, the dashboard's templates escape HTML).
"""

from __future__ import annotations

from typing import Any

from node.formats.cli_json import rfc3339

STATUS_WORDS = {"requested": "asked for", "sent": "sent", "received": "received", "in_process": "in process",
                "interview": "interview", "offer": "offer", "hired": "hired", "not_hired": "not hired",
                "declined": "declined", "withdrawn": "withdrawn", "expired": "expired"}


def words(status: str) -> str:
    return STATUS_WORDS.get(status, status)


def when(ms: int) -> str:
    """``2026-12-03 14:05 UTC``: a step's time for people."""
    return rfc3339(ms)[:16].replace("T", " ") + " UTC"


def step_line(step: dict[str, Any], previous: dict[str, Any] | None) -> str:
    """One step: ``<when>  <org> <did what>[: “reason”][ (by …)][ — corrected below]``."""
    who = "this organization" if step["ours"] else (step["by_name"] or f"node {step['by'][:16]}")
    if step["corrects_statement_id"] is not None:
        before = words(previous["status"]) if previous else "the outcome"
        did = f"corrected “{before}” to “{words(step['status'])}”"
    elif step["status"] == "sent":
        did = "sent the referral"
    else:
        did = f"set it to “{words(step['status'])}”"
    line = f"{when(step['at'])}  {who} {did}"
    if step["reason"]:
        line += f": “{step['reason']}”"
    if step["acted_by"]:
        line += f" (by {step['acted_by']})" if step["ours"] else f" (by “{step['acted_by']}”, as their node says)"
    if step["corrected"]:
        line += " — corrected below"
    return line


def history_lines(history: list[dict[str, Any]]) -> list[str]:
    """Every step of a referral's ``history`` (``TalentViews.referral_view``) as a line of words."""
    by_id = {s["statement_id"]: s for s in history}
    return [step_line(s, by_id.get(s["corrects_statement_id"] or "")) for s in history]
