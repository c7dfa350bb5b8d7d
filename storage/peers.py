"""The trust list, invites, the durable per-peer outbox and peer scores.

States: ``trusted`` (we exchange), ``pending_in`` (a LAN node asked to pair; an admin decides),
``pending_out`` (we asked a LAN node), ``removed`` and ``blocked`` (refused at once). Only
``trusted`` peers are ever sent anything or served. The outbox holds (peer, statement) pairs until
the peer acknowledges them; it is written in the same transaction as the statement it points to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlite_utils

from protocol.errors import UNTRUSTED_SENDER, RemoteProtocolError
from storage.db import without_fsync

TRUSTED = "trusted"
PENDING_IN = "pending_in"
PENDING_OUT = "pending_out"
REMOVED = "removed"
BLOCKED = "blocked"

SCORE_INVALID = -2.0
SCORE_VALID = 0.1
SCORE_MIN = -100.0
SCORE_MAX = 10.0
GRAYLIST_BELOW = -10.0


@dataclass(frozen=True, slots=True)
class Peer:
    node_id: bytes
    url: str
    state: str
    via: str
    added_at: int
    updated_at: int
    score: float
    invalid_count: int
    throttled_until: int
    last_contact: int | None
    sector: str | None = None  # pinned when the peer was trusted
    name: str | None = None  # pinned with the sector

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Peer:
        return cls(
            node_id=bytes(row["node_id"]),
            url=str(row["url"]),
            state=str(row["state"]),
            via=str(row["via"]),
            added_at=int(row["added_at"]),
            updated_at=int(row["updated_at"]),
            score=float(row["score"]),
            invalid_count=int(row["invalid_count"]),
            throttled_until=int(row["throttled_until"]),
            last_contact=int(row["last_contact"]) if row["last_contact"] is not None else None,
            sector=row.get("sector"),
            name=row.get("name"),
        )


@dataclass(frozen=True, slots=True)
class OrgIdentity:
    """The name and sector consent scopes are judged against, and where they come from: ``confirmed``
    (an admin of this node trusted the organization with this card) or ``vouched`` (a trusted
    partner's re-share introduced it with this card, at first sight)."""

    name: str
    sector: str
    source: str


@dataclass(frozen=True, slots=True)
class ChangedCard:
    """An organization whose own card now differs from the identity consent is judged against."""

    node_id: bytes
    identity: OrgIdentity
    vouched_by: bytes
    declared_name: str
    declared_sector: str


@dataclass(frozen=True, slots=True)
class InviteRow:
    """An invite this node issued (``invites``); ``used_at``/``used_by`` once a node paired with it."""

    invite_id: bytes
    secret: bytes
    created_at: int
    expires_at: int
    used_at: int | None
    used_by: bytes | None
    expected_name: str | None = None
    expected_sector: str | None = None
    revoked_at: int | None = None
    refused: str | None = None  # why the last node that tried it was refused (no personal data)

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> InviteRow:
        return cls(
            invite_id=bytes(row["invite_id"]),
            secret=bytes(row["secret"]),
            created_at=int(row["created_at"]),
            expires_at=int(row["expires_at"]),
            used_at=int(row["used_at"]) if row["used_at"] is not None else None,
            used_by=bytes(row["used_by"]) if row["used_by"] is not None else None,
            expected_name=row.get("expected_name"),
            expected_sector=row.get("expected_sector"),
            revoked_at=row.get("revoked_at"),
            refused=row.get("refused"),
        )


class PeerStore:
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # --- trust list ------------------------------------------------------------------------------

    def get(self, node_id: bytes) -> Peer | None:
        rows = list(self.db.query("SELECT * FROM peers WHERE node_id = ?", [node_id]))
        return Peer.from_row(rows[0]) if rows else None

    def all(self) -> list[Peer]:
        return [Peer.from_row(r) for r in self.db.query("SELECT * FROM peers ORDER BY added_at")]

    def trusted(self) -> list[Peer]:
        return [Peer.from_row(r) for r in self.db.query("SELECT * FROM peers WHERE state = ? ORDER BY added_at", [TRUSTED])]

    def pinned_sector(self, node_id: bytes) -> str | None:
        """The sector the peer had when it was trusted (what consent scopes are judged against)."""
        identity = self.consent_identity(node_id)
        return identity.sector if identity is not None and identity.source == "confirmed" else None

    def consent_identity(self, node_id: bytes) -> OrgIdentity | None:
        """The only name and sector consent scopes are judged against: the card an admin confirmed
        when trusting the organization, else the one a trusted partner vouched for at first sight.
        Cards the organization sends itself (pairing requests, its own log) never change it."""
        rows = list(self.db.query("SELECT name, sector FROM peers WHERE node_id = ? AND sector IS NOT NULL", [node_id]))
        if rows:
            return OrgIdentity(str(rows[0]["name"] or ""), str(rows[0]["sector"]), "confirmed")
        rows = list(self.db.query("SELECT name, sector FROM vouched_orgs WHERE node_id = ?", [node_id]))
        if rows:
            return OrgIdentity(str(rows[0]["name"]), str(rows[0]["sector"]), "vouched")
        return None

    def declared_card(self, node_id: bytes) -> tuple[str, str] | None:
        """The name and sector of the organization's latest own card held here (what `trust pending`
        and a pairing request showed the admin); display only, never used for consent."""
        rows = list(self.db.query("SELECT name, sector FROM org_cards WHERE node_id = ?", [node_id]))
        return (str(rows[0]["name"]), str(rows[0]["sector"])) if rows else None

    def changed_cards(self) -> list[ChangedCard]:
        """Organizations known only through a partner's re-share (not on the trust list) whose card
        now says another name or sector than the one vouched for at first sight: shown to the admin,
        never used for consent."""
        rows = self.db.query(
            """SELECT v.node_id, v.name, v.sector, v.vouched_by, c.name AS declared_name, c.sector AS declared_sector
               FROM vouched_orgs v JOIN org_cards c ON c.node_id = v.node_id
               WHERE (c.name != v.name OR c.sector != v.sector) AND v.node_id NOT IN (SELECT node_id FROM peers)
               ORDER BY v.at""")
        return [ChangedCard(bytes(r["node_id"]), OrgIdentity(str(r["name"]), str(r["sector"]), "vouched"), bytes(r["vouched_by"]),
                            str(r["declared_name"]), str(r["declared_sector"])) for r in rows]

    def follow_card_url(self, node_id: bytes, url: str) -> bool:
        """Contact a trusted partner at the URL its own latest card names (it moved: `orgnode set-url`).
        Only the URL changes: the name and sector consent is judged against stay pinned. The caller
        makes sure the card came from the author's own log; a re-shared card never gets here.
        Returns whether the URL changed."""
        return follow_card_url(self.db, node_id, url)

    def is_blocked(self, node_id: bytes) -> bool:
        peer = self.get(node_id)
        return peer is not None and peer.state == BLOCKED

    def is_trusted(self, node_id: bytes) -> bool:
        peer = self.get(node_id)
        return peer is not None and peer.state == TRUSTED

    def upsert(self, node_id: bytes, url: str, state: str, via: str, now: int, sector: str | None = None,
               name: str | None = None) -> Peer:
        """Set a peer's state (and url). A blocked peer stays blocked: only ``set_state`` (an admin's
        remove or block) changes it, so no pairing path can revive it, however it races."""
        existing = self.get(node_id)
        if existing is not None and existing.state == BLOCKED:
            raise RemoteProtocolError(UNTRUSTED_SENDER, "this node is blocked here")
        with self.db.atomic():
            if existing is None:
                self.db.execute(
                    "INSERT INTO peers (node_id, url, state, via, added_at, updated_at, sector, name) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [node_id, url, state, via, now, now, sector if state == TRUSTED else None, name if state == TRUSTED else None],
                )
            else:
                added_at = now if existing.state != TRUSTED and state == TRUSTED else existing.added_at
                self.db.execute(
                    "UPDATE peers SET url = ?, state = ?, via = ?, added_at = ?, updated_at = ?, sector = COALESCE(?, sector), "
                    "name = COALESCE(?, name) WHERE node_id = ?",
                    [url, state, via, added_at, now, sector if state == TRUSTED else None, name if state == TRUSTED else None,
                     node_id],
                )
        peer = self.get(node_id)
        assert peer is not None
        return peer

    def set_state(self, node_id: bytes, state: str, now: int) -> None:
        with self.db.atomic():
            self.db.execute("UPDATE peers SET state = ?, updated_at = ? WHERE node_id = ?", [state, now, node_id])
            if state != TRUSTED:
                self.db.execute("DELETE FROM outbox WHERE peer = ?", [node_id])

    def touch(self, node_id: bytes, now: int) -> None:
        """Note the peer's last contact (at every authenticated request): no fsync of its own."""
        with without_fsync(self.db):
            self.db.execute("UPDATE peers SET last_contact = ? WHERE node_id = ?", [now, node_id])

    # --- scores ----------------------------------------------------------------------------------

    def record(self, node_id: bytes, *, valid: int, invalid: int, now: int, graylist_ms: int) -> Peer | None:
        """Adjust the peer's score; below ``GRAYLIST_BELOW`` it is throttled for ``graylist_ms``."""
        peer = self.get(node_id)
        if peer is None:
            return None
        score = max(SCORE_MIN, min(SCORE_MAX, peer.score + valid * SCORE_VALID + invalid * SCORE_INVALID))
        throttled_until = peer.throttled_until
        if invalid and score < GRAYLIST_BELOW:
            throttled_until = now + graylist_ms
        self.db.execute(
            "UPDATE peers SET score = ?, invalid_count = invalid_count + ?, throttled_until = ? WHERE node_id = ?",
            [score, invalid, throttled_until, node_id],
        )
        return self.get(node_id)

    def forgive(self, node_id: bytes) -> None:
        """An admin cleared the peer's fork evidence: the penalty its forked statements earned goes with it
        (a negative score back to neutral, the throttle lifted); a positive score is kept."""
        self.db.execute("UPDATE peers SET score = MAX(score, 0.0), throttled_until = 0 WHERE node_id = ?", [node_id])

    def partner_forks(self) -> dict[bytes, int]:
        """Partners that answered our own statements with ``fork``: since when (ms)."""
        return {bytes(r["peer"]): int(r["since"]) for r in self.db.query("SELECT peer, since FROM partner_forks")}

    def set_partner_fork(self, node_id: bytes, since: int | None) -> None:
        """Record (``since``) or end (None) a partner holding another version of our log."""
        if since is None:
            self.db.execute("DELETE FROM partner_forks WHERE peer = ?", [node_id])
        else:
            self.db.execute("INSERT OR IGNORE INTO partner_forks (peer, since) VALUES (?, ?)", [node_id, since])

    # --- invites ---------------------------------------------------------------------------------

    def add_invite(self, invite_id: bytes, secret: bytes, now: int, expires_at: int, *,
                   expected_name: str | None = None, expected_sector: str | None = None) -> None:
        self.db.execute(
            "INSERT INTO invites (invite_id, secret, created_at, expires_at, expected_name, expected_sector) VALUES (?, ?, ?, ?, ?, ?)",
            [invite_id, secret, now, expires_at, expected_name, expected_sector],
        )

    def invites(self) -> list[InviteRow]:
        return [InviteRow.from_row(r) for r in self.db.query("SELECT * FROM invites ORDER BY created_at")]

    def revoke_invite(self, invite_id: bytes, now: int) -> bool:
        """Revoke an unused invite; False if it was already used or revoked."""
        cursor = self.db.execute("UPDATE invites SET revoked_at = ? WHERE invite_id = ? AND used_at IS NULL AND revoked_at IS NULL",
                                 [now, invite_id])
        return cursor.rowcount == 1

    def refuse_invite(self, invite_id: bytes, reason: str) -> None:
        """Remember why the last node that tried this invite was refused (shown by `invite list`)."""
        self.db.execute("UPDATE invites SET refused = ? WHERE invite_id = ?", [reason, invite_id])

    def invite(self, invite_id: bytes) -> InviteRow | None:
        rows = list(self.db.query("SELECT * FROM invites WHERE invite_id = ?", [invite_id]))
        return InviteRow.from_row(rows[0]) if rows else None

    def use_invite(self, invite_id: bytes, used_by: bytes, now: int) -> bool:
        """Mark the invite used; False if it was already used (the check and the mark are one statement)."""
        cursor = self.db.execute(
            "UPDATE invites SET used_at = ?, used_by = ? WHERE invite_id = ? AND used_at IS NULL AND revoked_at IS NULL",
            [now, used_by, invite_id]
        )
        return cursor.rowcount == 1

    # --- outbox ----------------------------------------------------------------------------------

    def enqueue(self, statement_id: bytes, seq: int, peers: list[bytes], now: int) -> None:
        for peer in peers:
            self.db.execute(
                "INSERT OR IGNORE INTO outbox (peer, statement_id, seq, enqueued_at) VALUES (?, ?, ?, ?)",
                [peer, statement_id, seq, now],
            )

    def enqueue_many(self, statements: list[tuple[bytes, int]], peers: list[bytes], now: int) -> None:
        """``enqueue`` for a batch of own statements ((id, seq) each): one ``executemany``."""
        self.db.conn.executemany(
            "INSERT OR IGNORE INTO outbox (peer, statement_id, seq, enqueued_at) VALUES (?, ?, ?, ?)",
            [(peer, sid, seq, now) for sid, seq in statements for peer in peers])

    def outbox_batch(self, peer: bytes, limit: int) -> list[bytes]:
        return [bytes(r["statement_id"]) for r in self.db.query("SELECT statement_id FROM outbox WHERE peer = ? ORDER BY seq LIMIT ?", [peer, limit])]

    def acknowledge(self, peer: bytes, statement_ids: list[bytes]) -> None:
        with self.db.atomic():
            for sid in statement_ids:
                self.db.execute("DELETE FROM outbox WHERE peer = ? AND statement_id = ?", [peer, sid])

    def acknowledge_through(self, peer: bytes, seq: int) -> None:
        """The peer said (in a pull's have vector) it holds our log through ``seq``: nothing up to it
        needs pushing to it any more."""
        self.db.execute("DELETE FROM outbox WHERE peer = ? AND seq <= ?", [peer, seq])

    def state_counts(self) -> dict[str, int]:
        """How many peers are in each state (the trust list is small: one row per organization)."""
        return {str(r["state"]): int(r["n"]) for r in self.db.query("SELECT state, COUNT(*) AS n FROM peers GROUP BY state")}

    def outbox_by_peer(self) -> dict[bytes, tuple[int, int]]:
        """Per peer: statements waiting in the outbox and when the oldest was enqueued (ms). The outbox
        holds only what peers have not acknowledged yet, and is grouped along its (peer, seq) index."""
        rows = self.db.query("SELECT peer, COUNT(*) AS n, MIN(enqueued_at) AS oldest FROM outbox GROUP BY peer")
        return {bytes(r["peer"]): (int(r["n"]), int(r["oldest"])) for r in rows}

    def waiting_for(self, statement_id: bytes) -> dict[bytes, int]:
        """The peers that have not acknowledged ``statement_id`` yet, each with when it was queued (ms)."""
        rows = self.db.query("SELECT peer, enqueued_at FROM outbox WHERE statement_id = ?", [statement_id])
        return {bytes(r["peer"]): int(r["enqueued_at"]) for r in rows}

    def outbox_size(self, peer: bytes | None = None) -> int:
        if peer is None:
            return int(next(self.db.query("SELECT COUNT(*) AS n FROM outbox"))["n"])
        return int(next(self.db.query("SELECT COUNT(*) AS n FROM outbox WHERE peer = ?", [peer]))["n"])


def follow_card_url(db: sqlite_utils.Database, node_id: bytes, url: str) -> bool:
    """Set a trusted peer's ``url`` to ``url`` (see ``PeerStore.follow_card_url``)."""
    cursor = db.execute("UPDATE peers SET url = ? WHERE node_id = ? AND state = ? AND url != ?", [url, node_id, TRUSTED, url])
    return bool(cursor.rowcount)
