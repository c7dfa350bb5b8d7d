"""Audit across the trust path (issue 13 item 2): a referrer whose employer is not its partner asks
the employer, by a ``proofs`` path call (node/core/path_calls.py), for a checkpoint of its log and an
inclusion proof for each of its statements the bundle shows (the job, the request, the statuses),
checks them, and exports the bundle with them: it verifies offline with the same checks as a bundle
between partners. The employer answers only for its own statements the caller may read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from node.core.errors import UserError
from node.core.path_calls import PathCalls
from node.logs import log_event
from protocol import errors as E
from protocol.audience import Audience
from protocol.card_bundle import VerifiedCard
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.jobs import Job
from protocol.kinds import is_reshareable
from protocol.merkle import inclusion_proof
from protocol.path_proofs import EmployerProofs, check_reply, decode_reply, decode_request, encode_request
from protocol.reshare import hops_of, verify_reshare
from protocol.statement import Statement
from storage.talent import TalentStore

if TYPE_CHECKING:
    from node.core.provenance import Provenance


def register(provenance: Provenance, calls: PathCalls) -> None:
    """Let path calls with op ``proofs`` reach this node's provenance."""

    async def op(origin: bytes, content: bytes) -> bytes:
        return answer_proofs(provenance, origin, decode_request(content)).encode()

    calls.ops["proofs"] = op


def answer_proofs(provenance: Provenance, origin: bytes, statement_ids: list[bytes]) -> EmployerProofs:
    """Our card, a checkpoint covering the named statements (signed now if the last one does not) and
    an inclusion proof of each. Only our own statements that ``origin`` may read are proven."""
    statements = [provenance.log.get(sid) for sid in statement_ids]
    for statement in statements:
        if statement is None or not _may_prove(provenance, statement, origin):
            raise RemoteProtocolError(E.BAD_BODY, "a proofs call may name only statements of ours addressed to the caller")
    newest = max(s.seq for s in statements if s is not None)
    found = provenance.latest_checkpoint(provenance.me)
    if found is None or found[1].size < newest:
        provenance.checkpoint(force=True)
        found = provenance.latest_checkpoint(provenance.me)
    assert found is not None
    cp_statement, cp = found
    leaves = provenance.ids(provenance.me, cp.size)
    proofs = {s.id: inclusion_proof(leaves, s.seq - 1) for s in statements if s is not None}
    log_event("audit.proofs-given", origin=origin, statements=len(proofs))
    return EmployerProofs(provenance.federation.service.card_bundle(), cp_statement, proofs)


def _may_prove(provenance: Provenance, statement: Statement, origin: bytes) -> bool:
    """Ours, and readable by ``origin``: public, addressed to it, or shared with every partner and
    re-shareable far enough to have reached it (a job with hops >= 2)."""
    if statement.author != provenance.me:
        return False
    if not statement.header.private:
        return True
    audience = provenance.log.audience_of(statement.id)
    if audience is None:
        return False
    decoded = Audience.decode(audience)
    if decoded.everyone and not provenance.federation.peers.is_trusted(origin):
        return origin not in decoded.exclude and is_reshareable(statement.kind) and hops_of(statement) >= 2
    return decoded.admits(origin)


def employer_card(provenance: Provenance, employer: bytes, job_id: bytes) -> VerifiedCard:
    """The employer's card as the partner that re-shared its job to us vouched for it."""
    for reshare in provenance.log.of_kind("reshare"):
        if reshare.body is None:
            continue
        verified = verify_reshare(reshare)
        root = verified.root
        if root.author == employer and root.kind == Job.KIND and Job.from_value(root.body_value()).job_id == job_id:
            return verified.author_card
    raise UserError("the employer's card is not held here (no re-share of its job): its proofs cannot be checked; "
                    "run `orgnode sync` so the partner's re-share of the job arrives, then export again")


async def export_referral(provenance: Provenance, calls: PathCalls | None, referral_id: bytes, redact: bool) -> bytes:
    """``Provenance.export_referral``, fetching the employer's side through the path when it is not a partner."""
    row = TalentStore(provenance.db).referral(referral_id)
    if calls is None or row is None or row.referrer != provenance.me or provenance.log.head(row.job_author).seq > 0:
        return provenance.export_referral(referral_id, redact)
    picked, referral = provenance.referral_statements(referral_id, redact)
    needed = [s for s, _ in picked.values() if s.author == referral.job_author]
    card = employer_card(provenance, referral.job_author, referral.job_id)
    try:
        reply = decode_reply(await calls.call(card, referral.job_id, (), "proofs", encode_request([s.id for s in needed])))
        check_reply(reply, referral.job_author, needed)
    except ProtocolError as exc:
        raise UserError(f"the employer's proofs could not be fetched through the trust path ({exc.code}): retry when "
                        "the partners on the path and the employer are reachable") from exc
    return provenance.export_referral(referral_id, redact, fetched={referral.job_author: reply})

