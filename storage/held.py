"""Statements held out of order (``held``): one that arrives before its predecessors waits here until
they come, or until it expires. Bounded per author (count, bytes, distance ahead) and per peer (its
``PeerQuota.held``). A mixin of ``LogStore``, whose ingest holds and releases them."""

from __future__ import annotations

from protocol.errors import GAP, OVER_QUOTA, RemoteProtocolError
from protocol.log import LogHead
from protocol.statement import Envelope, Statement
from storage.peer_usage import PeerUsageAccounts

MAX_HELD_PER_AUTHOR = 10_000
MAX_HELD_BYTES_PER_AUTHOR = 16 * 1024 * 1024
MAX_HOLD_AHEAD = 4096  # statements beyond the head that may be held waiting for their predecessors


class HeldStatements(PeerUsageAccounts):
    def expire_held(self, now: int) -> int:
        """Drop held statements older than the quota's expiry; returns how many were dropped."""
        if self._memo is not None:
            if self._memo.expired_at == now:  # this batch expired them already at this very ``now``
                return 0
            self._memo.expired_at = now
        cursor = self.db.execute("DELETE FROM held WHERE received_at < ?", [now - self.quota.held_ttl_ms])
        if cursor.rowcount and self._memo is not None:
            self._flush_charges()  # not rolled back: written before the memo is dropped
            self._memo.clear()
            self._memo.expired_at = now
        return int(cursor.rowcount or 0)

    def next_held_expiry(self, now: int) -> int | None:
        """When (ms) the oldest held statement expires (the first ``now`` at which ``expire_held`` drops
        it), or None if none is held."""
        row = next(self.db.query("SELECT MIN(received_at) AS oldest FROM held"))
        return None if row["oldest"] is None else int(row["oldest"]) + self.quota.held_ttl_ms + 1

    def _hold(self, statement: Statement, head: LogHead, received_from: bytes | None, now: int) -> None:
        """Keep a statement that arrived before its predecessors, within the bounds, or refuse it."""
        self._check_holdable(statement, head)
        self._forget_usage()  # the sender's held count changes
        if self._memo is not None:
            self._memo.held.pop(statement.author, None)
        held = next(self.db.query("SELECT COUNT(*) AS n, COALESCE(SUM(LENGTH(envelope)), 0) AS bytes FROM held WHERE author = ?",
                                  [statement.author]))
        if held["n"] >= MAX_HELD_PER_AUTHOR or held["bytes"] >= MAX_HELD_BYTES_PER_AUTHOR:
            raise RemoteProtocolError(GAP, "too many statements of this author are waiting for their predecessors")
        if received_from is not None and self.peer_usage(received_from, now).held >= self.quota.held:
            raise RemoteProtocolError(OVER_QUOTA, "too many statements from this peer are waiting for their predecessors")
        self.db.execute(
            "INSERT OR IGNORE INTO held (id, author, seq, envelope, received_from, received_at) VALUES (?, ?, ?, ?, ?, ?)",
            [statement.id, statement.author, statement.seq, Envelope.of(statement).encode(), received_from, now],
        )

    def _check_holdable(self, statement: Statement, head: LogHead) -> None:
        """Hold only what could plausibly follow soon: not absurdly far ahead of what we hold. (Its key
        cannot be judged yet — a rotation may sit in the gap — so held bytes are capped instead.)
        Refused with ``gap``, not remembered: the real statement may come later, in order."""
        if statement.seq > head.seq + MAX_HOLD_AHEAD:
            raise RemoteProtocolError(GAP, f"statement {statement.seq} is too far ahead of {head.seq}; send its predecessors first")

    def _any_held(self, author: bytes) -> bool:
        memo = self._memo
        if memo is not None and (known := memo.held.get(author)) is not None:
            return known
        held = bool(list(self.db.query("SELECT 1 FROM held WHERE author = ? LIMIT 1", [author])))
        if memo is not None:
            memo.held[author] = held
        return held

    def _take_held(self, author: bytes, seq: int, received_from: bytes | None) -> list[tuple[Statement, bytes | None]]:
        """Remove and return the statements held for ``author`` at ``seq``, each with the peer it came
        from (``received_from`` when that was not recorded)."""
        rows = list(self.db.query("SELECT id, envelope, received_from FROM held WHERE author = ? AND seq = ?", [author, seq]))
        if rows:
            self._forget_usage()
            if self._memo is not None:
                self._memo.held.pop(author, None)
        for row in rows:
            self.db.execute("DELETE FROM held WHERE id = ?", [row["id"]])
        return [(Envelope.decode(bytes(row["envelope"])).open_plain(),
                 bytes(row["received_from"]) if row["received_from"] is not None else received_from) for row in rows]
