"""Provenance on a running node: periodic log checkpoints, witnessing peers' checkpoints (split-view
detection), referral audit bundles and impact reports.

Design: every ``interval`` seconds a node that appended content since its last checkpoint signs a
``checkpoint`` (size and RFC 9162 root of its own log) and then a ``witness`` statement carrying
the newest checkpoints it holds of other authors. A node receiving a witness compares each carried
checkpoint with its own copy of that author's log: a different statement at the same position is a
fork; a root that does not match its copy is a split view. An author's checkpoint received directly
is compared the same way (a root that does not match the log it sent). Both are kept as evidence (``forks``)
and raised in ``orgnode status`` and ``orgnode trust list``. Checkpoints and witnesses do not count
as new content, so two quiet nodes do not checkpoint each other forever.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from dataclasses import dataclass, field
from typing import Any

from node.core.clock import Timer
from node.core.cosigning import Cosigning
from node.core.errors import UserError
from node.core.federation import Federation
from node.core.off_loop_reads import OffLoopReader
from node.logs import log_event
from protocol.audience import Audience
from protocol.audit_bundle import AuditBundle, BundleCosignature, Consistency, Proof
from protocol.consent import Consent, ConsentWithdrawal
from protocol.corrections import ReferralCorrection
from protocol.errors import ProtocolError
from protocol.impact import Impact, compute
from protocol.jobs import Job
from protocol.merkle import consistency_proof, inclusion_proof, tree_root
from protocol.path_proofs import EmployerProofs
from protocol.provenance import MAX_WITNESSED, Checkpoint, ImpactReport, Witness
from protocol.referrals import Referral, ReferralProfile, ReferralRequest, ReferralStatus
from protocol.reshare import verify_reshare
from protocol.statement import Envelope, Statement
from storage.cards import CardStore
from storage.cosignatures import CosignatureStore
from storage.foreign import foreign_statements
from storage.fork_decisions import ForkDecisions
from storage.provenance import ProvenanceStore, held_statements
from storage.talent import TalentStore

INFRASTRUCTURE = frozenset({Checkpoint.KIND, Witness.KIND})
PII_KINDS = frozenset({ReferralProfile.KIND})


@dataclass
class Provenance:
    federation: Federation
    interval: float = 300.0
    _next_at: int | None = None  # when the next checkpoint is due (node clock, ms); None until started
    _timer: Timer = field(init=False)
    _witnessed: dict[bytes, bytes] = field(default_factory=dict)
    _roots: dict[tuple[bytes, int], bytes] = field(default_factory=dict)
    cosigning: Cosigning = field(init=False)

    def __post_init__(self) -> None:
        self.cosigning = Cosigning(self.federation)
        self.federation.on_appended.append(self.on_appended)
        self._timer = Timer("checkpoints", self._checkpoint_due, self._next_checkpoint)

    @property
    def me(self) -> bytes:
        return self.federation.me

    @property
    def log(self) -> Any:
        return self.federation.service.log

    @property
    def db(self) -> Any:
        return self.federation.service.db

    @property
    def store(self) -> ProvenanceStore:
        return ProvenanceStore(self.federation.service.db)

    # --- component ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Checkpoints are due every ``interval`` seconds of the node's clock from now: a timer run by
        the sync engine's maintenance loop (``Federation.timers``), which sleeps until it is due."""
        self._next_at = self.federation.clock() + int(self.interval * 1000)
        self.federation.timers.append(self._timer)

    async def stop(self) -> None:
        with contextlib.suppress(ValueError):
            self.federation.timers.remove(self._timer)

    def _next_checkpoint(self, now: int) -> int | None:
        return self._next_at

    def _checkpoint_due(self, now: int) -> None:
        if self._next_at is None or now < self._next_at:
            return
        self._next_at = now + int(self.interval * 1000)
        try:
            self.checkpoint()
            self.witness()
        except Exception as exc:  # keep checkpointing on the next tick
            log_event("checkpoint.error", logging.ERROR, error=type(exc).__name__)

    # --- checkpoints and witnesses ------------------------------------------------------------

    def latest_checkpoint(self, author: bytes) -> tuple[Statement, Checkpoint] | None:
        latest = self.store.latest_of_kind(author, Checkpoint.KIND)
        if latest is None:
            return None
        statement = self.log.get(latest)
        return (statement, Checkpoint.from_value(statement.body_value())) if statement and statement.body else None

    def ids(self, author: bytes, size: int) -> list[bytes]:
        return self.store.ids_up_to(author, size)

    def checkpoint(self, force: bool = False) -> Statement | None:
        """Sign a checkpoint of the own log if anything but checkpoints/witnesses was added since the last one."""
        head = self.log.head(self.me)
        last = self.latest_checkpoint(self.me)
        if not force and last is not None:
            if all(kind in INFRASTRUCTURE for kind in self.store.kinds_after(self.me, last[0].seq)):
                return None
        ids = self.ids(self.me, head.seq)
        statement = self.federation.append(Checkpoint.KIND, Checkpoint(len(ids), tree_root(ids)).to_value(), private=False)
        log_event("checkpoint.signed", size=len(ids))
        return statement

    def witness(self) -> Statement | None:
        carried: list[bytes] = []
        for author, seq in self.store.latest_seq_of_kind_by_author(Checkpoint.KIND, exclude=self.me).items():
            statement_id = self.log.id_at(author, seq)
            if statement_id is None or self._witnessed.get(author) == statement_id:
                continue
            statement = self.log.get(statement_id)
            if statement is not None and statement.body is not None and len(carried) < MAX_WITNESSED:
                carried.append(Envelope.of(statement).encode())
                self._witnessed[statement.author] = statement_id  # the rest go in the next witness
        if not carried:
            return None
        return self.federation.append(Witness.KIND, Witness(tuple(carried)).to_value(), private=False)

    def on_appended(self, statements: list[Statement]) -> None:
        for statement in statements:
            if statement.author == self.me or statement.body is None:
                continue
            if statement.kind == Checkpoint.KIND:
                # An author's own checkpoint must match the log it gave us (a lying root is a split view).
                try:
                    self._compare(statement, statement.author)
                except ProtocolError as exc:
                    log_event("checkpoint.bad", logging.WARNING, peer=statement.author, code=exc.code)
                continue
            if statement.kind != Witness.KIND:
                continue
            for raw in Witness.from_value(statement.body_value()).checkpoints:
                try:
                    self._compare(Envelope.decode(raw).open_plain(), statement.author)
                except ProtocolError as exc:
                    log_event("witness.bad", logging.WARNING, peer=statement.author, code=exc.code)

    def _compare(self, cp_statement: Statement, witness: bytes) -> None:
        author = cp_statement.author
        history = self.log.key_history(author)
        if author == self.me or history is None or cp_statement.kind != Checkpoint.KIND:
            return
        history.check_key(cp_statement.header.key, cp_statement.seq)
        checkpoint = Checkpoint.from_value(cp_statement.body_value())
        if checkpoint.size >= cp_statement.seq:
            log_event("checkpoint.invalid", logging.WARNING, author=author, seq=cp_statement.seq)
            return  # a checkpoint covers only statements before it
        now = self.federation.clock()
        settled = ForkDecisions(self.db).resume_after(author) if self.log.forked_before(author) else None
        if settled is not None and cp_statement.seq <= settled:
            return  # a checkpoint at a position the admin settled (docs/protocol.md 13.4.2): not evidence again
        ours = self.log.id_at(author, cp_statement.seq)
        conflict: bytes | None = None
        if ours is not None and ours != cp_statement.id:
            conflict = ours
        elif settled is None and self.log.head(author).seq >= checkpoint.size:
            # After a cleared fork every root covers the settled prefix, which we hold from the branch we
            # kept and the author from the other: roots cannot match, so only positions after it count.
            key = (author, checkpoint.size)
            if key not in self._roots:  # a log prefix never changes: hash it once
                self._roots[key] = tree_root(self.ids(author, checkpoint.size))
            root = self._roots[key]
            if root != checkpoint.root:
                conflict = root
            else:  # consistent with the log we hold: cosign it (docs/protocol.md 18.7)
                self.cosigning.cosign(cp_statement, checkpoint)
        if conflict is None:
            return
        self.store.record_split_view(cp_statement, conflict, witness, now)
        log_event("peer.split-view", logging.WARNING, author=author, witness=witness, seq=cp_statement.seq)

    # --- audit bundles -------------------------------------------------------------------------

    def _covering(self, author: bytes, max_seq: int) -> tuple[Statement, Checkpoint]:
        if self.log.head(author).seq == 0:
            raise UserError("this bundle needs statements of an organization that is not a direct partner (a referral "
                            "through the trust path): its log and checkpoints are not held here, so inclusion cannot be "
                            "proven: export it on the referring organization's node, which fetches the other side's proofs "
                            "through the trust path (the same `orgnode audit export`, run there)")
        found = self.latest_checkpoint(author)
        if found is None or found[1].size < max_seq:
            who = CardStore(self.db).name(author) or author.hex()[:16]
            raise UserError(f"{who} has not yet signed a checkpoint covering the statements this bundle needs; "
                            f"nodes sign one every minute while they have news: run `orgnode sync` and export again in a minute")
        return found

    def _bundle(self, statements: dict[bytes, tuple[Statement, bool]], subject: bytes | None, impact: bytes | None,
                own_checkpoints: list[Statement] | None = None, fetched: dict[bytes, EmployerProofs] | None = None) -> bytes:
        """Assemble cards, envelopes (plain or header-only), covering checkpoints and proofs. ``fetched``:
        an author whose log is not held here, with the checkpoint and proofs it gave (already checked)."""
        by_author: dict[bytes, list[Statement]] = {}
        for statement, _ in statements.values():
            by_author.setdefault(statement.author, []).append(statement)
        proofs: list[Proof] = []
        consistency: list[Consistency] = []
        fetched = fetched or {}
        for author, given in fetched.items():
            statements.setdefault(given.checkpoint.id, (given.checkpoint, True))
            proofs.extend(Proof(s.id, given.checkpoint.id, given.proofs[s.id]) for s in by_author.get(author, []))
        for author, items in by_author.items():
            if author in fetched:
                continue
            content = [s for s in items if s.kind != Checkpoint.KIND]
            found = {s.id: s for s in items if s.kind == Checkpoint.KIND}
            if author == self.me and own_checkpoints:
                found.update({c.id: c for c in own_checkpoints})
            else:
                covering, _ = self._covering(author, max((s.seq for s in content), default=0))
                found[covering.id] = covering
            cps = sorted(((c, Checkpoint.from_value(c.body_value())) for c in found.values()), key=lambda pair: pair[0].seq)
            for cp_statement, _ in cps:
                statements.setdefault(cp_statement.id, (cp_statement, True))
            leaves = self.ids(author, cps[-1][1].size)
            for statement in content:
                cp_statement, cp = next((c for c in cps if c[1].size >= statement.seq), cps[-1])
                proofs.append(Proof(statement.id, cp_statement.id, inclusion_proof(leaves[: cp.size], statement.seq - 1)))
            for (old_s, old), (new_s, new) in itertools.pairwise(cps):
                consistency.append(Consistency(old_s.id, new_s.id, consistency_proof(leaves[: new.size], old.size)))
        cards = [self.federation.service.card_bundle() if a == self.me else fetched[a].card_bundle if a in fetched
                 else self.federation.card_bundle_of(a) for a in by_author]
        envelopes = [Envelope.of(s, with_body=plain and s.body is not None).encode() for s, plain in statements.values()]
        held = CosignatureStore(self.db)  # partners' cosignatures of the included checkpoints (protocol.md 18.7)
        cosignatures = tuple(BundleCosignature(c.checkpoint, c.cosigner, c.line.encode()) for s, _ in statements.values()
                             if s.kind == Checkpoint.KIND for c in held.of_checkpoint(s.id) if c.cosigner in by_author)
        return AuditBundle(subject, self.me, self.federation.clock(), tuple(cards), tuple(envelopes), tuple(proofs),
                           tuple(consistency), impact, cosignatures).encode()

    def _of_kind(self, kind: str) -> list[Statement]:
        """Statements of ``kind`` held: from the logs we replicate, and those that reached us re-shared
        or relayed (a trust-path employer's job, request and statuses)."""
        return [*self.log.of_kind(kind), *(s for s, _, _ in foreign_statements(self.db, kind))]

    def _statements_of(self, author: bytes, kind: str) -> list[Statement]:
        return [s for s in self._of_kind(kind) if s.author == author]

    def export_referral(self, referral_id: bytes, redact: bool, fetched: dict[bytes, EmployerProofs] | None = None) -> bytes:
        """The audit bundle of one of our referrals. An employer reached through the trust path is
        proven by ``fetched`` (node/core/path_proofs.py asks it through the path); without it, refused."""
        picked, referral = self.referral_statements(referral_id, redact)
        if referral.job_author not in (fetched or {}) and self.log.head(referral.job_author).seq == 0:
            raise UserError("this referral went to an organization that is not a direct partner (through the trust path) "
                            "and its proofs could not be fetched through the path: retry when the partners on the path "
                            "are reachable")
        checkpoint = self.checkpoint(force=True)
        assert checkpoint is not None
        return self._bundle(picked, referral_id, None, own_checkpoints=[checkpoint], fetched=fetched)

    def referral_statements(self, referral_id: bytes, redact: bool) -> tuple[dict[bytes, tuple[Statement, bool]], Referral]:
        """What a referral's audit bundle shows (each statement: plain or header only), and the referral."""
        row = TalentStore(self.db).referral(referral_id)
        if row is None:
            raise UserError("no such referral here (see `orgnode referral list`)")
        if row.referrer != self.me:
            raise UserError("export the audit bundle from the referring organization's node: it holds the consent records "
                            "and its own log that prove the release was consented")
        assert row.statement_id is not None  # we referred: our referral statement is recorded with it
        referral_statement = self.log.get(row.statement_id)
        referral = Referral.from_value(referral_statement.body_value())
        picked: dict[bytes, tuple[Statement, bool]] = {}

        def add(statement: Statement | None, plain: bool = True) -> None:
            if statement is not None and statement.id not in picked:
                picked[statement.id] = (statement, plain)

        consent_statement = Envelope.decode(referral.consent_envelope).open_plain()
        consent = Consent.from_value(consent_statement.body_value())
        disclose_profile = "audit" in consent.purposes and not redact
        own = self.log.statements(self.me)
        for statement in own:
            if statement.seq <= referral_statement.seq:
                add(statement, plain=not statement.header.private
                    or statement.kind in (ConsentWithdrawal.KIND, Consent.KIND, Referral.KIND, Job.KIND))
        add(self.log.get(referral.profile_statement), plain=disclose_profile)
        picked[referral.profile_statement] = (picked[referral.profile_statement][0], disclose_profile)
        add(referral_statement)
        add(consent_statement)
        for job in self._statements_of(referral.job_author, Job.KIND):
            if job.body is not None and Job.from_value(job.body_value()).job_id == referral.job_id:
                add(job)
        job_ids = {s.id for s, _ in picked.values() if s.kind == Job.KIND}
        for reshare in self.log.of_kind("reshare"):
            if reshare.body is not None and verify_reshare(reshare).root.id in job_ids:
                add(reshare)
        for request in self._statements_of(referral.job_author, ReferralRequest.KIND):
            if request.body is not None and ReferralRequest.from_value(request.body_value()).request_id == referral.request_id:
                add(request)
        for status in self._of_kind(ReferralStatus.KIND):
            if status.body is not None and ReferralStatus.from_value(status.body_value()).referral_id == referral_id:
                add(status)
        for fix in self._of_kind(ReferralCorrection.KIND):  # a correction and the outcome it corrects: both shown
            if fix.body is not None and ReferralCorrection.from_value(fix.body_value()).referral_id == referral_id:
                add(fix)
        for statement in self.log.statements(self.me, after_seq=referral_statement.seq):
            if statement.kind == ConsentWithdrawal.KIND and referral_id in ConsentWithdrawal.from_value(statement.body_value()).referral_ids:
                add(statement)
        return picked, referral

    # --- impact ----------------------------------------------------------------------------------

    def held_statements(self) -> list[Statement]:
        """Every statement held: the logs we replicate, plus what arrived re-shared or relayed
        (referrals and statuses through the trust path count too)."""
        return list(held_statements(self.db))

    def impact(self, since: int, until: int) -> Impact:
        return compute(self.me, held_statements(self.db), since, until)

    async def impact_off_loop(self, since: int, until: int) -> Impact:
        """``impact`` read and counted in a worker thread on a read-only connection, in one snapshot
        (node/core/off_loop_reads.py): at 100,000 statements it held the event loop for seconds."""
        me = self.me
        async with OffLoopReader(self.federation.service.home.db_path) as reader:
            return await reader.run(lambda db: compute(me, held_statements(db), since, until), snapshot=True)

    def export_impact(self, since: int, until: int, left_out: list[dict[str, Any]] | None = None) -> tuple[bytes, Impact]:
        """A signed impact report over what the verifier can recompute: our log and each replicated
        partner's log, complete up to its latest checkpoint. What the live ``impact`` counts beyond
        that is appended to ``left_out`` with the reason, so the export says what it left out instead
        of silently signing less (issue 13 item 2): a partner's statements after its checkpoint, and
        what reached us through the trust path (its author's log is not held here, and the verifier
        recomputes figures only from complete logs, docs/audit.md)."""
        first = self.checkpoint(force=True)
        assert first is not None
        tied = Checkpoint.from_value(first.body_value())
        counted: list[Statement] = [s for s in self.log.statements(self.me) if s.seq <= tied.size]
        notes: list[dict[str, Any]] = []
        for author in self.log.have_vector():
            if author == self.me:
                continue
            covering = self.latest_checkpoint(author)
            held = [s for s in self.log.statements(author)]
            if covering is not None:
                counted.extend(s for s in held if s.seq <= covering[1].size or s.id == covering[0].id)
            later = [s for s in held if s.kind not in INFRASTRUCTURE and (covering is None or s.seq > covering[1].size)]
            if later:
                notes.append({"node_id": author.hex(), "statements": len(later), "reason": "signed after this partner's latest "
                              "checkpoint held here: counted once its next checkpoint arrives (run `orgnode sync`)"})
        notes.extend(self._trust_path_left_out())
        if left_out is not None:
            left_out.extend(notes)
        impact = compute(self.me, counted, since, until)
        report = ImpactReport(since, until, first.id, impact.figures, impact.partners)
        report_statement = self.federation.append(ImpactReport.KIND, report.to_value(), private=True, audience=Audience.only())
        second = self.checkpoint(force=True)
        assert second is not None
        picked: dict[bytes, tuple[Statement, bool]] = {}
        for statement in [*counted, first, report_statement, second]:
            picked.setdefault(statement.id, (statement, statement.kind not in PII_KINDS))
        return self._bundle(picked, None, report_statement.id, own_checkpoints=[first, second]), impact

    def _trust_path_left_out(self) -> list[dict[str, Any]]:
        """Statements the live figures count that reached us re-shared or relayed, per author."""
        counts: dict[bytes, int] = {}
        for statement, _, _ in foreign_statements(self.db):
            counts[statement.author] = counts.get(statement.author, 0) + 1
        return [{"node_id": author.hex(), "statements": n,
                 "reason": "reached us through the trust path: its author's log is not held here, and the report counts "
                           "only logs the verifier can check complete up to a checkpoint; "
                           "`orgnode audit export` proves each such referral on its own"} for author, n in counts.items()]
