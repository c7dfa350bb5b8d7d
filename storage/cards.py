"""Organizations' org cards as this node last recorded them (``org_cards``): what each one declares
about itself (name, sector, URL). For display and addressing only: consent is never judged against a
declared card (``PeerStore.consent_identity`` holds the confirmed or first-sight vouched identity).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from protocol.bodies import OrgCard
from protocol.identity import EncryptionPublicKeys
from protocol.statement import Statement


@dataclass(frozen=True, slots=True)
class DeclaredCard:
    node_id: bytes
    name: str
    sector: str
    url: str


def record_org_card(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    """Record the card an org-card statement declares, unless a later one (higher seq) is recorded:
    the projection of ``org-card`` statements, and of the cards that come with re-shares and relays."""
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


class CardStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    def declared(self, node_id: bytes) -> DeclaredCard | None:
        rows = list(self.db.query("SELECT node_id, name, sector, url FROM org_cards WHERE node_id = ?", [node_id]))
        if not rows:
            return None
        r = rows[0]
        return DeclaredCard(bytes(r["node_id"]), str(r["name"]), str(r["sector"]), str(r["url"] or ""))

    def name(self, node_id: bytes) -> str | None:
        card = self.declared(node_id)
        return card.name if card is not None else None

    def names(self) -> dict[bytes, str]:
        return {bytes(r["node_id"]): str(r["name"]) for r in self.db.query("SELECT node_id, name FROM org_cards")}

    def encryption_keys(self, node_id: bytes) -> EncryptionPublicKeys | None:
        """The keys a private body for ``node_id`` is sealed to, from its last recorded card (None: no card)."""
        rows = list(self.db.query("SELECT x25519, mlkem768 FROM org_cards WHERE node_id = ?", [node_id]))
        if not rows:
            return None
        return EncryptionPublicKeys(bytes(rows[0]["x25519"]), bytes(rows[0]["mlkem768"]))
