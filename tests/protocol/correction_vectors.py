"""Test vectors for outcome corrections and staff names (docs/protocol.md 15.9, 15.10; section 21).

A's seq 8 is a ``referral_correction`` (A, the job's org, corrects the hire recorded by statement
``be`` × 32 to ``not_hired``, naming its staff member); ``status_with_acted_by`` is the seq 7 status
body with ``acted_by``. The rejected bodies each change one field and MUST be refused with the code
given; the rejected contexts are valid bodies that ``check_correction`` MUST refuse against the
lifecycle steps given (unknown target, wrong author, no outcome, stale, unchanged status).
Kept apart from make_vectors.py, which calls it, so each file stays one idea.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from protocol.codec import encode
from protocol.corrections import ReferralCorrection
from protocol.identity import Identity
from protocol.referrals import ReferralStatus
from protocol.statement import Statement, sign_statement

CORRECTS = b"\xbe" * 32  # stands for the id of the status that recorded the hire
CORRECTION_SALT = b"\xbf" * 32
CORRECTION_TS = 1767226020000
CORRECTION_REASON = "The candidate did not start"
STAFF_NAME = "sam"
OTHER_ORG = b"\xc1" * 32  # the referrer, in the rejected contexts
LATER = b"\xc2" * 32  # a correction that follows the hire, making it stale


def correction_statement(signer: Identity, referral_id: bytes, prev: bytes) -> Statement:
    body = ReferralCorrection(referral_id, CORRECTS, "not_hired", CORRECTION_REASON, STAFF_NAME).to_value()
    return sign_statement(signer, kind=ReferralCorrection.KIND, seq=8, prev=prev, now=CORRECTION_TS, body=body,
                          private=True, salt=CORRECTION_SALT)


def rejected_bodies(body: dict[str, Any]) -> list[dict[str, str]]:
    cases = [("status received (not an outcome's correction)", {"status": "received"}, "malformed"),
             ("reason empty", {"reason": ""}, "malformed"),
             ("reason only spaces", {"reason": "   "}, "malformed"),
             ("reason of 201 characters", {"reason": "x" * 201}, "too-large"),
             ("reason with an escape character", {"reason": "did not \x1b[2Jstart"}, "malformed"),
             ("reason with a line break", {"reason": "did not\nstart"}, "malformed"),
             ("acted_by of 65 characters", {"acted_by": "s" * 65}, "too-large"),
             ("acted_by with a right-to-left override", {"acted_by": "sam\u202e"}, "malformed"),
             ("acted_by empty", {"acted_by": ""}, "malformed"),
             ("corrects of 31 bytes", {"corrects": b"\xbe" * 31}, "malformed")]
    return [{"case": case, "body": encode({**body, **change}).hex(), "code": code} for case, change, code in cases]


def rejected_contexts(job_org: bytes) -> list[dict[str, Any]]:
    """(case, the correction's signer, the step named by ``corrects`` or None, the latest step, detail)."""
    def step(sid: bytes, kind: str, author: bytes, status: str) -> dict[str, str]:
        return {"statement_id": sid.hex(), "kind": kind, "author": author.hex(), "status": status}

    hired = step(CORRECTS, "referral_status", job_org, "hired")
    later = step(LATER, "referral_correction", job_org, "not_hired")
    return [
        {"case": "signed by the referrer", "signer": OTHER_ORG.hex(), "target": hired, "latest": hired,
         "detail": "only the job's organization may correct"},
        {"case": "unknown target", "signer": job_org.hex(), "target": None, "latest": hired, "detail": "is unknown"},
        {"case": "wrong author (the referrer's declined)", "signer": job_org.hex(),
         "target": step(CORRECTS, "referral_status", OTHER_ORG, "declined"), "latest": None, "detail": "other organization's"},
        {"case": "target not an outcome", "signer": job_org.hex(),
         "target": step(CORRECTS, "referral_status", job_org, "offer"), "latest": None, "detail": "sets no outcome"},
        {"case": "stale target (already corrected)", "signer": job_org.hex(), "target": hired, "latest": later,
         "detail": "is stale"},
        {"case": "status unchanged", "signer": job_org.hex(), "target": step(CORRECTS, "referral_status", job_org, "not_hired"),
         "latest": step(CORRECTS, "referral_status", job_org, "not_hired"), "detail": "already not_hired"},
    ]


def vectors(signer: Identity, referral_id: bytes, prev: bytes, status_body: dict[str, Any],
            statement_vector: Callable[[Statement], dict[str, Any]]) -> dict[str, Any]:
    s = correction_statement(signer, referral_id, prev)
    named = ReferralStatus.from_value({**status_body, "acted_by": STAFF_NAME}).to_value()
    return {**statement_vector(s), "referral_id": referral_id.hex(), "corrects": CORRECTS.hex(), "status": "not_hired",
            "reason": CORRECTION_REASON, "acted_by": STAFF_NAME, "status_with_acted_by": encode(named).hex(),
            "rejected_bodies": rejected_bodies(ReferralCorrection.from_value(s.body_value()).to_value()),
            "rejected_contexts": rejected_contexts(signer.node_id)}


def markdown(cv: dict[str, Any], block: Callable[[str, object], None], lines: list[str]) -> None:
    lines.append("### Referral correction: A corrects a hire to `not_hired` (seq 8)")
    lines.append("")
    lines.append(f"kind `referral_correction`, seq 8, ts {cv['ts']}, private true, signed with A's rotated key (A is the "
                 f"job's org); `referral_id` `bb` × 16, `corrects` `be` × 32 (standing for the `referral_status` that "
                 f"recorded `hired`), `status` `not_hired`, `reason` \"{cv['reason']}\", `acted_by` \"{cv['acted_by']}\" "
                 "(section 15.10). `status_with_acted_by` is the seq 7 status body with `acted_by` \"sam\" (section 15.9; "
                 "the seq 7 vector is the same body without it).")
    lines.append("")
    for field in ("salt", "body", "body_hash", "header", "signature", "id", "envelope_plain", "envelope_withheld",
                  "status_with_acted_by"):
        block(f"`{field}`", cv[field])
    lines.append("")
    lines.append("Rejected bodies (each the body above with one change; a receiver MUST refuse it with the code given):")
    lines.append("")
    for r in cv["rejected_bodies"]:
        lines.append(f"- {r['case']}: `{r['body']}` → `{r['code']}`")
    lines.append("")
    lines.append("Rejected corrections (a valid body whose rule fails against the referral's steps, `malformed`; a "
                 "receiver ignores it, a signer MUST NOT sign it; `docs/test-vectors.json` gives each step): "
                 + "; ".join(f"{r['case']} (\"{r['detail']}\")" for r in cv["rejected_contexts"]) + f". There the "
                 f"referrer is `{OTHER_ORG.hex()}` and the later correction that makes the hire stale "
                 f"`{LATER.hex()}`; A is the job's org.")
    lines.append("")
