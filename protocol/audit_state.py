"""What the audit checks share: the state they build up, the failure they raise, and small readers.

Why its own module: the checks (protocol/audit_checks.py) and the verifier's entry point
(protocol/audit.py) both use these, and keeping them apart keeps each module one role and a readable size.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.audit_bundle import AuditBundle
from protocol.card_bundle import VerifiedCard
from protocol.identity import fingerprint_for
from protocol.provenance import Checkpoint
from protocol.statement import Statement


class AuditFailure(Exception):
    """One check failed: which (a name in ``STEPS``), why, and the statement to blame if any."""

    def __init__(self, check: str, detail: str, statement: bytes | None = None) -> None:
        super().__init__(f"{check}: {detail}")
        self.check = check
        self.detail = detail
        self.statement = statement


def utc_day(ms: int) -> str:
    """``YYYY-MM-DD`` (UTC) of a statement time in milliseconds, for the report's words: an auditor reads
    *when* each step happened. Pure arithmetic (days to civil date, H. Hinnant), no clock or datetime."""
    z = ms // 86_400_000 + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day, month = doy - (153 * mp + 2) // 5 + 1, mp + 3 if mp < 10 else mp - 9
    return f"{yoe + era * 400 + (month <= 2):04d}-{month:02d}-{day:02d}"


@dataclass
class CheckState:
    """What the checks share: the bundle, what earlier checks established, and the facts and
    figures found so far (the verifier's report shares them, so a failure keeps what passed)."""

    bundle: AuditBundle
    cards: dict[bytes, VerifiedCard] = field(default_factory=dict)
    statements: dict[bytes, Statement] = field(default_factory=dict)
    by_author: dict[bytes, dict[int, Statement]] = field(default_factory=dict)
    twins: list[tuple[Statement, Statement]] = field(default_factory=list)  # two statements for one (author, seq)
    facts: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # reported, neither proven nor failed (e.g. optional evidence absent)
    figures: dict[str, int] = field(default_factory=dict)

    def name(self, node: bytes) -> str:
        """An organization as a report names it: the name on its verified card. Only when two cards in
        the bundle carry the same name (names are self-chosen) does its fingerprint follow, to tell them
        apart; a node without a card is named by its fingerprint (the report lists every card's)."""
        card = self.cards.get(node)
        if card is None:
            return f"an organization not known by name (fingerprint {fingerprint_for(node)})"
        if sum(1 for other in self.cards.values() if other.card.name == card.card.name) > 1:
            return f"{card.card.name} (fingerprint {fingerprint_for(node)})"
        return card.card.name

    def need(self, statement_id: bytes, check: str, what: str) -> Statement:
        """A statement a check relies on; its absence fails that check, naming what is missing."""
        found = self.statements.get(statement_id)
        if found is None:
            raise AuditFailure(check, f"{what} is missing from the bundle", statement_id)
        return found


def checkpoint_of(statement: Statement, check: str) -> Checkpoint:
    if statement.kind != Checkpoint.KIND or statement.body is None:
        raise AuditFailure(check, "proof refers to something that is not a checkpoint", statement.id)
    return Checkpoint.from_value(statement.body_value())
