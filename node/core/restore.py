"""Own-log recovery after a restore (issue 10 item 2; docs/protocol.md section 13.4.1).

A home restored from an old backup holds less of its own log than the node already signed. Its
partners hold that log; these functions serve it back to its author and take it in, so the node
resumes after the highest seq it ever used instead of reusing one (a fork).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from node.core.errors import UserError
from node.logs import log_event
from protocol import errors as E
from protocol.errors import RemoteProtocolError
from protocol.sealing import open_statement_body, seal_statement_body
from protocol.statement import Envelope, SealedContent, Statement
from protocol.sync import MAX_BATCH, MAX_BATCH_BYTES, Batch, PullRequest

if TYPE_CHECKING:
    from node.core.federation import Federation

REFUSED = ("this node was restored from a backup and has not yet relearned its own latest statements from every partner, "
           "so it does not sign anything yet (that could fork its log): wait for `orgnode sync` to reach every partner, "
           "or run `orgnode restore-done --force` if a partner is gone for good")


def restore_pending(fed: Federation) -> bool:
    """Restored from a backup and not yet resynced with every partner: signing now could fork."""
    return fed.service.home.restored_path.exists()


def refuse_while_pending(fed: Federation) -> None:
    """Before any own append: a pending restore could make it reuse a sequence number."""
    if restore_pending(fed):
        raise UserError(REFUSED)


def finish_restore(fed: Federation, reason: str) -> None:
    """Allow own appends again: every partner answered our resync (or the admin overrode it, logged)."""
    if restore_pending(fed):
        fed.service.home.restored_path.unlink(missing_ok=True)
        log_event("restore.resynced", logging.WARNING if reason == "override" else logging.INFO, reason=reason,
                  own_seq=fed.service.log.head(fed.me).seq)
        fed.retry_reactions()  # reactions to partners' statements waited: they may sign


def serve_own_recovery(fed: Federation, origin: bytes, request: PullRequest) -> Batch | None:
    """A have vector whose only entry is the asker's own id asks for the asker's own statements we hold
    after that seq (docs/protocol.md section 13.4.1); None for an ordinary pull."""
    have = dict(request.have)
    if origin == fed.me or set(have) != {origin}:
        return None
    return recovery_batch(fed, origin, fed.service.log.statements(origin, after_seq=have[origin], limit=MAX_BATCH + 1))


def recovery_batch(fed: Federation, author: bytes, statements: list[Statement]) -> Batch:
    """The asker's own statements as we hold them: public ones whole, private ones sealed back to
    their author (who wrote the body), or the header alone when we hold no body (erased, not ours)."""
    envelopes: list[bytes] = []
    size = 0
    keys = fed.encryption_keys(author)
    for statement in statements[:MAX_BATCH]:
        if not statement.header.private:
            envelope = Envelope.of(statement).encode()
        else:
            content = seal_statement_body(statement, author, keys) if statement.body is not None and keys is not None else None
            envelope = Envelope(statement.header_bytes, statement.signature, content).encode()
        if envelopes and size + len(envelope) > MAX_BATCH_BYTES:
            break
        envelopes.append(envelope)
        size += len(envelope)
    return Batch(tuple(envelopes), more=len(envelopes) < len(statements))


def own_recovery_request(fed: Federation) -> PullRequest:
    return PullRequest(((fed.me, fed.service.log.head(fed.me).seq),))


def take_own_recovered(fed: Federation, origin: bytes, batch: Batch) -> int:
    """Store our own statements a partner gave back (own-log recovery); queue them for every other
    partner, which may have missed them. Returns how many were new. Anything not ours is refused."""
    now = fed.clock()
    appended: list[Statement] = []
    with fed.service.db.atomic():
        for raw in batch.envelopes:
            envelope = Envelope.decode(raw)
            statement = envelope.open_plain()
            if statement.author != fed.me:
                raise RemoteProtocolError(E.WRONG_AUTHOR, "an own-log recovery answer holds another author's statement")
            if isinstance(envelope.content, SealedContent):
                statement = open_statement_body(statement, envelope.content, fed.service.identity)
            result = fed.service.log.ingest(statement, received_from=None, now=now)
            appended.extend(result.appended)
        others = [p.node_id for p in fed.peers.trusted() if p.node_id != origin]
        for statement in appended:
            fed.peers.enqueue(statement.id, statement.seq, others, now)
    if appended:
        log_event("restore.recovered", peer=origin, count=len(appended), own_seq=fed.service.log.head(fed.me).seq)
        fed.on_outbox(others)
    return len(appended)
