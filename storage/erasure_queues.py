"""The two queues that make erasure reliable (GDPR Art. 19): withdrawals relayed to a non-partner,
re-sent until their erasure receipt comes (``withdrawal_deliveries``), and erasure receipts this node
owes, retried until they are out (``erasure_receipts_due``). Part of ``TalentStore``."""

from __future__ import annotations

import json

import sqlite_utils

from storage.talent_rows import ReceiptDueRow, WithdrawalDeliveryRow, _receipt_due, _withdrawal_delivery


class ErasureQueues:
    db: sqlite_utils.Database

    # --- relayed withdrawals until their erasure receipt (issue 8 item 8) ---------------------------

    def record_withdrawal_delivery(self, withdrawal: bytes, recipient: bytes, route: bytes, via: bytes | None, now: int,
                                   next_at: int) -> None:
        """A withdrawal was relayed to ``recipient`` through ``via`` for the first time (None: there
        was no path; it has been sent 0 times and is due at ``next_at``)."""
        self.db.execute(
            """INSERT OR IGNORE INTO withdrawal_deliveries (withdrawal, recipient, route, first_sent_at, last_sent_at,
                 attempts, vias, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)""",
            [withdrawal, recipient, route, now, now, 1 if via is not None else 0,
             json.dumps([via.hex()] if via is not None else []), next_at])

    def withdrawal_resent(self, withdrawal: bytes, recipient: bytes, via: bytes | None, now: int, next_at: int) -> None:
        """Record a re-send through ``via`` (None: no path was found this time; only the next try moves)."""
        row = self.withdrawal_delivery(withdrawal, recipient)
        if row is None:
            return
        vias = [*(v.hex() for v in row.vias), *([via.hex()] if via is not None else [])]
        self.db.execute(
            """UPDATE withdrawal_deliveries SET attempts = attempts + ?, last_sent_at = ?, vias = ?, next_at = ?
               WHERE withdrawal = ? AND recipient = ?""",
            [1 if via is not None else 0, now if via is not None else row.last_sent_at, json.dumps(vias), next_at,
             withdrawal, recipient])

    def withdrawal_acknowledged(self, withdrawal: bytes, recipient: bytes, now: int) -> None:
        self.db.execute("UPDATE withdrawal_deliveries SET acked_at = ? WHERE withdrawal = ? AND recipient = ? AND acked_at IS NULL",
                        [now, withdrawal, recipient])

    def withdrawal_delivery(self, withdrawal: bytes, recipient: bytes) -> WithdrawalDeliveryRow | None:
        rows = list(self.db.query("SELECT * FROM withdrawal_deliveries WHERE withdrawal = ? AND recipient = ?",
                                  [withdrawal, recipient]))
        return _withdrawal_delivery(rows[0]) if rows else None

    def withdrawals_due(self, now: int) -> list[WithdrawalDeliveryRow]:
        """Relayed withdrawals with no erasure receipt whose deadline has passed at ``now``."""
        return [_withdrawal_delivery(r) for r in self.db.query(
            "SELECT * FROM withdrawal_deliveries WHERE acked_at IS NULL AND next_at <= ? ORDER BY next_at", [now])]

    # --- erasure receipts owed (issue 8 item 4) ---------------------------------------------------

    def owe_receipt(self, withdrawal: bytes, recipient: bytes, route: bytes, referral_ids: list[bytes], erased_at: int,
                    due_at: int) -> None:
        """Record that a receipt for ``withdrawal`` is owed from ``due_at`` (once: a retried reaction changes nothing)."""
        self.db.execute(
            """INSERT OR IGNORE INTO erasure_receipts_due (withdrawal, recipient, route, referral_ids, erased_at, next_at)
               VALUES (?, ?, ?, ?, ?, ?)""", [withdrawal, recipient, route, b"".join(referral_ids), erased_at, due_at])

    def next_receipt_due(self, now: int) -> int | None:
        """When (ms) the next owed erasure receipt is due to be tried, or None if none is owed."""
        row = next(self.db.query("SELECT MIN(next_at) AS at FROM erasure_receipts_due"))
        return None if row["at"] is None else int(row["at"])

    def next_withdrawal_due(self, now: int) -> int | None:
        """When (ms) the next relayed withdrawal without a receipt is due to be re-sent, or None."""
        row = next(self.db.query("SELECT MIN(next_at) AS at FROM withdrawal_deliveries WHERE acked_at IS NULL"))
        return None if row["at"] is None else int(row["at"])

    def receipts_due(self, now: int) -> list[ReceiptDueRow]:
        return [_receipt_due(r) for r in self.db.query(
            "SELECT * FROM erasure_receipts_due WHERE next_at <= ? ORDER BY next_at", [now])]

    def receipt_owed(self, withdrawal: bytes) -> ReceiptDueRow | None:
        rows = list(self.db.query("SELECT * FROM erasure_receipts_due WHERE withdrawal = ?", [withdrawal]))
        return _receipt_due(rows[0]) if rows else None

    def receipt_paid(self, withdrawal: bytes) -> None:
        self.db.execute("DELETE FROM erasure_receipts_due WHERE withdrawal = ?", [withdrawal])

    def receipt_failed(self, withdrawal: bytes, error: str, next_at: int) -> None:
        self.db.execute("UPDATE erasure_receipts_due SET attempts = attempts + 1, last_error = ?, next_at = ? WHERE withdrawal = ?",
                        [error[:200], next_at, withdrawal])
