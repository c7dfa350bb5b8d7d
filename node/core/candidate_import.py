"""A CSV import's batch of candidates on the holder's node (issue 11 item 2: 100,000 rows at 5,000
rows/s). A part of ``Talent`` through ``Candidates`` (node/core/candidates.py).

Every row is checked as ``candidate add`` checks it (the same errors, in the same order), with the
batch's duplicate-email lookups made in one query; the accepted rows are stored with one
``executemany`` per table and their consent bodies signed together (``Federation.append_own_many``:
one pass through the rollback gates, consecutive seqs), all in one transaction and one durable commit.

Two batches in flight (``import_candidates_async``, what the admin API calls): checking a batch's rows,
building its consent bodies and signing them is pure work with no database (``_stage``), done in a
worker thread, so the event loop keeps serving (``/health``, pushes, other admin calls) meanwhile; the
batch's SQL and its commit run off the loop too, in the node's writer thread on a second connection,
holding the node's write turn (node/core/off_loop_writes.py: every transaction begins IMMEDIATE, so
the loop's own read-then-write transactions wait for the batch's instead of failing on a stale
snapshot). While batch k is stored, batch k+1 is checked and signed on the log head batch k will
leave; if that head did not come to be (batch k failed, another own statement came first), batch k+1
is signed again inside its transaction (``storage.own_batch``), so the log never forks.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlite_utils

from node.core.clock import salts_from
from node.core.errors import UserError
from node.core.off_loop_writes import OffLoopWriter
from node.core.restore import raise_high_water, refuse_while_pending
from node.logs import log_event
from protocol.audience import Audience
from protocol.consent import PROFILE_FIELDS, Consent
from protocol.identity import Identity
from protocol.log import KeyHistory, LogHead
from protocol.statement import Statement
from storage.own_batch import Presigned, sign_own_many
from storage.talent import TalentStore
from storage.talent_rows import Candidate, ConsentRow

if TYPE_CHECKING:
    from node.core.federation import Federation
    from protocol.matching import Vocabulary

# SQLite's lower() (no ICU) folds ASCII letters only: the duplicate check folds as the email index does.
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")

Rows = list[tuple[int, dict[str, Any] | None, UserError | None]]


def email_key(email: str) -> str:
    """An email address as ``lower(email)`` in SQLite sees it (the ``candidates_email`` index)."""
    return email.strip().translate(_ASCII_LOWER)


@dataclass(frozen=True, slots=True)
class PendingConsent:
    """A checked consent body not yet signed, with what its consent row needs besides the statement id."""

    candidate_id: bytes
    body: Consent
    evidence: str

    def row(self, statement_id: bytes) -> ConsentRow:
        b = self.body
        return ConsentRow(b.consent_id, self.candidate_id, statement_id, b.purposes, b.scope, b.fields, self.evidence,
                          b.collected_at, b.expires_at, "given")


@dataclass
class _Staged:
    """What a batch will store: candidates with their skill keys, consent bodies (signed ahead when
    ``presigned`` is set), the per-row results, and the email keys it adds."""

    candidates: list[tuple[Candidate, list[str]]]
    consents: list[tuple[dict[str, Any], PendingConsent]]
    results: list[dict[str, Any]] = field(default_factory=list)
    emails: set[str] = field(default_factory=set)
    bodies: list[object] = field(default_factory=list)  # the consent bodies' values, in ``consents`` order
    skill_keys: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    presigned: Presigned | None = None


@dataclass(frozen=True, slots=True)
class _SigningBase:
    """What a batch is signed on: the node's identity, the log head and key history before it."""

    identity: Identity
    head: LogHead
    history: KeyHistory | None


@dataclass
class ImportFlow:
    """The batches of imports in flight on this node: their order, what the next one is signed on,
    the email keys staged but not yet committed. ``staging_started``/``staging_done`` count batches
    whose rows are being checked and signed off the event loop, ``storing_started``/``storing_done``
    batches whose transaction runs in the writer thread (the /health tests read them)."""

    order: asyncio.Lock | None = None
    active: int = 0  # batches received and not yet answered: the connection is tuned for imports meanwhile
    in_flight: int = 0  # batches staged and not yet stored
    next_base: _SigningBase | None = None
    emails: set[str] = field(default_factory=set)
    last_write: asyncio.Future[None] | None = None
    writer: OffLoopWriter | None = None  # the batches' connection and thread while an import runs
    on_writer_open: list[Callable[[sqlite_utils.Database], None]] = field(default_factory=list)  # tests trace it
    loop_checkpoint: int = 0  # the loop connection's WAL auto-checkpoint, put back when the import ends
    staging_started: int = 0
    staging_done: int = 0
    storing_started: int = 0
    storing_done: int = 0


