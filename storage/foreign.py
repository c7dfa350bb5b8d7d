"""Statements of authors this node does not replicate (``foreign_statements``): roots that arrived
re-shared, and statements a relayed box carried, each with the card of its author and the peer it
came through. Nothing of an author blocked here is kept, whichever way it arrives."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from protocol.card_bundle import VerifiedCard
from protocol.statement import Statement
from storage.cards import record_org_card
from storage.key_histories import save_vouched_history
from storage.statement_rows import row_to_statement

# Charges one newly kept statement to the peer it came through (raises ``over-quota`` to refuse it).
Charge = Callable[[Statement], None]


def author_blocked(db: sqlite_utils.Database, author: bytes) -> bool:
    return bool(list(db.query("SELECT 1 FROM peers WHERE node_id = ? AND state = 'blocked'", [author])))


def keep_foreign(db: sqlite_utils.Database, statements: list[Statement], *, via: bytes, via_statement: bytes, distance: int,
                 card: VerifiedCard, now: int, vouched: bool = True, charge: Charge | None = None) -> None:
    """Keep statements of an author we do not replicate, with its card (``LogStore.keep_foreign``
    says what ``vouched`` and charging mean). ``charge`` is called for each statement not kept yet,
    before it is written; those are recorded as charged to ``via``."""
    statements = [s for s in statements if not author_blocked(db, s.author)]
    if not statements:
        return
    for s in statements:
        new = not list(db.query("SELECT 1 FROM foreign_statements WHERE id = ?", [s.id]))
        if charge is not None and new:
            charge(s)
        db.execute(
            """INSERT OR IGNORE INTO foreign_statements
               (id, author, seq, kind, header, signature, salt, body, via, via_statement, distance, received_at, charged_to)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [s.id, s.author, s.seq, s.kind, s.header_bytes, s.signature, s.salt, s.body, via, via_statement, distance, now,
             via if charge is not None and new else None],
        )
    save_vouched_history(db, card.history, via)
    if vouched:
        # First sight only: the name and sector a partner vouched for are what consent is judged
        # against for this organization until an admin here trusts it; nothing later changes them.
        db.execute("INSERT OR IGNORE INTO vouched_orgs (node_id, name, sector, vouched_by, at) VALUES (?, ?, ?, ?, ?)",
                   [card.node_id, card.card.name, card.card.sector, via, now])
        # A newer card is still recorded as the one it declares (``org_cards``, seq-guarded): shown
        # to the admin (`orgnode trust list`) as a changed card, never used for consent.
        record_org_card(db, card.statement, now)
    elif not list(db.query("SELECT 1 FROM org_cards WHERE node_id = ?", [card.node_id])):
        record_org_card(db, card.statement, now)


def foreign_statement(db: sqlite_utils.Database, statement_id: bytes) -> Statement | None:
    """A statement that arrived re-shared or relayed, by id."""
    rows = list(db.query("SELECT * FROM foreign_statements WHERE id = ?", [statement_id]))
    return row_to_statement(rows[0]) if rows else None


def foreign_route(db: sqlite_utils.Database, statement_id: bytes) -> tuple[bytes, int] | None:
    """The partner a re-shared or relayed statement came through and its distance from its author."""
    rows = list(db.query("SELECT via, distance FROM foreign_statements WHERE id = ?", [statement_id]))
    return (bytes(rows[0]["via"]), int(rows[0]["distance"])) if rows else None


def foreign_statements(db: sqlite_utils.Database, kind: str | None = None) -> list[tuple[Statement, bytes, int]]:
    """Re-shared statements held (not also held directly), with the peer they came through and their distance."""
    rows = db.query(
        "SELECT * FROM foreign_statements WHERE id NOT IN (SELECT id FROM entries) AND (? IS NULL OR kind = ?) ORDER BY received_at",
        [kind, kind],
    )
    return [(row_to_statement(r), bytes(r["via"]), int(r["distance"])) for r in rows]
