"""Erasure on withdrawal (GDPR Art. 17 and 19), both sides: a recipient erases what a withdrawal
names and owes a receipt, sent after the erasure committed and retried until it is out; a holder
re-sends a withdrawal relayed to a non-partner through another path until it is receipted.

A part of ``Talent`` (node/core/talent.py), on top of the referral lifecycle (node/core/referrals.py).
"""

from __future__ import annotations

import logging
from typing import Any

from node.core.corrections import Corrections
from node.core.errors import UserError
from node.logs import log_event
from protocol.audience import Audience
from protocol.consent import ConsentWithdrawal, ErasureReceipt
from protocol.errors import ProtocolError
from protocol.relay import WITHDRAWAL_NO_PATH_RECHECK_MS, next_retry_hop, withdrawal_retry_at
from protocol.statement import Statement

RECEIPT_RETRY_MS = 1_000  # first retry of an erasure receipt that could not be sent
RECEIPT_RETRY_CAP_MS = 3_600_000  # retries back off to at most one an hour, and never stop


def receipt_backoff(attempts: int) -> int:
    """How long to wait before the next try of a receipt that failed ``attempts + 1`` times."""
    return int(min(RECEIPT_RETRY_CAP_MS, RECEIPT_RETRY_MS * 2 ** min(attempts, 32)))


