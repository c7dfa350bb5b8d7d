"""Every author's append-only log as this node holds it: own statements and peers'.

``ingest`` is the one door through which a peer's statement gets in. It applies the rules of
``protocol.log`` inside one transaction: append (and release any held successors), ignore a
duplicate, hold a statement that arrives before its predecessors, keep a fork as evidence, and
record a rejection with its code. Kind-specific tables (org cards, key periods, and later jobs and
referrals) are projections kept by the functions in ``storage.projections.PROJECTORS``, run in the
same transaction. Held statements (storage/held.py), per-peer quota accounts (storage/peer_usage.py)
and re-shared or relayed statements (storage/foreign.py) are kept by their own modules.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import sqlite_utils

from protocol import kinds
from protocol import log as log_rules
from protocol.bodies import KeyRotation, OrgCard
from protocol.card_bundle import VerifiedCard
from protocol.errors import (
    BAD_BODY,
    MALFORMED,
    OVER_QUOTA,
    REJECTED_BASE,
    UNKNOWN_KEY,
    WRONG_AUTHOR,
    ProtocolError,
    RemoteProtocolError,
)
from protocol.identity import Identity
from protocol.log import KeyHistory, LogHead, Verdict
from protocol.statement import Statement, sign_statement
from storage import foreign
from storage.cards import record_org_card
from storage.fork_decisions import ForkDecisions
from storage.held import HeldStatements
from storage.ingest_memo import BatchReads
from storage.key_histories import replicated_history, save_replicated_history
from storage.log_findings import LogFindings
from storage.own_batch import OwnBatch
from storage.projections import project
from storage.quotas import PeerQuota
from storage.statement_rows import row_to_statement

MAX_FORK_EVIDENCE_PER_AUTHOR = 64


# Rejections that follow from the signed header (and the body it commits to) alone, so no other
# copy of the same statement can ever be accepted: only these are remembered by id. A bad
# signature never reaches here (it is checked first, and the id does not cover the signature).
PERMANENT_REJECTIONS = frozenset({WRONG_AUTHOR, UNKNOWN_KEY, BAD_BODY, REJECTED_BASE})


@dataclass(frozen=True, slots=True)
class IngestResult:
    verdict: Verdict
    statement_id: bytes
    released: tuple[Statement, ...] = ()
    new_evidence: bool = False  # a FORK verdict that kept new evidence (not one already known or settled)

    @property
    def appended(self) -> tuple[Statement, ...]:
        """Everything that entered the log: nothing for duplicates, gaps and forks."""
        return self.released


class LogStore(BatchReads, HeldStatements, OwnBatch, LogFindings):
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self.quota = PeerQuota()

    # --- reading ---------------------------------------------------------------------------------

    def head(self, author: bytes) -> LogHead:
        rows = list(self.db.query("SELECT seq, id FROM entries WHERE author = ? ORDER BY seq DESC LIMIT 1", [author]))
        if not rows:
            return LogHead(author)
        return LogHead(author, int(rows[0]["seq"]), bytes(rows[0]["id"]))

    def key_history(self, author: bytes) -> KeyHistory | None:
        return replicated_history(self.db, author)

    def get(self, statement_id: bytes) -> Statement | None:
        rows = list(self.db.query("SELECT * FROM entries WHERE id = ?", [statement_id]))
        return row_to_statement(rows[0]) if rows else None

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        rows = list(self.db.query("SELECT id FROM entries WHERE author = ? AND seq = ?", [author, seq]))
        return bytes(rows[0]["id"]) if rows else None

    def statements(self, author: bytes, after_seq: int = 0, limit: int = 1_000_000) -> list[Statement]:
        rows = self.db.query(
            "SELECT * FROM entries WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?", [author, after_seq, limit]
        )
        return [row_to_statement(row) for row in rows]

    def card_statements(self, author: bytes) -> list[Statement]:
        """``protocol.card_bundle.card_statements`` of the author's log, read by index (the first
        statement, its key rotations, its latest org card) instead of loading the whole log: the
        unauthenticated card endpoint serves this (issue 11: 3.7 s at 200,000 own statements). ``INDEXED
        BY``: without statistics the planner would walk the author's whole log by ``(author, seq)``."""
        rows = self.db.query(
            """SELECT * FROM entries WHERE author = ? AND seq = 1
               UNION SELECT * FROM entries INDEXED BY entries_kind WHERE kind = ? AND author = ?
               UNION SELECT * FROM (SELECT * FROM entries INDEXED BY entries_kind WHERE kind = ? AND author = ?
                                    ORDER BY seq DESC LIMIT 1)
               ORDER BY seq""",
            [author, KeyRotation.KIND, author, OrgCard.KIND, author])
        return [row_to_statement(row) for row in rows]

    def of_kind(self, kind: str) -> Iterator[Statement]:
        for row in self.db.query("SELECT * FROM entries WHERE kind = ? ORDER BY author, seq", [kind]):
            yield row_to_statement(row)

    def have_vector(self) -> dict[bytes, int]:
        rows = self.db.query("SELECT author, MAX(seq) AS seq FROM entries GROUP BY author")
        return {bytes(r["author"]): int(r["seq"]) for r in rows}

    def count(self) -> int:
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM entries"))["n"])

    # --- writing ---------------------------------------------------------------------------------

    def append_own(
        self, identity: Identity, *, kind: str, body: object, now: int, private: bool, salt: bytes | None = None,
        audience: str | None = None,
    ) -> Statement:
        """Sign and append the node's own next statement, in one transaction with its projections
        (a batch of them: ``append_own_many``, storage/own_batch.py)."""
        with self.db.atomic():
            head = self.head(identity.node_id)
            statement = sign_statement(
                identity, kind=kind, seq=head.seq + 1, prev=head.id, now=now, body=body, private=private, salt=salt
            )
            history = self.key_history(identity.node_id)
            log_rules.check(statement, head, history, None)
            self._store(statement, history, received_from=None, now=now, audience=audience)
        return statement

    def ingest(self, statement: Statement, *, received_from: bytes | None, now: int, alone: bool = True) -> IngestResult:
        """Take in a peer's signature-checked statement. Raises ``ProtocolError`` on rejection.

        A rejection is recorded (with its code) and survives restarts, so a statement building on a
        rejected one is refused too (THREATS row 15).

        ``alone=False`` (only inside ``all_or_nothing``, storage/ingest_memo.py): no savepoint of its
        own and nothing recorded on a refusal; the caller rolls the whole batch back and takes it again
        item by item.
        """
        if not statement.header.private and statement.body is None:
            # Not recorded: another copy of the same statement may well carry its body.
            raise RemoteProtocolError(MALFORMED, f"public {statement.kind} statement arrived without its body")
        self.expire_held(now)
        if not alone:
            assert self._memo is not None and self._memo.defer_charges, "alone=False only inside all_or_nothing()"
            return self._ingest(statement, received_from, now)
        try:
            with self.db.atomic():
                return self._ingest(statement, received_from, now)
        except BaseException as exc:
            self._forget_all()  # its savepoint rolled back: what the memo learnt from it is gone
            if isinstance(exc, ProtocolError):
                self._after_refusal(statement, exc, received_from, now)
            raise

    def _after_refusal(self, statement: Statement, exc: ProtocolError, received_from: bytes | None, now: int) -> None:
        if exc.code in PERMANENT_REJECTIONS:
            self._record_rejection(statement, exc, received_from, now)
        elif exc.code == OVER_QUOTA and received_from is not None:
            self.record_over_quota(received_from, now)

    def _ingest(self, statement: Statement, received_from: bytes | None, now: int) -> IngestResult:
        author = statement.author
        rejected = {bytes(r["id"]) for r in self.db.query("SELECT id FROM rejected WHERE id IN (?, ?)",
                                                           [statement.id, statement.header.prev or statement.id])
                    } if self._may_be_rejected(author) else set()
        if statement.id in rejected:
            raise RemoteProtocolError(REJECTED_BASE, "this statement was rejected before")
        if statement.header.prev is not None and statement.header.prev in rejected:
            raise RemoteProtocolError(REJECTED_BASE, "statement builds on a rejected statement")
        head = self._ingest_head(author)
        history = self._ingest_history(author)
        at_seq = None if statement.seq > head.seq else self.id_at(author, statement.seq)  # nothing is past the head
        resume = ForkDecisions(self.db).resume_after(author) if self._ingest_forked(author) else None
        if resume is not None and statement.seq <= resume and at_seq != statement.id:
            return IngestResult(Verdict.FORK, statement.id)  # a position the admin settled: not evidence again
        if resume is not None and statement.seq == resume + 1 and head.seq <= resume:
            if history is not None:
                history.check_key(statement.header.key, statement.header.seq)
            return self._append(statement, history, received_from, now)  # the recorded discontinuity
        verdict = log_rules.check(statement, head, history, at_seq)
        if verdict is Verdict.DUPLICATE:
            self._fill_body(statement, received_from, now)
            return IngestResult(verdict, statement.id)
        if verdict is Verdict.FORK:
            conflicting = self.id_at(author, statement.seq) or self.id_at(author, statement.seq - 1)
            kept = next(self.db.query("SELECT COUNT(*) AS n FROM forks WHERE author = ?", [author]))["n"]
            if kept >= MAX_FORK_EVIDENCE_PER_AUTHOR:
                return IngestResult(verdict, statement.id)  # enough evidence: the author is flagged already
            cursor = self.db.execute(
                """INSERT OR IGNORE INTO forks (id, author, seq, header, signature, conflicts_with, received_from, detected_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [statement.id, author, statement.seq, statement.header_bytes, statement.signature, conflicting,
                 received_from, now],
            )
            return IngestResult(verdict, statement.id, new_evidence=cursor.rowcount > 0)
        if verdict is Verdict.GAP:
            self._hold(statement, head, received_from, now)
            return IngestResult(verdict, statement.id)
        return self._append(statement, history, received_from, now)

    def _append(self, statement: Statement, history: KeyHistory | None, received_from: bytes | None, now: int) -> IngestResult:
        self._charge(statement, received_from, now)
        self._store(statement, history, received_from, now)
        released = [statement, *self._release_held(statement.author, received_from, now)]
        return IngestResult(Verdict.APPEND, statement.id, tuple(released))

    def _release_held(self, author: bytes, received_from: bytes | None, now: int) -> list[Statement]:
        released: list[Statement] = []
        if not self._any_held(author):
            return released  # the usual case: nothing waiting for this author
        with self._charging_now():  # each candidate's savepoint must roll its own charge back
            return self._release_candidates(author, received_from, now, released)

    def _release_candidates(self, author: bytes, received_from: bytes | None, now: int,
                            released: list[Statement]) -> list[Statement]:
        while True:
            candidates = self._take_held(author, self.head(author).seq + 1, received_from)
            if not candidates:
                return released
            # Several candidates for one position: the first that chains is appended, the others
            # go through the normal path and become fork evidence.
            progressed = False
            for statement, frm in candidates:
                try:
                    with self.db.atomic():  # a savepoint: a rejected candidate leaves no partial writes
                        result = self._ingest(statement, frm, now)
                except ProtocolError as exc:
                    self._forget_all()  # its savepoint rolled back
                    self._after_refusal(statement, exc, frm, now)
                    continue
                if result.verdict is Verdict.APPEND:
                    released.extend(result.released)
                    progressed = True
            if not progressed:
                return released

    def _store(self, statement: Statement, history: KeyHistory | None, received_from: bytes | None, now: int,
               audience: str | None = None) -> None:
        header = statement.header
        if header.seq == 1 and history is None:
            history = KeyHistory.genesis(header.author, header.key)
            self._save_history(history)
        spec = kinds.spec_of(statement.kind)
        if spec is not None and spec.private != header.private:
            raise RemoteProtocolError(BAD_BODY, f"{statement.kind} statements must be {'private' if spec.private else 'public'}")
        if spec is not None and statement.body is not None:
            try:
                kinds.body_of(statement)  # decoded once: the projection and the reactions reuse it
            except ProtocolError as exc:
                # The body matches the author's hash, so no copy of this statement can ever be valid.
                raise RemoteProtocolError(BAD_BODY, f"{statement.kind} body is invalid: {exc.detail}") from exc
        if statement.kind == KeyRotation.KIND:
            if statement.body is None or history is None:
                raise RemoteProtocolError(BAD_BODY, "a key rotation must carry its body")
            new_key = KeyRotation.from_value(statement.body_value()).new_key
            already_known = any(p.key == new_key and p.first_seq == header.seq + 1 for p in history.periods)
            if not already_known and history.periods[-1].first_seq > header.seq:
                # The history learnt from the author's card already rotates after this seq, to another
                # key: two rotations signed by one key, at most one of them the author's (protocol.md 12.3).
                raise RemoteProtocolError(BAD_BODY, "key rotation conflicts with the key history held for its author")
            if not already_known:  # else learnt earlier from a verified card bundle
                self._save_history(history.rotated(statement))
        self.db.execute(
            """INSERT INTO entries (id, author, seq, kind, ts, header, signature, salt, body, received_from, received_at, audience)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [statement.id, header.author, header.seq, header.kind, header.ts, statement.header_bytes,
             statement.signature, statement.salt, statement.body, received_from, now, audience],
        )
        self._stored(LogHead(header.author, header.seq, statement.id))
        project(self.db, statement, now)

    def learn_card(self, verified: VerifiedCard, now: int) -> None:
        """Record a peer's key history and org card from a verified card bundle (at pairing time).

        Its log entries arrive later through sync, in order; the history learnt here lets those be
        checked even when a rotation is among them.
        """
        with self.db.atomic():
            current = self.key_history(verified.node_id)
            if current is None or len(verified.history.periods) > len(current.periods):
                self._save_history(verified.history)
            record_org_card(self.db, verified.statement, now)

    def learn_rotations(self, history: KeyHistory) -> bool:
        """Adopt a longer key history of a replicated author, learnt from its verified card bundle when
        its request did not verify (node/core/key_refresh.py): only if it carries the held one on
        (``KeyHistory.extends``, checked again in this transaction). True if it was adopted."""
        with self.db.atomic():
            held = self.key_history(history.author)
            if held is None or not history.extends(held):
                return False
            self._save_history(history)
            return True

    def find(self, statement_id: bytes) -> Statement | None:
        """A statement from the logs, or else one that arrived re-shared or relayed."""
        found = self.get(statement_id)
        if found is not None:
            return found
        return foreign.foreign_statement(self.db, statement_id)

    def keep_foreign(self, statements: list[Statement], *, via: bytes, via_statement: bytes, distance: int,
                     card: VerifiedCard, now: int, vouched: bool = True, charge: bool = False) -> None:
        """Keep statements of an author we do not replicate, with its card. Nothing of an author
        blocked here is kept, whichever way it arrives (re-share or relay).

        ``vouched``: the card came from the partner ``via`` (a re-share carries the card as the
        re-sharer holds it), so at first sight it becomes the author's identity for consent. A card
        the author put in a relayed box itself is not vouched for by anyone (``vouched=False``).
        ``charge``: the statements count against ``via``'s quota (relayed ones: the box that carried
        them is erased once opened, so these are what the peer makes us keep; a re-share's root is
        inside the re-share statement already charged). Over the quota, ``over-quota`` is raised
        before anything is written."""
        foreign.keep_foreign(self.db, statements, via=via, via_statement=via_statement, distance=distance, card=card,
                             now=now, vouched=vouched, charge=(lambda s: self._charge(s, via, now)) if charge else None)

    def erase_body(self, statement_id: bytes, now: int) -> None:
        """Erase a statement's body everywhere this node keeps it (log, re-shared/relayed copies, held
        copies), keeping its signed header as data-free provenance; the body never comes back
        (``_fill_body`` skips erased entries). The bytes go back to the quota of the peer they were
        charged to. Callers checkpoint the WAL after the transaction."""
        self._refund(
            "SELECT received_from AS peer, LENGTH(body) + COALESCE(LENGTH(salt), 0) AS n FROM entries "
            "WHERE id = ? AND body IS NOT NULL AND received_from IS NOT NULL", statement_id)
        self._refund(
            "SELECT charged_to AS peer, LENGTH(body) + COALESCE(LENGTH(salt), 0) AS n FROM foreign_statements "
            "WHERE id = ? AND body IS NOT NULL AND charged_to IS NOT NULL", statement_id)
        self.db.execute("UPDATE entries SET body = NULL, salt = NULL, erased_at = ? WHERE id = ?", [now, statement_id])
        self.db.execute("UPDATE foreign_statements SET body = NULL, salt = NULL WHERE id = ?", [statement_id])
        self.db.execute("DELETE FROM held WHERE id = ?", [statement_id])

    def checkpoint_wal(self) -> None:
        """Fold the WAL into the main file and truncate it, so erased pages leave no copy behind."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def audience_of(self, statement_id: bytes) -> str | None:
        rows = list(self.db.query("SELECT audience FROM entries WHERE id = ?", [statement_id]))
        return rows[0]["audience"] if rows else None

    def _fill_body(self, statement: Statement, received_from: bytes | None, now: int) -> None:
        """A duplicate may bring the body we did not hold (e.g. it was withheld on first receipt, or
        it answers a want): charged to the peer that brought it, refused ``over-quota`` beyond its quota."""
        if statement.body is None:
            return
        updated = self.db.execute(
            "UPDATE entries SET salt = ?, body = ? WHERE id = ? AND body IS NULL AND erased_at IS NULL",
            [statement.salt, statement.body, statement.id],
        )
        if updated.rowcount:  # over quota, the caller's savepoint rolls the fill back with the refusal
            self._charge_body(statement, received_from, now)
            project(self.db, statement, statement.header.ts)

    def _save_history(self, history: KeyHistory) -> None:
        self._history_changed(history.author)
        save_replicated_history(self.db, history)

    def _record_rejection(self, statement: Statement, exc: ProtocolError, received_from: bytes | None, now: int) -> None:
        with self.db.atomic():
            self.db.execute(
                """INSERT OR IGNORE INTO rejected (id, author, seq, code, detail, received_from, at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [statement.id, statement.author, statement.seq, exc.code, exc.detail[:500], received_from, now],
            )

