"""The offline audit verifier: ``verify`` takes a bundle's bytes and returns an ``AuditReport``.

It decodes the bundle (``protocol.audit_bundle``), then runs the auditor's checklist
(``protocol.audit_checks``, DOMAIN.md "What an auditor checks") in a fixed order and stops at the
first failure, naming the check and the statement; it needs nothing but the bundle bytes.
Format and checks: docs/audit.md and docs/protocol.md "Audit bundles".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from protocol.audit_bundle import AuditBundle
from protocol.audit_checks import STEPS
from protocol.audit_state import AuditFailure, CheckState
from protocol.errors import ProtocolError
from protocol.identity import fingerprint_for

# The checks, in the order they run. Each failure names one of these.
CHECKS = tuple(name for name, _ in STEPS)


@dataclass
class AuditReport:
    """What ``verify`` found: the checks passed in order, the first failure if any, and the facts and
    figures an auditor reads (``to_json`` is the ``orgnode audit verify --json`` output)."""

    valid: bool
    subject: bytes | None
    exported_by: bytes
    exported_at: int
    passed: list[str] = field(default_factory=list)
    failed: AuditFailure | None = None
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, neither proven nor failed (an optional cosignature absent)
    figures: dict[str, int] = field(default_factory=dict)
    organizations: dict[bytes, str] = field(default_factory=dict)  # node id -> name, from the cards that verified
    period: tuple[int, int] | None = None  # the earliest and latest signing time (ms) of the records checked

    def to_json(self) -> dict[str, Any]:
        return {
            "valid": self.valid,
            "subject": self.subject.hex() if self.subject else None,
            "exported_by": self.exported_by.hex(),
            "exported_at": self.exported_at,
            "checks_passed": self.passed,
            "failed_check": self.failed.check if self.failed else None,
            "failure": self.failed.detail if self.failed else None,
            "failed_statement": self.failed.statement.hex() if self.failed and self.failed.statement else None,
            "facts": self.facts,
            "notes": self.notes,
            "figures": self.figures,
            "organizations": [{"node_id": node.hex(), "name": name, "fingerprint": fingerprint_for(node)}
                              for node, name in self.organizations.items()],
            "period": None if self.period is None else {"since": self.period[0], "until": self.period[1]},
        }


def verify(data: bytes) -> AuditReport:
    """Verify a bundle. Raises ``AuditInputError`` for unusable input; otherwise returns a report."""
    bundle = AuditBundle.decode(data)
    report = AuditReport(False, bundle.subject, bundle.exported_by, bundle.exported_at)
    state = CheckState(bundle)
    report.facts, report.notes, report.figures = state.facts, state.notes, state.figures
    try:
        for name, step in STEPS:
            try:
                step(state)
            except AuditFailure as failure:
                report.failed = failure
                return report
            except ProtocolError as exc:  # a malformed body inside a signed statement
                report.failed = AuditFailure(name, f"{exc.code}: {exc.detail}")
                return report
            report.passed.append(name)
        report.valid = True
        return report
    finally:
        report.organizations = {node: card.card.name for node, card in state.cards.items()}
        times = [s.header.ts for s in state.statements.values()]
        report.period = (min(times), max(times)) if times else None

