"""Taking a peer's batch into the log (``Federation.take_batch``): first every item is opened (decode,
signature, author, time, sealed body: pure work, nothing stored), then the opened statements are
ingested, one author and one sender per batch.

Ingest is optimistic (issue 11 item 3: a savepoint per statement and a quota UPDATE per statement
were a fifth of the SQL time): the whole batch goes in under one savepoint with its quota charges
written once at the end. If any item is refused there, that savepoint is rolled back and the batch is
taken again item by item, each in its own savepoint, exactly as before (THREATS row 2): a refused
item changes nothing but its recorded rejection, and its successors are handled as they always were.
The opened statements are reused, so a bad item costs the SQL twice, never the crypto.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.logs import log_event
from protocol import errors as E
from protocol.errors import ProtocolError, RemoteProtocolError
from protocol.log import Verdict
from protocol.sealing import open_statement_body
from protocol.statement import Envelope, SealedContent, Statement, check_not_far_future
from protocol.sync import OUTCOME_APPENDED, OUTCOME_DUPLICATE, OUTCOME_FORK, OUTCOME_HELD, Batch, ItemResult

if TYPE_CHECKING:
    from node.core.federation import Federation

VERDICT_OUTCOME = {
    Verdict.APPEND: OUTCOME_APPENDED,
    Verdict.DUPLICATE: OUTCOME_DUPLICATE,
    Verdict.GAP: OUTCOME_HELD,
    Verdict.FORK: OUTCOME_FORK,
}
NO_ID = b"\x00" * 32  # an item that did not decode far enough to name its statement


@dataclass(frozen=True, slots=True)
class Opened:
    """One item of a batch after the pure checks: its statement, or why it was refused."""

    statement_id: bytes
    statement: Statement | None
    error: ProtocolError | None


@dataclass
class Taken:
    """What ingesting a batch's items did, applied to health and logs once the path is settled."""

    results: list[ItemResult] = field(default_factory=list)
    appended: list[Statement] = field(default_factory=list)
    invalid: int = 0
    forks: list[tuple[Statement, bool]] = field(default_factory=list)  # (statement, new evidence)
    refused: list[str] = field(default_factory=list)  # the codes, logged after the path is settled

    def refuse(self, statement_id: bytes, exc: ProtocolError) -> None:
        self.invalid += exc.code != E.OVER_QUOTA  # valid data over quota is refused, not misbehaviour
        self.results.append(ItemResult(statement_id, exc.code))
        self.refused.append(exc.code)


def open_items(fed: Federation, origin: bytes, batch: Batch, now: int) -> list[Opened]:
    """Every item decoded, signature-checked and its body opened; nothing is read or written."""
    page = fed._open_page(batch)
    opened: list[Opened] = []
    for index, raw in enumerate(batch.envelopes):
        statement_id = NO_ID
        try:
            envelope = Envelope.decode(raw)
            statement = envelope.open_plain()
            statement_id = statement.id
            if statement.author != origin:
                raise RemoteProtocolError(E.WRONG_AUTHOR, "a peer may only send statements of its own log")
            check_not_far_future(statement.header.ts, now)  # a year-10000 stamp: refused, not stored (13.6)
            if isinstance(envelope.content, SealedContent):
                statement = open_statement_body(statement, envelope.content, fed.service.identity)
            item = None if batch.page is None else batch.page.items[index]
            if item is not None:
                statement = fed._open_page_item(page, index, statement, envelope, item)
        except ProtocolError as exc:
            opened.append(Opened(statement_id, None, exc))
            continue
        opened.append(Opened(statement_id, statement, None))
    return opened


def take_items(fed: Federation, origin: bytes, opened: list[Opened], now: int) -> Taken:
    """Ingest the opened items inside the caller's transaction: all at once if none is refused, else
    one by one (module docstring). Then the forks seen are told to health and the refusals logged."""
    log = fed.service.log
    with log.batch_reads():  # one author, one sender: head, keys, quota read once
        try:
            with log.all_or_nothing():
                taken = _take(fed, origin, opened, now, alone=False)
        except ProtocolError:  # an item was refused: rolled back, taken again item by item
            taken = _take(fed, origin, opened, now, alone=True)
    for statement, new_evidence in taken.forks:
        fed.health.fork_seen(statement.author, statement.seq, new_evidence, now)
    for code in taken.refused:
        log_event("statement.rejected", logging.WARNING, peer=origin, code=code)
    return taken


def _take(fed: Federation, origin: bytes, opened: list[Opened], now: int, *, alone: bool) -> Taken:
    """``alone``: each item in its own savepoint, a refusal recorded and the next item taken; else a
    refusal propagates (``all_or_nothing`` rolls the batch back)."""
    taken = Taken()
    for item in opened:
        if item.statement is None:
            assert item.error is not None
            taken.refuse(item.statement_id, item.error)  # nothing was written for it: no need to roll back
            continue
        try:
            result = fed.service.log.ingest(item.statement, received_from=origin, now=now, alone=alone)
        except ProtocolError as exc:
            if not alone:
                raise
            taken.refuse(item.statement_id, exc)
            continue
        taken.results.append(ItemResult(item.statement_id, VERDICT_OUTCOME[result.verdict]))
        taken.appended.extend(result.appended)
        if result.verdict is Verdict.FORK:
            # Equivocation is misbehaviour: it lowers the peer's score like invalid data, once per piece
            # of new evidence (the same forked statements come back at every pull).
            taken.invalid += result.new_evidence
            taken.forks.append((item.statement, result.new_evidence))
    return taken
