"""Correcting a referral's outcome (docs/protocol.md 15.10), on both sides.

The job's organization signs a ``referral_correction`` of the referral's latest step (an outcome, or
an earlier correction) with ``correct_referral``; the referrer applies it in ``_on_correction``. The
rule itself is ``protocol.corrections.check_correction``, run on this node's record of the
referral's steps before signing and again on receipt, so a correction a partner would ignore is
never signed. The referral's status becomes the corrected one; later statuses continue from it.

Like the stages, a correction goes only to a referrer whose node named ``referral-corrections``
(``OrgNode-Features``): an older node cannot decode the kind and would stop reading our log, so the
correction is refused here, before anything is signed (``peer-lacks-feature``). A hire corrected
away also takes back the job's "filled by this referral": the job gets a new version, closed and
not filled, so no figure keeps counting a hire that did not happen.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from node.core.errors import UserError
from node.core.referrals import Referrals
from node.logs import log_event
from protocol.corrections import ReferralCorrection, Step, check_correction, features_needed
from protocol.errors import MALFORMED, ProtocolError, RemoteProtocolError
from protocol.jobs import Job
from protocol.referrals import Referral, ReferralStatus
from protocol.statement import Statement

if TYPE_CHECKING:
    from storage.talent_rows import ReferralRow


class Corrections(Referrals):
    if TYPE_CHECKING:  # provided by TalentViews (node/core/talent_views.py)
        def org_name(self, node_id: bytes) -> str | None: ...

    def correct_referral(self, referral_id: bytes, status: str, reason: str, acted_by: str | None = None) -> dict[str, Any]:
        """Sign a correction of the referral's latest outcome to ``status``; ``acted_by`` (the dashboard
        user) goes into the statement only when ``share_staff_names`` is on, and is recorded here always."""
        row = self.store.referral(referral_id)
        if row is None:
            raise UserError("no such referral (see `orgnode referral list`)")
        if row.job_author != self.me:
            raise UserError("only the job's organization can correct a referral's outcome, and this referral went to "
                            f"{self.org_name(row.job_author) or 'another organization'}: ask them to correct it")
        if self.store.referral_withdrawn(referral_id):
            raise UserError("the candidate withdrew their consent to this referral, which ends it whatever its outcome "
                            "says; nothing was signed: a correction would reopen the referral of someone who withdrew. "
                            "If they want to be considered again, ask the referring organization for a new referral "
                            "under a new consent")
        steps = self.lifecycle_steps(row)
        latest = steps[-1] if steps else None
        shared = self.shared_name(acted_by)
        try:
            body = ReferralCorrection(referral_id, latest.statement_id if latest else b"\0" * 32, status, reason.strip(), shared)
            check_correction(body, self.me, row.job_author, latest, latest)
        except ProtocolError as exc:
            if "sets no outcome" in exc.detail:
                raise UserError(f"{exc.detail}; nothing was signed; use `orgnode referral update` to record its progress") from exc
            raise UserError(f"{exc.detail}; nothing was signed; see its outcome now with `orgnode referral show` and "
                            "correct it to a different one",
                            field="reason" if "reason" in exc.detail else "status" if "corrected to" in exc.detail else None) from exc
        self._check_peer_understands_correction(status, row.referrer)
        statement = self._send(ReferralCorrection.KIND, body.to_value(), row.referrer, row.job_id)
        self._apply_correction(row, body, self.me, statement.id, acted_by)
        unfilled = self._unfill_job(row, status)
        log_event("referral.corrected", referral=referral_id)
        return {**self.referral_view(self.store.referral(referral_id) or row), "unfilled_job_id": unfilled}

    def lifecycle_steps(self, row: ReferralRow) -> list[Step]:
        """This node's record of the referral's lifecycle statements, oldest first, as the rules read them."""
        def kind(statement_id: bytes, corrects: bytes | None) -> str:
            if corrects is not None:
                return ReferralCorrection.KIND
            return Referral.KIND if statement_id == row.statement_id else ReferralStatus.KIND

        return [Step(e.statement_id, kind(e.statement_id, e.corrects), e.by, e.status) for e in self.store.events(row.referral_id)]

    def _check_peer_understands_correction(self, status: str, referrer: bytes) -> None:
        known = self.federation.service.peer_features.get(referrer, frozenset())
        missing = [f for f in features_needed(status) if f not in known]
        if missing:
            raise UserError(
                f"the referring organization's node has not said it understands {missing[0]!r} (its answers do not "
                "name it), so it cannot read this correction; nothing was sent. Run `orgnode sync` so its node answers; "
                "if it runs an older release, ask its operator to upgrade, then correct again", code="peer-lacks-feature")

    def _apply_correction(self, row: ReferralRow, body: ReferralCorrection, by: bytes, statement_id: bytes,
                          acted_by: str | None) -> None:
        now = self.clock()
        self.store.upsert_referral(row.referral_id, status=body.status, reason=body.reason, updated_at=now)
        self.store.add_event(row.referral_id, body.status, by, statement_id, body.reason, now, corrects=body.corrects,
                             acted_by=acted_by)

    def _on_correction(self, statement: Statement) -> None:
        body = ReferralCorrection.from_value(statement.body_value())
        row = self.store.referral(body.referral_id)
        if row is None:
            return  # not a referral this node is part of
        steps = self.lifecycle_steps(row)
        if any(s.statement_id == statement.id for s in steps):
            return  # already applied (reactions may be retried)
        target = next((s for s in steps if s.statement_id == body.corrects), None)
        check_correction(body, statement.author, row.job_author, target, steps[-1] if steps else None)
        if self.store.referral_withdrawn(row.referral_id):
            raise RemoteProtocolError(MALFORMED, "the referral's consent was withdrawn: a correction cannot reopen it")
        self._apply_correction(row, body, statement.author, statement.id, body.acted_by)
        log_event("referral.corrected", referral=body.referral_id)

    def _unfill_job(self, row: ReferralRow, status: str) -> str | None:
        """A hire corrected away: our job marked filled by this referral becomes closed, not filled (a new version)."""
        job_row = self.store.job(row.job_id, self.me)
        if status == "hired" or job_row is None or job_row.job.status != "filled" or job_row.job.filled_by != row.referral_id:
            return None
        old = job_row.job
        job = dataclasses.replace(old, version=old.version + 1, status="closed", filled_by=None)
        self.federation.append(Job.KIND, job.to_value(), private=True)
        return row.job_id.hex()

    def _handlers(self) -> dict[str, Callable[[Statement], None]]:
        return {**super()._handlers(), ReferralCorrection.KIND: self._on_correction}
