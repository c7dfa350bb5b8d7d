"""Clearing a peer's fork evidence: only by the admin's explicit, recorded decision (issue 10 item 2;
docs/protocol.md section 13.4.2).

"Clear" keeps the branch of the author's log we already hold, archives the evidence of the other one
(``fork_archive``, never deleted), and accepts the author's statements again after the highest seq we
saw of it on either branch: positions up to there are settled and never become evidence again; the
first statement after them continues the log whatever its ``prev`` (the recorded discontinuity).
Checkpoints at settled positions, and roots covering them, are not split-view evidence either
(node/core/provenance.py); a conflict at a later position still is. The penalty the fork earned the
peer (its score, its throttle) is lifted with the decision.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from node.core.errors import UserError
from node.logs import log_event
from storage.fork_decisions import ForkDecision, ForkDecisions

if TYPE_CHECKING:
    from node.core.federation import Federation


def clear_fork(fed: Federation, author: bytes, *, admin: str, reason: str) -> ForkDecision:
    """Archive ``author``'s fork evidence and record the decision; refused if it has none."""
    decisions = ForkDecisions(fed.service.db)
    decision = decisions.clear(author, admin=admin, reason=reason, now=fed.clock())
    if decision is None:
        raise UserError("this peer has no fork evidence to clear (see `orgnode trust list`)", field="node_id")
    fed.peers.forgive(author)  # the fork's refused statements lowered its score: cleared with the evidence
    log_event("fork.cleared", logging.WARNING, author=author, decision=decision.decision, resume_after=decision.resume_after,
              evidence=len(decision.evidence), seqs=sorted({seq for seq, _, _ in decision.evidence}))
    if fed.peers.is_trusted(author):
        fed.on_trusted(author)  # push and pull again at once: its log continues
    return decision


def decision_view(decision: ForkDecision) -> dict[str, Any]:
    return {"decision": decision.decision, "node_id": decision.author.hex(), "decided_at": decision.decided_at,
            "admin": decision.admin, "reason": decision.reason, "resume_after": decision.resume_after,
            "evidence": [{"seq": seq, "id": sid, "conflicts_with": other} for seq, sid, other in decision.evidence]}


def fork_history(fed: Federation, author: bytes | None) -> list[dict[str, Any]]:
    return [decision_view(d) for d in ForkDecisions(fed.service.db).history(author)]


def resume_point(fed: Federation, author: bytes) -> int:
    """What our pull asks after: our head, or the seq an admin's decision resumes the author's log after."""
    head = fed.service.log.head(author).seq
    resume = ForkDecisions(fed.service.db).resume_after(author) if fed.service.log.forked_before(author) else None
    return head if resume is None else max(head, resume)
