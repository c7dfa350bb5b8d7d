"""What each trusted peer has made this node keep (``peer_usage``), charged against its ``PeerQuota``
(issue 8 item 12): a mixin of ``LogStore``, which charges every statement a peer makes it store."""

from __future__ import annotations

import sqlite_utils

from protocol.errors import OVER_QUOTA, RemoteProtocolError
from protocol.statement import Statement
from storage.ingest_memo import IngestMemo
from storage.quotas import DAY_MS, PeerQuota, PeerUsage
from storage.statement_rows import stored_size


class PeerUsageAccounts:
    """Per-peer accounts on ``self.db`` under the limits ``self.quota`` (which callers may replace)."""

    db: sqlite_utils.Database
    quota: PeerQuota
    _memo: IngestMemo | None = None  # on only inside ``LogStore.batch_reads`` (storage/ingest_memo.py)

    def _forget_usage(self) -> None:
        """The accounts may change behind the memo (held count, refusals, refunds): write what is
        pending first, then read them afresh next time."""
        if self._memo is not None:
            self._flush_charges()
            self._memo.usage.clear()

    def _flush_charges(self) -> None:
        """Write the quota charges summed while deferred (``all_or_nothing``): one UPDATE per peer
        and day for the whole batch, the same row as one UPDATE per statement would leave."""
        memo = self._memo
        if memo is None or not memo.pending_charges:
            return
        for (peer, day), (size, reshare) in memo.pending_charges.items():
            self._write_charge(peer, day, size, reshare)
        memo.pending_charges.clear()

    def _write_charge(self, peer: bytes, day: int, size: int, reshare: int) -> None:
        memo = self._memo
        if memo is None or peer not in memo.charged:
            self.db.execute("INSERT INTO peer_usage (peer) VALUES (?) ON CONFLICT (peer) DO NOTHING", [peer])
            if memo is not None:
                memo.charged.add(peer)
        self.db.execute(
            """UPDATE peer_usage SET stored_bytes = stored_bytes + ?,
                 reshare_bytes = CASE WHEN reshare_day = ? THEN reshare_bytes + ? ELSE ? END, reshare_day = ?
               WHERE peer = ?""",
            [size, day, reshare, reshare, day, peer])

    def record_over_quota(self, peer: bytes, now: int) -> None:
        """Data from ``peer`` was refused as over its quota at ``now``: counted and shown in ``trust list``."""
        self._forget_usage()
        self.db.execute("INSERT INTO peer_usage (peer) VALUES (?) ON CONFLICT (peer) DO NOTHING", [peer])
        self.db.execute("UPDATE peer_usage SET refused = refused + 1, refused_at = ? WHERE peer = ?", [now, peer])

    def over_quota_since(self, since: int) -> list[tuple[bytes, int, int]]:
        """Peers whose data was refused as over quota at or after ``since`` (ms): (peer, refusals in
        total, last refusal); one row per peer at most."""
        rows = self.db.query("SELECT peer, refused, refused_at FROM peer_usage WHERE refused_at >= ? ORDER BY refused_at",
                             [since])
        return [(bytes(r["peer"]), int(r["refused"]), int(r["refused_at"])) for r in rows]

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
        if received_from is not None:
            self._charge_bytes(stored_size(statement), statement.kind == "reshare", received_from, now)

    def _charge_body(self, statement: Statement, received_from: bytes | None, now: int) -> None:
        """Count a body a peer fills in for a statement we hold header-only (a duplicate carrying it:
        a want's answer, docs/protocol.md 14.2, or a body sealed later) exactly as if the statement
        had arrived with it: the header was charged on receipt, its body and salt are charged now."""
        if received_from is not None and statement.body is not None:
            self._charge_bytes(len(statement.body) + len(statement.salt or b""), statement.kind == "reshare",
                               received_from, now)

    def _charge_bytes(self, size: int, is_reshare: bool, received_from: bytes, now: int) -> None:
        memo = self._memo
        usage = memo.usage.get(received_from) if memo is not None else None
        if usage is None:
            usage = self.peer_usage(received_from, now)
        if usage.stored_bytes + size > self.quota.stored_bytes:
            raise RemoteProtocolError(OVER_QUOTA, "this peer has reached its quota of stored data on this node")
        reshare = size if is_reshare else 0
        if reshare and usage.reshare_bytes_today + reshare > self.quota.reshare_bytes_per_day:
            raise RemoteProtocolError(OVER_QUOTA, "this peer has reached its daily quota of re-shared data on this node")
        day = now // DAY_MS
        if memo is not None and memo.defer_charges:
            pending = memo.pending_charges.setdefault((received_from, day), [0, 0])
            pending[0] += size
            pending[1] += reshare
        else:
            self._write_charge(received_from, day, size, reshare)
        if memo is not None:  # what the row now says, or will once the pending charges are written
            memo.usage[received_from] = PeerUsage(usage.stored_bytes + size, usage.reshare_bytes_today + reshare,
                                                  usage.held, usage.refused, usage.refused_at)

    def _refund(self, query: str, statement_id: bytes) -> None:
        """Give erased bytes back to the quota of the peer they were charged to (``query`` names it)."""
        self._forget_usage()
        for row in list(self.db.query(query, [statement_id])):
            self.db.execute("UPDATE peer_usage SET stored_bytes = MAX(0, stored_bytes - ?) WHERE peer = ?",
                            [row["n"], row["peer"]])
