"""Every author's append-only log as this node holds it: own statements and peers'.

``ingest`` is the one door through which a peer's statement gets in. It applies the rules of
``protocol.log`` inside one transaction: append (and release any held successors), ignore a
duplicate, hold a statement that arrives before its predecessors, keep a fork as evidence, and
record a rejection with its code. Kind-specific tables (org cards, key periods, and later jobs and
referrals) are projections kept by the functions in ``PROJECTORS``, run in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from protocol import kinds
from protocol import log as log_rules
from protocol.bodies import KeyRotation, OrgCard
from protocol.card_bundle import VerifiedCard
from protocol.errors import (
    BAD_BODY,
    GAP,
    MALFORMED,
    OVER_QUOTA,
    REJECTED_BASE,
    UNKNOWN_KEY,
    WRONG_AUTHOR,
    ProtocolError,
    RemoteProtocolError,
)
from protocol.identity import Identity
from protocol.log import KeyHistory, KeyPeriod, LogHead, Verdict
from protocol.reshare import verify_reshare
from protocol.statement import Envelope, Header, Statement, sign_statement
from storage.key_histories import save_vouched_history
from storage.quotas import DAY_MS, PeerQuota, PeerUsage

Projector = Callable[[sqlite_utils.Database, Statement, int], None]
PROJECTORS: dict[str, Projector] = {}

MAX_HELD_PER_AUTHOR = 10_000
MAX_HELD_BYTES_PER_AUTHOR = 16 * 1024 * 1024
MAX_HOLD_AHEAD = 4096  # statements beyond the head that may be held waiting for their predecessors
MAX_FORK_EVIDENCE_PER_AUTHOR = 64


# Rejections that follow from the signed header (and the body it commits to) alone, so no other
# copy of the same statement can ever be accepted: only these are remembered by id. A bad
# signature never reaches here (it is checked first, and the id does not cover the signature).
PERMANENT_REJECTIONS = frozenset({WRONG_AUTHOR, UNKNOWN_KEY, BAD_BODY, REJECTED_BASE})


def projector(kind: str) -> Callable[[Projector], Projector]:
    def register(fn: Projector) -> Projector:
        PROJECTORS[kind] = fn
        return fn

    return register


@projector(OrgCard.KIND)
def _project_org_card(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    card = OrgCard.from_value(statement.body_value())
    db.execute(
        """INSERT INTO org_cards (node_id, statement_id, seq, name, sector, url, x25519, mlkem768, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (node_id) DO UPDATE SET statement_id=excluded.statement_id, seq=excluded.seq,
             name=excluded.name, sector=excluded.sector, url=excluded.url, x25519=excluded.x25519,
             mlkem768=excluded.mlkem768, updated_at=excluded.updated_at
           WHERE excluded.seq > org_cards.seq""",
        [statement.author, statement.id, statement.seq, card.name, card.sector, card.url,
         card.encryption.x25519, card.encryption.mlkem768, now],
    )


@dataclass(frozen=True, slots=True)
class IngestResult:
    verdict: Verdict
    statement_id: bytes
    released: tuple[Statement, ...] = ()

    @property
    def appended(self) -> tuple[Statement, ...]:
        """Everything that entered the log: nothing for duplicates, gaps and forks."""
        return self.released


@dataclass(frozen=True, slots=True)
class ForkRow:
    """A statement kept as evidence of a fork (``forks``): it conflicts with the one at ``seq`` in the log."""

    author: bytes
    seq: int
    id: bytes
    conflicts_with: bytes | None
    received_from: bytes | None
    detected_at: int


@dataclass(frozen=True, slots=True)
class RejectedRow:
    """A statement refused for good, with its error code (``rejected``)."""

    id: bytes
    author: bytes | None
    seq: int | None
    code: str
    detail: str
    received_from: bytes | None
    at: int


def _opt_bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def _row_to_statement(row: dict[str, Any]) -> Statement:
    header_bytes = bytes(row["header"])
    body = row.get("body")
    salt = row.get("salt")
    return Statement(
        Header.decode(header_bytes),
        header_bytes,
        bytes(row["signature"]),
        bytes(body) if body is not None else None,
        bytes(salt) if salt is not None else None,
    )


def _stored_size(statement: Statement) -> int:
    return len(statement.header_bytes) + len(statement.signature) + len(statement.salt or b"") + len(statement.body or b"")


class LogStore:
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
        rows = list(
            self.db.query("SELECT key, first_seq, last_seq FROM key_periods WHERE author = ? ORDER BY first_seq", [author])
        )
        if not rows:
            return None
        return KeyHistory(author, tuple(KeyPeriod(bytes(r["key"]), r["first_seq"], r["last_seq"]) for r in rows))

    def get(self, statement_id: bytes) -> Statement | None:
        rows = list(self.db.query("SELECT * FROM entries WHERE id = ?", [statement_id]))
        return _row_to_statement(rows[0]) if rows else None

    def id_at(self, author: bytes, seq: int) -> bytes | None:
        rows = list(self.db.query("SELECT id FROM entries WHERE author = ? AND seq = ?", [author, seq]))
        return bytes(rows[0]["id"]) if rows else None

    def statements(self, author: bytes, after_seq: int = 0, limit: int = 1_000_000) -> list[Statement]:
        rows = self.db.query(
            "SELECT * FROM entries WHERE author = ? AND seq > ? ORDER BY seq LIMIT ?", [author, after_seq, limit]
        )
        return [_row_to_statement(row) for row in rows]

    def of_kind(self, kind: str) -> Iterator[Statement]:
        for row in self.db.query("SELECT * FROM entries WHERE kind = ? ORDER BY author, seq", [kind]):
            yield _row_to_statement(row)

    def have_vector(self) -> dict[bytes, int]:
        rows = self.db.query("SELECT author, MAX(seq) AS seq FROM entries GROUP BY author")
        return {bytes(r["author"]): int(r["seq"]) for r in rows}

    def forks(self) -> list[ForkRow]:
        return [
            ForkRow(bytes(r["author"]), r["seq"], bytes(r["id"]), _opt_bytes(r["conflicts_with"]), _opt_bytes(r["received_from"]),
                    r["detected_at"])
            for r in self.db.query("SELECT author, seq, id, conflicts_with, received_from, detected_at FROM forks ORDER BY detected_at")
        ]

    def forked_authors(self) -> set[bytes]:
        return {bytes(r["author"]) for r in self.db.query("SELECT DISTINCT author FROM forks")}

    def rejected(self) -> list[RejectedRow]:
        return [
            RejectedRow(bytes(r["id"]), _opt_bytes(r["author"]), r["seq"], r["code"], r["detail"], _opt_bytes(r["received_from"]), r["at"])
            for r in self.db.query("SELECT id, author, seq, code, detail, received_from, at FROM rejected ORDER BY at")
        ]

    def is_rejected(self, statement_id: bytes) -> bool:
        return bool(list(self.db.query("SELECT 1 FROM rejected WHERE id = ?", [statement_id])))

    def count(self) -> int:
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM entries"))["n"])

    # --- writing ---------------------------------------------------------------------------------

    def append_own(
        self, identity: Identity, *, kind: str, body: object, now: int, private: bool, salt: bytes | None = None,
        audience: str | None = None,
    ) -> Statement:
        """Sign and append the node's own next statement, in one transaction with its projections."""
        with self.db.atomic():
            head = self.head(identity.node_id)
            statement = sign_statement(
                identity, kind=kind, seq=head.seq + 1, prev=head.id, now=now, body=body, private=private, salt=salt
            )
            history = self.key_history(identity.node_id)
            log_rules.check(statement, head, history, None)
            self._store(statement, history, received_from=None, now=now, audience=audience)
        return statement

    def ingest(self, statement: Statement, *, received_from: bytes | None, now: int) -> IngestResult:
        """Take in a peer's signature-checked statement. Raises ``ProtocolError`` on rejection.

        A rejection is recorded (with its code) and survives restarts, so a statement building on a
        rejected one is refused too (THREATS row 15).
        """
        if not statement.header.private and statement.body is None:
            # Not recorded: another copy of the same statement may well carry its body.
            raise RemoteProtocolError(MALFORMED, f"public {statement.kind} statement arrived without its body")
        self.expire_held(now)
        try:
            with self.db.atomic():
                return self._ingest(statement, received_from, now)
        except ProtocolError as exc:
            self._after_refusal(statement, exc, received_from, now)
            raise

    def _after_refusal(self, statement: Statement, exc: ProtocolError, received_from: bytes | None, now: int) -> None:
        if exc.code in PERMANENT_REJECTIONS:
            self._record_rejection(statement, exc, received_from, now)
        elif exc.code == OVER_QUOTA and received_from is not None:
            self.record_over_quota(received_from, now)

    def record_over_quota(self, peer: bytes, now: int) -> None:
        """Data from ``peer`` was refused as over its quota at ``now``: counted and shown in ``trust list``."""
        self.db.execute("INSERT INTO peer_usage (peer) VALUES (?) ON CONFLICT (peer) DO NOTHING", [peer])
        self.db.execute("UPDATE peer_usage SET refused = refused + 1, refused_at = ? WHERE peer = ?", [now, peer])

    # --- per-peer quotas (issue 8 item 12) ---------------------------------------------------------

    def expire_held(self, now: int) -> int:
        """Drop held statements older than the quota's expiry; returns how many were dropped."""
        cursor = self.db.execute("DELETE FROM held WHERE received_at < ?", [now - self.quota.held_ttl_ms])
        return int(cursor.rowcount or 0)

    def next_held_expiry(self, now: int) -> int | None:
        """When (ms) the oldest held statement expires (the first ``now`` at which ``expire_held`` drops
        it), or None if none is held."""
        row = next(self.db.query("SELECT MIN(received_at) AS oldest FROM held"))
        return None if row["oldest"] is None else int(row["oldest"]) + self.quota.held_ttl_ms + 1

    def peer_usage(self, peer: bytes, now: int) -> PeerUsage:
        rows = list(self.db.query("SELECT * FROM peer_usage WHERE peer = ?", [peer]))
        held = next(self.db.query("SELECT COUNT(*) AS n FROM held WHERE received_from = ? AND received_at >= ?",
                                  [peer, now - self.quota.held_ttl_ms]))["n"]
        if not rows:
            return PeerUsage(0, 0, int(held), 0, None)
        row = rows[0]
        today = row["reshare_bytes"] if row["reshare_day"] == now // DAY_MS else 0
        return PeerUsage(row["stored_bytes"], today, int(held), row["refused"], row["refused_at"])

    def _charge(self, statement: Statement, received_from: bytes | None, now: int) -> None:
        """Count a statement a peer makes us store against its quota, or refuse it with ``over-quota``."""
        if received_from is None:
            return
        usage = self.peer_usage(received_from, now)
        size = _stored_size(statement)
        if usage.stored_bytes + size > self.quota.stored_bytes:
            raise RemoteProtocolError(OVER_QUOTA, "this peer has reached its quota of stored data on this node")
        reshare = size if statement.kind == "reshare" else 0
        if reshare and usage.reshare_bytes_today + reshare > self.quota.reshare_bytes_per_day:
            raise RemoteProtocolError(OVER_QUOTA, "this peer has reached its daily quota of re-shared data on this node")
        day = now // DAY_MS
        self.db.execute("INSERT INTO peer_usage (peer) VALUES (?) ON CONFLICT (peer) DO NOTHING", [received_from])
        self.db.execute(
            """UPDATE peer_usage SET stored_bytes = stored_bytes + ?,
                 reshare_bytes = CASE WHEN reshare_day = ? THEN reshare_bytes + ? ELSE ? END, reshare_day = ?
               WHERE peer = ?""",
            [size, day, reshare, reshare, day, received_from])

    def _ingest(self, statement: Statement, received_from: bytes | None, now: int) -> IngestResult:
        author = statement.author
        rejected = {bytes(r["id"]) for r in self.db.query("SELECT id FROM rejected WHERE id IN (?, ?)",
                                                           [statement.id, statement.header.prev or statement.id])}
        if statement.id in rejected:
            raise RemoteProtocolError(REJECTED_BASE, "this statement was rejected before")
        if statement.header.prev is not None and statement.header.prev in rejected:
            raise RemoteProtocolError(REJECTED_BASE, "statement builds on a rejected statement")
        head = self.head(author)
        history = self.key_history(author)
        verdict = log_rules.check(statement, head, history, self.id_at(author, statement.seq))
        if verdict is Verdict.DUPLICATE:
            self._fill_body(statement)
            return IngestResult(verdict, statement.id)
        if verdict is Verdict.FORK:
            conflicting = self.id_at(author, statement.seq) or self.id_at(author, statement.seq - 1)
            kept = next(self.db.query("SELECT COUNT(*) AS n FROM forks WHERE author = ?", [author]))["n"]
            if kept >= MAX_FORK_EVIDENCE_PER_AUTHOR:
                return IngestResult(verdict, statement.id)  # enough evidence: the author is flagged already
            self.db.execute(
                """INSERT OR IGNORE INTO forks (id, author, seq, header, signature, conflicts_with, received_from, detected_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
                [statement.id, author, statement.seq, statement.header_bytes, statement.signature, conflicting,
                 received_from, now],
            )
            return IngestResult(verdict, statement.id)
        if verdict is Verdict.GAP:
            self._check_holdable(statement, head)
            held = next(self.db.query("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(envelope)), 0) AS bytes FROM held WHERE author = ?",
                                      [author]))
            if held["n"] >= MAX_HELD_PER_AUTHOR or held["bytes"] >= MAX_HELD_BYTES_PER_AUTHOR:
                raise RemoteProtocolError(GAP, "too many statements of this author are waiting for their predecessors")
            if received_from is not None and self.peer_usage(received_from, now).held >= self.quota.held:
                raise RemoteProtocolError(OVER_QUOTA, "too many statements from this peer are waiting for their predecessors")
            self.db.execute(
                "INSERT OR IGNORE INTO held (id, author, seq, envelope, received_from, received_at) VALUES (?, ?, ?, ?, ?, ?)",
                [statement.id, author, statement.seq, Envelope.of(statement).encode(), received_from, now],
            )
            return IngestResult(verdict, statement.id)
        self._charge(statement, received_from, now)
        self._store(statement, history, received_from, now)
        released = [statement, *self._release_held(author, received_from, now)]
        return IngestResult(Verdict.APPEND, statement.id, tuple(released))

    def _check_holdable(self, statement: Statement, head: LogHead) -> None:
        """Hold only what could plausibly follow soon: not absurdly far ahead of what we hold. (Its key
        cannot be judged yet — a rotation may sit in the gap — so held bytes are capped instead.)
        Refused with ``gap``, not remembered: the real statement may come later, in order."""
        if statement.seq > head.seq + MAX_HOLD_AHEAD:
            raise RemoteProtocolError(GAP, f"statement {statement.seq} is too far ahead of {head.seq}; send its predecessors first")

    def _release_held(self, author: bytes, received_from: bytes | None, now: int) -> list[Statement]:
        released: list[Statement] = []
        if not list(self.db.query("SELECT 1 FROM held WHERE author = ? LIMIT 1", [author])):
            return released  # the usual case: nothing waiting for this author
        while True:
            head = self.head(author)
            rows = list(
                self.db.query(
                    "SELECT id, envelope, received_from FROM held WHERE author = ? AND seq = ?", [author, head.seq + 1]
                )
            )
            if not rows:
                return released
            for row in rows:
                self.db.execute("DELETE FROM held WHERE id = ?", [row["id"]])
            # Several candidates for one position: the first that chains is appended, the others
            # go through the normal path and become fork evidence.
            progressed = False
            for row in rows:
                statement = Envelope.decode(bytes(row["envelope"])).open_plain()
                frm = bytes(row["received_from"]) if row["received_from"] is not None else received_from
                try:
                    with self.db.atomic():  # a savepoint: a rejected candidate leaves no partial writes
                        result = self._ingest(statement, frm, now)
                except ProtocolError as exc:
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
                kinds.parse_body(statement.kind, header.private, statement.body_value())
            except ProtocolError as exc:
                # The body matches the author's hash, so no copy of this statement can ever be valid.
                raise RemoteProtocolError(BAD_BODY, f"{statement.kind} body is invalid: {exc.detail}") from exc
        if statement.kind == KeyRotation.KIND:
            if statement.body is None or history is None:
                raise RemoteProtocolError(BAD_BODY, "a key rotation must carry its body")
            new_key = KeyRotation.from_value(statement.body_value()).new_key
            already_known = any(p.key == new_key and p.first_seq == header.seq + 1 for p in history.periods)
            if not already_known:  # learnt earlier from a verified card bundle
                self._save_history(history.rotated(statement))
        self.db.execute(
            """INSERT INTO entries (id, author, seq, kind, ts, header, signature, salt, body, received_from, received_at, audience)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [statement.id, header.author, header.seq, header.kind, header.ts, statement.header_bytes,
             statement.signature, statement.salt, statement.body, received_from, now, audience],
        )
        project = PROJECTORS.get(statement.kind)
        if project is not None and statement.body is not None:
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
            _project_org_card(self.db, verified.statement, now)

    def find(self, statement_id: bytes) -> Statement | None:
        """A statement from the logs, or else one that arrived re-shared or relayed."""
        found = self.get(statement_id)
        if found is not None:
            return found
        rows = list(self.db.query("SELECT * FROM foreign_statements WHERE id = ?", [statement_id]))
        return _row_to_statement(rows[0]) if rows else None

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
        statements = [s for s in statements if not _author_blocked(self.db, s.author)]
        if not statements:
            return
        for s in statements:
            new = not list(self.db.query("SELECT 1 FROM foreign_statements WHERE id = ?", [s.id]))
            if charge and new:
                self._charge(s, via, now)
            self.db.execute(
                """INSERT OR IGNORE INTO foreign_statements
                   (id, author, seq, kind, header, signature, salt, body, via, via_statement, distance, received_at, charged_to)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                [s.id, s.author, s.seq, s.kind, s.header_bytes, s.signature, s.salt, s.body, via, via_statement, distance, now,
                 via if charge and new else None],
            )
        save_vouched_history(self.db, card.history, via)
        if vouched:
            # First sight only: the name and sector a partner vouched for are what consent is judged
            # against for this organization until an admin here trusts it; nothing later changes them.
            self.db.execute("INSERT OR IGNORE INTO vouched_orgs (node_id, name, sector, vouched_by, at) VALUES (?, ?, ?, ?, ?)",
                            [card.node_id, card.card.name, card.card.sector, via, now])
            # A newer card is still recorded as the one it declares (``org_cards``, seq-guarded): shown
            # to the admin (`orgnode trust list`) as a changed card, never used for consent.
            _project_org_card(self.db, card.statement, now)
        elif not list(self.db.query("SELECT 1 FROM org_cards WHERE node_id = ?", [card.node_id])):
            _project_org_card(self.db, card.statement, now)

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

    def _refund(self, query: str, statement_id: bytes) -> None:
        """Give erased bytes back to the quota of the peer they were charged to (``query`` names it)."""
        for row in list(self.db.query(query, [statement_id])):
            self.db.execute("UPDATE peer_usage SET stored_bytes = MAX(0, stored_bytes - ?) WHERE peer = ?",
                            [row["n"], row["peer"]])

    def checkpoint_wal(self) -> None:
        """Fold the WAL into the main file and truncate it, so erased pages leave no copy behind."""
        self.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def audience_of(self, statement_id: bytes) -> str | None:
        rows = list(self.db.query("SELECT audience FROM entries WHERE id = ?", [statement_id]))
        return rows[0]["audience"] if rows else None

    def _fill_body(self, statement: Statement) -> None:
        """A duplicate may bring the body we did not hold (e.g. it was withheld on first receipt)."""
        if statement.body is None:
            return
        updated = self.db.execute(
            "UPDATE entries SET salt = ?, body = ? WHERE id = ? AND body IS NULL AND erased_at IS NULL",
            [statement.salt, statement.body, statement.id],
        )
        if updated.rowcount:
            project = PROJECTORS.get(statement.kind)
            if project is not None:
                project(self.db, statement, statement.header.ts)

    def _save_history(self, history: KeyHistory) -> None:
        self.db.execute("DELETE FROM key_periods WHERE author = ?", [history.author])
        for period in history.periods:
            self.db.execute(
                "INSERT INTO key_periods (author, key, first_seq, last_seq) VALUES (?, ?, ?, ?)",
                [history.author, period.key, period.first_seq, period.last_seq],
            )

    def _record_rejection(self, statement: Statement, exc: ProtocolError, received_from: bytes | None, now: int) -> None:
        with self.db.atomic():
            self.db.execute(
                """INSERT OR IGNORE INTO rejected (id, author, seq, code, detail, received_from, at)
                   VALUES (?, ?, ?, ?, ?, ?, ?)""",
                [statement.id, statement.author, statement.seq, exc.code, exc.detail[:500], received_from, now],
            )


@projector("reshare")
def _project_reshare(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    """Keep the re-shared root statement (verified here: a bad one rejects the whole reshare)."""
    verified = verify_reshare(statement)
    root = verified.root
    if _author_blocked(db, root.author):
        # Blocked here: the re-sharer's statement is kept (its log must stay contiguous) but the
        # blocked author's statement is not kept, projected or passed on (docs/protocol.md).
        return
    local = LogStore(db).key_history(root.author)
    if local is not None:
        # We replicate this author's log: its key history as we hold it decides, not the (possibly
        # older) card the re-sharer carried — a key rotated away cannot come back through a re-share.
        try:
            local.check_key(root.header.key, root.seq)
        except ProtocolError:
            return
    LogStore(db).keep_foreign([root], via=statement.author, via_statement=statement.id, distance=verified.distance,
                              card=verified.author_card, now=now)
    inner = FOREIGN_PROJECTORS.get(root.kind)
    if inner is not None:
        inner(db, root, statement.author, now)


def _author_blocked(db: sqlite_utils.Database, author: bytes) -> bool:
    return bool(list(db.query("SELECT 1 FROM peers WHERE node_id = ? AND state = 'blocked'", [author])))


ForeignProjector = Callable[[sqlite_utils.Database, Statement, bytes, int], None]
# Projections of statements that arrive re-shared (root statement, the peer that passed it on, now).
FOREIGN_PROJECTORS: dict[str, ForeignProjector] = {}


def foreign_statements(db: sqlite_utils.Database, kind: str | None = None) -> list[tuple[Statement, bytes, int]]:
    """Re-shared statements held (not also held directly), with the peer they came through and their distance."""
    rows = db.query(
        "SELECT * FROM foreign_statements WHERE id NOT IN (SELECT id FROM entries) AND (? IS NULL OR kind = ?) ORDER BY received_at",
        [kind, kind],
    )
    return [(_row_to_statement(r), bytes(r["via"]), int(r["distance"])) for r in rows]