class Erasure(Corrections):
    def _on_withdrawal(self, statement: Statement) -> None:
        """Erase, and record the receipt as owed, in this reaction's transaction; nothing else happens
        here. Sending the receipt is a separate step after the commit (``send_due_receipts``): a failure
        there (no path back, an unusable key in the withdrawer's card) can never undo the erasure, and
        the receipt stays owed and is retried (issue 8 item 4)."""
        body = ConsentWithdrawal.from_value(statement.body_value())
        now = self.clock()
        erased: list[bytes] = []
        for rid in body.referral_ids:
            row = self.store.referral(rid)
            if row is None or row.referrer != statement.author or row.job_author != self.me:
                continue
            self.store.erase_referral(rid, now)
            self._apply_status(rid, "withdrawn", statement.author, statement.id, "consent withdrawn", now, notify=True)
            erased.append(rid)
        # Erased pages must not linger in the WAL once this commits.
        self.federation.after_commit(self.store.checkpoint)
        log_event("consent.erased", referrals=len(erased))
        sent = self._receipt_for(statement.id)
        if sent is not None:
            # A retried reaction or a re-sent withdrawal: the erasure above was a no-op; the receipt
            # went out before, perhaps into a hop that swallowed it, so it goes out again.
            self._resend_receipt(sent, statement)
            return
        self.store.owe_receipt(statement.id, statement.author, self._route(erased[0] if erased else None), erased, now,
                               due_at=self.clock())
        self.federation.after_commit(self._send_receipts_now)

    def _send_receipts_now(self) -> None:
        """After a withdrawal's erasure committed: try its receipt at once (and any other now due)."""
        self.send_due_receipts()

    def send_due_receipts(self, now: int | None = None) -> int:
        """Append every erasure receipt owed whose retry time has come, each in its own transaction, and
        return how many went out. One that cannot be sent now stays owed, retried with back-off
        (``RECEIPT_RETRY_MS`` doubling up to ``RECEIPT_RETRY_CAP_MS``) and never given up: the withdrawer
        is owed it (GDPR Art. 19). Called after a withdrawal's reaction commits and as a timer."""
        now = self.clock() if now is None else now
        sent = 0
        for due in self.store.receipts_due(now):
            receipt = ErasureReceipt(due.withdrawal, due.referral_ids, due.erased_at)
            try:
                with self.db.atomic():
                    self._send(ErasureReceipt.KIND, receipt.to_value(), due.recipient, due.route)
                    self.store.receipt_paid(due.withdrawal)
            except (ProtocolError, UserError) as exc:
                reason = exc.code if isinstance(exc, ProtocolError) else "no-path"  # a UserError here: no path to it
                self.store.receipt_failed(due.withdrawal, reason, now + receipt_backoff(due.attempts))
                log_event("erasure.receipt-unsent", logging.WARNING, withdrawal=due.withdrawal, reason=reason,
                          attempts=due.attempts + 1)
                continue
            log_event("erasure.receipt-sent", withdrawal=due.withdrawal, attempts=due.attempts + 1)
            sent += 1
        return sent

    def _receipt_for(self, withdrawal: bytes) -> Statement | None:
        """Our erasure receipt for ``withdrawal``, if one was sent."""
        for own in self.federation.service.log.of_kind(ErasureReceipt.KIND):
            if own.author == self.me and own.body is not None and ErasureReceipt.from_value(own.body_value()).withdrawal == withdrawal:
                return own
        return None

    def _resend_receipt(self, receipt: Statement, withdrawal: Statement) -> None:
        """A withdrawal we answered came again through a relay: the sender has not seen our receipt
        (a hop may have swallowed it), so the same receipt goes back again, along the way the
        re-sent withdrawal just came (the route learnt from it). Partners get it by sync anyway."""
        if self.relays is None or self.federation.peers.is_trusted(withdrawal.author):
            return
        body = ErasureReceipt.from_value(receipt.body_value())
        try:
            self.relays.send([receipt], withdrawal.author, self._route(body.referral_ids[0] if body.referral_ids else None))
        except UserError as exc:
            log_event("erasure.receipt-unsent", logging.WARNING, withdrawal=withdrawal.id, reason=str(exc)[:80])

    def _on_receipt(self, statement: Statement) -> None:
        body = ErasureReceipt.from_value(statement.body_value())
        self.store.acknowledge(list(body.referral_ids), statement.author, statement.id, self.clock())
        self.store.withdrawal_acknowledged(body.withdrawal, statement.author, self.federation.clock())

    # --- withdrawals relayed to non-partners: re-sent until receipted (issue 8 item 8) ---------------

    def _send_withdrawal(self, body: ConsentWithdrawal, recipient: bytes, route: bytes) -> Statement:
        """Append a withdrawal for ``recipient``. A partner gets it by sync (the outbox re-pushes until
        it has it). To a non-partner it is relayed and its acknowledgement deadline starts; with no
        path right now it is still appended and recorded, due at once, so the timer sends it as soon
        as a path appears: a candidate's withdrawal never fails for want of a route."""
        statement = self.federation.append(ConsentWithdrawal.KIND, body.to_value(), private=True, audience=Audience.only(recipient))
        if self.relays is None or self.federation.peers.is_trusted(recipient):
            return statement
        now = self.federation.clock()
        hop = self.relays.next_hop(recipient, route)
        if hop is not None:
            try:
                self.relays.send([statement], recipient, route, via=hop)
            except UserError as exc:
                log_event("consent.withdrawal-unsent", logging.WARNING, withdrawal=statement.id, reason=str(exc)[:80])
                hop = None
        self.store.record_withdrawal_delivery(statement.id, recipient, route, hop, now,
                                              withdrawal_retry_at(now, 1) if hop is not None else now)
        return statement

    def retry_withdrawals(self, now: int) -> list[dict[str, Any]]:
        """Re-send every relayed withdrawal whose erasure receipt is overdue at ``now`` through another
        known path (``next_retry_hop`` over ``Relays.hops_to``), and set its next deadline (doubling,
        ``withdrawal_retry_at``); one with no path is looked at again after
        WITHDRAWAL_NO_PATH_RECHECK_MS. Runs on the sync engine's timer; returns what it re-sent."""
        resent: list[dict[str, Any]] = []
        if self.relays is None:
            return resent
        for row in self.store.withdrawals_due(now):
            statement = self.federation.service.log.get(row.withdrawal)
            if statement is None or statement.body is None:
                continue
            hop = next_retry_hop(self.relays.hops_to(row.recipient, row.route), list(row.vias))
            with self.db.atomic():
                if hop is not None:
                    try:
                        self.relays.send([statement], row.recipient, row.route, via=hop)
                    except UserError:
                        hop = None
                attempts = row.attempts + (1 if hop is not None else 0)
                due = withdrawal_retry_at(now, attempts) if hop is not None else now + WITHDRAWAL_NO_PATH_RECHECK_MS
                self.store.withdrawal_resent(row.withdrawal, row.recipient, hop, now, due)
            log_event("consent.withdrawal-resent" if hop else "consent.withdrawal-no-path", logging.WARNING,
                      withdrawal=row.withdrawal, to=row.recipient, hop=hop, attempts=attempts)
            resent.append({"withdrawal": row.withdrawal.hex(), "to": row.recipient.hex(), "via": hop.hex() if hop else None})
        return resent