class CandidateImports:
    if TYPE_CHECKING:  # provided by Talent (node/core/talent.py, candidates.py)
        store: TalentStore
        federation: Federation

        @property
        def db(self) -> sqlite_utils.Database: ...
        def _prepare_candidate(self, *, name: str, email: str, skills: list[str], phone: str | None, location: str | None,
                               medal: str | None, for_job: str | None, consent: list[str] | None, consent_scope: str,
                               consent_expires: int | None, consent_evidence: str, consent_fields: tuple[str, ...],
                               notes: str | None, email_taken: bool | None = None
                               ) -> tuple[Candidate, PendingConsent | None]: ...
        def vocabulary(self) -> Vocabulary: ...
        def _ensure_skill_index(self, vocabulary: Vocabulary) -> None: ...

    _imports: ImportFlow | None = None
    store_off_loop = True  # False: the batch's SQL on the loop's connection (the /health test's control)

    @property
    def imports(self) -> ImportFlow:
        if self._imports is None:
            self._imports = ImportFlow()
        return self._imports

    def import_candidates(self, rows: Rows) -> list[dict[str, Any]]:
        """Add a batch of imported rows (row number, ``add_candidate`` arguments or the row's error) in
        ONE transaction. A refused row (an email already recorded, or earlier in the batch) is
        reported and stores nothing; the others still go in. While a rollback gate is closed, rows
        with consent are refused with its reason, as ``candidate add`` would be. Returns, per row, its
        id or its error (message and request field, as the admin API answers one). Synchronous: the
        admin API uses ``import_candidates_async``."""
        staged = self._stage(rows, self._own_append_refusal(), self._taken(rows), None)
        self._write(staged)
        return staged.results

    async def import_candidates_async(self, rows: Rows) -> list[dict[str, Any]]:
        """``import_candidates`` with the checking and signing in a worker thread, the next batch's
        overlapping this one's storing (module docstring). Batches are stored in the order they came."""
        flow = self.imports
        if flow.order is None:
            flow.order = asyncio.Lock()
        if flow.writer is None:
            flow.writer = OffLoopWriter(self.federation.service.home.db_path, self.db, self.federation.writes)
            flow.writer.on_open.extend([_tune_for_import, *flow.on_writer_open])
            flow.loop_checkpoint = self.store.checkpoint_after(0)  # the writer checkpoints, off the loop
        flow.active += 1
        try:
            return await self._import_in_turn(flow, rows)
        finally:
            flow.active -= 1
            if not flow.active and flow.writer is not None:
                writer, flow.writer = flow.writer, None  # an idle node keeps no second connection nor its cache
                self.store.checkpoint_after(flow.loop_checkpoint)
                await writer.close()

    async def _import_in_turn(self, flow: ImportFlow, rows: Rows) -> list[dict[str, Any]]:
        assert flow.order is not None
        async with flow.order:
            vocabulary = self.vocabulary()
            # The vocabulary's fingerprint reads every label once per process (~0.2-0.4 s): not on the loop.
            await asyncio.to_thread(getattr, vocabulary, "fingerprint")
            self._ensure_skill_index(vocabulary)  # on the loop: it may read and rebuild the index once
            gate = self._own_append_refusal()
            taken = self._taken(rows) | flow.emails
            base = flow.next_base if flow.in_flight else None
            if base is None:
                base = self._signing_base()
            flow.staging_started += 1
            try:
                staged = await asyncio.to_thread(self._stage, rows, gate, taken, base)
            finally:
                flow.staging_done += 1
            flow.in_flight += 1
            flow.emails |= staged.emails
            flow.next_base = (_SigningBase(base.identity, staged.presigned.head_after, base.history)
                              if staged.presigned is not None else base)
            previous, done = flow.last_write, asyncio.get_running_loop().create_future()
            flow.last_write = done
        await asyncio.sleep(0)  # let the next batch, if it is waiting, start staging before this one is stored
        try:
            if previous is not None:
                await asyncio.shield(previous)  # the batch before is stored first (its outcome is its own)
            await self._write_off_loop(flow, staged)
        finally:
            flow.in_flight -= 1
            flow.emails -= staged.emails
            if not flow.in_flight:
                flow.next_base = None  # read the head again next time: other own statements may follow
            done.set_result(None)
        return staged.results

    def _taken(self, rows: Rows) -> set[str]:
        return self.store.emails_taken([email_key(args["email"]) for _, args, _ in rows if args is not None])

    def _signing_base(self) -> _SigningBase:
        service = self.federation.service
        head, history = service.log.signing_base(service.node_id)
        return _SigningBase(service.identity, head, history)

    def _stage(self, rows: Rows, gate: UserError | None, taken: set[str], base: _SigningBase | None) -> _Staged:
        """Check every row and build what it stores; sign the consent bodies on ``base`` if given.
        No database: runs in a worker thread (the skill vocabulary is read-only, safe from any thread)."""
        staged = _Staged([], [])
        vocabulary = self.vocabulary()
        for number, args, error in rows:
            if args is not None and gate is not None and args.get("consent"):
                error = gate
            elif args is not None:
                try:
                    staged.results.append(self._stage_row(number, args, taken, staged, vocabulary))
                    continue
                except UserError as exc:
                    error = exc
            assert error is not None
            staged.results.append({"row": number, "error": str(error), "field": error.field})
        staged.bodies = [p.body.to_value() for _, p in staged.consents]
        if base is not None and staged.consents:
            staged.presigned = sign_own_many(
                base.identity, base.head, base.history, kind=Consent.KIND, bodies=staged.bodies,
                now=self.federation.clock(), private=True, salts=salts_from(self.federation.random, len(staged.consents)))
        return staged

    def _stage_row(self, number: int, args: dict[str, Any], taken: set[str], staged: _Staged,
                   vocabulary: Vocabulary) -> dict[str, Any]:
        key = email_key(args["email"])
        candidate, pending = self._prepare_candidate(**{"consent_fields": PROFILE_FIELDS, **args}, email_taken=key in taken)
        taken.add(key)  # a later row with the same address is a duplicate, as if this one were stored
        staged.emails.add(key)
        keys = staged.skill_keys.get(candidate.skills)
        if keys is None:  # rows of one import often list the same skills
            keys = staged.skill_keys[candidate.skills] = sorted(vocabulary.keys(candidate.skills))
        staged.candidates.append((candidate, keys))
        result: dict[str, Any] = {"row": number, "id": candidate.candidate_id.hex(), "consent_id": None}
        if pending is not None:
            staged.consents.append((result, pending))
            result["consent_id"] = pending.body.consent_id.hex()
        return result

    def _write(self, staged: _Staged) -> None:
        """Store a staged batch in one transaction on the loop's connection: candidates, signed consent
        statements (their outbox rows) and consent rows."""
        self._ensure_skill_index(self.vocabulary())  # once per vocabulary: the keys staged are its keys
        self._store(self.db, staged, None)

    async def _write_off_loop(self, flow: ImportFlow, staged: _Staged) -> None:
        """``_write`` in the writer thread on its own connection, holding the node's write turn; the
        push senders are woken back on the loop. The skill index was checked when the batch was staged."""
        flow.storing_started += 1
        try:
            if not self.store_off_loop:
                self._store(self.db, staged, None)
                return
            assert flow.writer is not None
            await flow.writer.run(lambda db: self._store(db, staged, db))
        finally:
            flow.storing_done += 1
        if staged.consents and self.store_off_loop:
            self.federation.on_outbox([p.node_id for p in self.federation.peers.trusted()])

    def _store(self, db: sqlite_utils.Database, staged: _Staged, on: sqlite_utils.Database | None) -> None:
        """The batch's one transaction on ``db``; ``on``: ``db`` is the writer thread's (not the loop's)."""
        with db.atomic():
            (TalentStore(db) if on is not None else self.store).add_candidates(staged.candidates)
            statements = self._sign_staged(staged, on)
        if on is not None and statements:  # committed: the high-water mark after the batch's last statement
            last = statements[-1]
            raise_high_water(self.federation.service.home, LogHead(last.author, last.seq, last.id))
        log_event("candidates.imported", rows=len(staged.results), added=len(staged.candidates))

    def _sign_staged(self, staged: _Staged, on: sqlite_utils.Database | None = None) -> list[Statement]:
        """Append the staged consent statements (signed ahead, or now) and record their consent rows."""
        statements = self.federation.append_own_many(Consent.KIND, staged.bodies, private=True, audience=Audience.only(),
                                                     presigned=staged.presigned, on=on)
        (TalentStore(on) if on is not None else self.store).add_consents(
            [pending.row(statement.id) for (_, pending), statement in zip(staged.consents, statements, strict=True)])
        return statements

    def _own_append_refusal(self) -> UserError | None:
        """Why an own statement may not be signed now (a restore or the start check pending), or None."""
        try:
            refuse_while_pending(self.federation)
        except UserError as exc:
            return exc
        return None


def _tune_for_import(db: sqlite_utils.Database) -> None:
    """The writer connection's page cache and WAL checkpoint for an import (closed when the import ends)."""
    TalentStore(db).tune_for_import()
