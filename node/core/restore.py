"""Own-log recovery after a restore or a rollback (issue 10 item 2; docs/protocol.md section 13.4.1).

A home restored from an old backup, or whose database was replaced by an older copy by any means (a
copied old ``orgnode.db``, a VM snapshot rolled back), holds less of its own log than the node already
signed. Its partners hold that log; these functions serve it back to its author and take it in, so the
node resumes after the highest seq it ever used instead of reusing one (a fork).

Two gates stop own appends (``signing_paused``):

* ``restored.json`` (the restore mark): a rollback is known (``orgnode restore``, the local high-water
  mark ``own_head.json`` above the database's head, or a partner gave back statements we lost). It ends
  only when every partner answered the recovery pull, or by ``orgnode restore-done --force`` (logged).
* the start check (``StartCheck``, in memory): at every start of a node with partners, nothing says a
  rollback happened, but a VM snapshot rolls back the mark too, so the partners are the only truth. It
  ends when every partner answered, or when ``own_log_confirm_timeout`` passed and at least one partner
  answered with nothing newer. With no partner answering it never ends by itself (the admin decides).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.core.errors import UserError
from node.logs import log_event
from node.safe_files import write_private
from protocol import errors as E
from protocol.errors import RemoteProtocolError
from protocol.log import LogHead
from protocol.provenance import Partnership
from protocol.sealing import open_statement_body, seal_statement_body
from protocol.statement import Envelope, SealedContent, Statement
from protocol.sync import MAX_BATCH, MAX_BATCH_BYTES, Batch, PullRequest
from storage.peers import PeerStore

if TYPE_CHECKING:
    from node.core.federation import Federation
    from node.core.service import NodeService
    from node.home import Home

_NOT_YET = ("and has not yet relearned its own latest statements from every partner, so it does not sign anything yet "
            "(that could fork its log): wait for `orgnode sync` to reach every partner, or run `orgnode restore-done --force` "
            "if a partner is gone for good")
REFUSED = "this node was restored from a backup (`orgnode restore`) " + _NOT_YET
ROLLED_BACK_REFUSED = ("this node's database is older than its own log (rolled back: a copied-back orgnode.db or a VM "
                       "snapshot) " + _NOT_YET)
RESTORED, ROLLED_BACK = "restored", "rolled-back"  # restore_reason: what closed the restore gate


WAITING = ("this node is waiting to confirm its own log with its partners after starting (its database may be an "
           "older copy: signing now could fork its log); it signs again as soon as they answered (`orgnode status` "
           "says which did not), or run `orgnode restore-done --force` if no partner can answer")
OFFLINE_REFUSED = ("this node's database is older than what it already signed ({why}), so it signs nothing while stopped: "
                   "start it (`orgnode run`) so it relearns its own log from its partners first, then retry")
OFFLINE_WHY = {RESTORED: "restored from a backup with `orgnode restore`",
               ROLLED_BACK: "rolled back: a copied-back orgnode.db or a VM snapshot"}
HIGH_WATER = "own_head.json"  # outside the database: survives a copied-back orgnode.db, not a VM snapshot


@dataclass
class StartCheck:
    """The start check of this process: own appends wait until partners confirmed our head."""

    pending: bool = False
    since_ms: int = 0
    timeout_ms: int = 60_000
    answered: set[bytes] = field(default_factory=set)
    last_error: dict[bytes, str] = field(default_factory=dict)


def restore_pending(fed: Federation) -> bool:
    """Restored (or rolled back) and not yet resynced with every partner: signing now could fork."""
    return fed.service.home.restored_path.exists()


def restore_reason(home: Home) -> str | None:
    """Why the restore gate is closed: ``RESTORED`` (``orgnode restore`` wrote the mark) or
    ``ROLLED_BACK`` (the node found its database older than its log: ``mark_rolled_back``); None if open.
    The admin is told which: a copied-back file or a VM snapshot is not something they did on purpose."""
    try:
        data = json.loads(home.restored_path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return RESTORED
    return ROLLED_BACK if isinstance(data, dict) and "rolled_back" in data else RESTORED


def offline_refused(home: Home) -> str:
    """The offline refusal (``rollback_known``), naming what happened: a restore, or a rollback."""
    return OFFLINE_REFUSED.format(why=OFFLINE_WHY[restore_reason(home) or ROLLED_BACK])


def signing_paused(fed: Federation) -> bool:
    """Either gate is closed: an own append could reuse a sequence number."""
    return restore_pending(fed) or fed.start_check.pending


def refuse_while_pending(fed: Federation) -> None:
    """Before any own append: a pending restore or start check could make it reuse a sequence number."""
    if restore_pending(fed):
        raise UserError(ROLLED_BACK_REFUSED if restore_reason(fed.service.home) == ROLLED_BACK else REFUSED)
    if fed.start_check.pending:
        raise UserError(WAITING)


def finish_restore(fed: Federation, reason: str) -> None:
    """Allow own appends again: every partner answered our resync (or the admin overrode it, logged)."""
    was = signing_paused(fed)
    fed.start_check.pending = False
    if restore_pending(fed):
        fed.service.home.restored_path.unlink(missing_ok=True)
    if was:
        log_event("restore.resynced", logging.WARNING if reason == "override" else logging.INFO, reason=reason,
                  own_seq=fed.service.log.head(fed.me).seq)
        fed.retry_reactions()  # reactions to partners' statements waited: they may sign


# --- the high-water mark and the start check -----------------------------------------------------


def read_high_water(home: Home) -> int:
    """The highest own seq this home ever recorded outside its database (0 if none or unreadable)."""
    try:
        value = json.loads((home.path / HIGH_WATER).read_text())
        return int(value["seq"]) if isinstance(value, dict) else 0
    except (OSError, ValueError, KeyError, TypeError):
        return 0


def raise_high_water(home: Home, head: LogHead) -> None:
    """After an own append or recovery: remember the head outside the database (never lowered)."""
    if head.seq > read_high_water(home):
        write_private(home.path / HIGH_WATER, json.dumps({"seq": head.seq, "id": head.id.hex() if head.id else None}).encode())


def note_high_water(fed: Federation) -> None:
    fed.service.note_high_water()


def rollback_known(home: Home, head: LogHead) -> bool:
    """Offline, with no partner to ask: the restore mark, or a database below the high-water mark."""
    return home.restored_path.exists() or read_high_water(home) > head.seq


def mark_rolled_back(fed: Federation, why: str, **fields: object) -> None:
    """A rollback is known: close the restore gate (every partner must answer before we sign)."""
    if not restore_pending(fed):
        write_private(fed.service.home.restored_path, json.dumps({"rolled_back": why}).encode())
        log_event("restore.rollback-detected", logging.WARNING, why=why, **fields)


def begin_start_check(fed: Federation, timeout_ms: int) -> None:
    """At every start: compare the database with the high-water mark (a copied-back old database),
    and with partners, pause own appends until they confirmed our head. No partner: nothing to fork."""
    head = fed.service.log.head(fed.me).seq
    mark = read_high_water(fed.service.home)
    partners = fed.peers.trusted()
    if mark > head:
        mark_rolled_back(fed, "database older than own_head.json", own_seq=head, high_water=mark)
    check = fed.start_check
    check.answered.clear()
    check.last_error.clear()
    check.since_ms, check.timeout_ms = fed.clock(), timeout_ms
    check.pending = bool(partners)  # no partner: nothing to fork against (a known rollback still waits: item 2)
    note_high_water(fed)


def partner_answered(fed: Federation, peer: bytes, recovered: int) -> None:
    """A partner answered our recovery pull; statements it gave back prove a rollback."""
    fed.start_check.answered.add(peer)
    fed.start_check.last_error.pop(peer, None)
    if recovered and not restore_pending(fed):
        mark_rolled_back(fed, "a partner held own statements this database lacked", peer=peer, recovered=recovered)
    settle(fed)


def partner_failed(fed: Federation, peer: bytes, error: str) -> None:
    fed.start_check.last_error[peer] = error
    settle(fed)


def settle(fed: Federation) -> None:
    """End a gate when its rule is met (module docstring)."""
    trusted = {p.node_id for p in fed.peers.trusted()}
    check = fed.start_check
    if trusted and trusted <= check.answered:  # no partner at all: a known rollback waits for the admin
        if signing_paused(fed):
            finish_restore(fed, "every partner answered")
    elif check.pending and not restore_pending(fed) and check.answered and fed.clock() - check.since_ms >= check.timeout_ms:
        log_event("restore.confirmed-partly", logging.WARNING, answered=len(check.answered),
                  missing=len(trusted - check.answered))
        finish_restore(fed, "the reachable partners answered")


def check_view(fed: Federation) -> dict[str, object]:
    """What `orgnode status` shows about the gates: which partners have not answered yet, and why."""
    trusted = {p.node_id for p in fed.peers.trusted()}
    return {"own_log_check_pending": fed.start_check.pending and not restore_pending(fed),
            "own_log_check_waiting_for": sorted(p.hex() for p in trusted - fed.start_check.answered)
            if signing_paused(fed) else [],
            "own_log_check_errors": {p.hex(): e for p, e in fed.start_check.last_error.items()} if signing_paused(fed) else {},
            "own_log_check_since_ms": fed.start_check.since_ms}


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


def lost_partnerships(service: NodeService) -> list[int]:
    """Seqs of own partnership statements recovered without their body (their audience is nobody, so no
    partner holds it): partners this node paired with after its backup and no longer knows. Each later
    partnership with a partner trusted now counts as the admin having re-paired one of them."""
    own = [s for s in service.log.of_kind(Partnership.KIND) if s.author == service.node_id]
    lost = [s.seq for s in own if s.body is None]
    if not lost:
        return []
    trusted = {p.node_id for p in PeerStore(service.db).trusted()}
    repaired = {Partnership.from_value(s.body_value()).peer for s in own if s.body is not None and s.seq > lost[0]} & trusted
    return lost[len(repaired):]


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
    note_high_water(fed)
    if appended:
        log_event("restore.recovered", peer=origin, count=len(appended), own_seq=fed.service.log.head(fed.me).seq)
        fed.on_outbox(others)
    return len(appended)
