"""Recorded schema migrations after the first schema (storage/schema.py), in the order they apply.
Each runs once, inside one transaction with its row in ``migrations`` (storage/db.py). A released
migration never changes; a new one gets the next free number (011 was never used)."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from storage.schema import m001_log, m002_federation, m003_talent

Migration = tuple[str, Callable[[sqlite_utils.Database], None]]


def _m004_relay(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE relay_routes (
            node_id BLOB PRIMARY KEY,
            next_hop BLOB NOT NULL,
            updated_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE TABLE relay_seen (box BLOB PRIMARY KEY, at INTEGER NOT NULL)")


def _m005_reactions(db: sqlite_utils.Database) -> None:
    # Peers' statements whose reactions (reply, erase, re-share, ...) have not run to completion yet:
    # written in the same transaction as the statements, deleted when their reactions succeed.
    db.execute(
        """CREATE TABLE pending_reactions (
            statement_id BLOB PRIMARY KEY,
            attempts INTEGER NOT NULL DEFAULT 0,
            at INTEGER NOT NULL
        )"""
    )


def _m006_pinned_sector(db: sqlite_utils.Database) -> None:
    # The sector a peer had when an admin chose to trust it. Consent scopes ("sector:nonprofit") are
    # judged against this, never against a sector the peer later declares about itself.
    db.execute("ALTER TABLE peers ADD COLUMN sector TEXT")
    db.execute("UPDATE peers SET sector = (SELECT sector FROM org_cards WHERE org_cards.node_id = peers.node_id)")


def _m007_jobs_by_author(db: sqlite_utils.Database) -> None:
    # A job is identified by (author, job_id): another organization reusing a job id it saw can no
    # longer squat or hide the real job at third nodes.
    db.execute(
        """CREATE TABLE jobs_new (
            job_id BLOB NOT NULL,
            author BLOB NOT NULL,
            version INTEGER NOT NULL,
            statement_id BLOB NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL,
            hops INTEGER NOT NULL,
            skills TEXT NOT NULL,
            valid_through INTEGER,
            filled_by BLOB,
            via BLOB,
            body BLOB NOT NULL,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (author, job_id)
        )"""
    )
    db.execute("INSERT INTO jobs_new SELECT job_id, author, version, statement_id, title, status, hops, skills, valid_through, "
               "filled_by, via, body, updated_at FROM jobs")
    db.execute("DROP TABLE jobs")
    db.execute("ALTER TABLE jobs_new RENAME TO jobs")
    db.execute("CREATE INDEX jobs_job_id ON jobs (job_id)")


def _m008_confirmed_orgs(db: sqlite_utils.Database) -> None:
    # Consent scopes are judged only against an organization's confirmed identity: the name and
    # sector an admin of this node confirmed when trusting it (peers.name/sector), or, for an
    # organization known only through a partner's re-share, the card that partner vouched for at
    # first sight (vouched_orgs). Neither ever follows a card the organization sends later.
    db.execute("ALTER TABLE peers ADD COLUMN name TEXT")
    db.execute("UPDATE peers SET name = (SELECT name FROM org_cards WHERE org_cards.node_id = peers.node_id) "
               "WHERE sector IS NOT NULL")
    db.execute(
        """CREATE TABLE vouched_orgs (
            node_id BLOB PRIMARY KEY,
            name TEXT NOT NULL,
            sector TEXT NOT NULL,
            vouched_by BLOB NOT NULL,
            at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """INSERT OR IGNORE INTO vouched_orgs (node_id, name, sector, vouched_by, at)
           SELECT c.node_id, c.name, c.sector, f.via, c.updated_at FROM org_cards c
           JOIN (SELECT author, MIN(via) AS via FROM foreign_statements GROUP BY author) f ON f.author = c.node_id
           WHERE c.node_id NOT IN (SELECT node_id FROM peers WHERE sector IS NOT NULL)"""
    )
    # 006 pinned a sector for every peer, LAN requests included (pending, or lapsed to removed): a
    # stranger's own card no admin confirmed. They are unpinned; a removed LAN peer that once was
    # trusted loses its pin too until it pairs again (consent then falls back to what a partner
    # vouched for, or to no sector at all: the safe side).
    db.execute("UPDATE peers SET sector = NULL, name = NULL WHERE state IN ('pending_in', 'pending_out', 'removed') "
               "AND via = 'lan'")
    # What an admin expects of the partner an invite is for, and the invite's revocation.
    db.execute("ALTER TABLE invites ADD COLUMN expected_name TEXT")
    db.execute("ALTER TABLE invites ADD COLUMN expected_sector TEXT")
    db.execute("ALTER TABLE invites ADD COLUMN revoked_at INTEGER")
    db.execute("ALTER TABLE invites ADD COLUMN refused TEXT")


def _m012_quotas(db: sqlite_utils.Database) -> None:
    """Issue 8 items 9 and 12. ``match_quota``: which query ids and requirement labels an asker had
    answered on a UTC day, so distinct queries and labels can be capped. ``peer_usage``: what each
    peer made this node store (bytes in total, re-share bytes on the current day) and when data from
    it was last refused as over quota, so a trusted peer cannot exhaust the disk. ``relay_routes``
    gains ``verified`` (issue 8 item 8)."""
    db.execute(
        """CREATE TABLE match_quota (
            asker BLOB NOT NULL,
            day INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('query', 'label')),
            value BLOB NOT NULL,
            PRIMARY KEY (asker, day, kind, value)
        )"""
    )
    db.execute(
        """CREATE TABLE peer_usage (
            peer BLOB PRIMARY KEY,
            stored_bytes INTEGER NOT NULL DEFAULT 0,
            reshare_day INTEGER NOT NULL DEFAULT 0,
            reshare_bytes INTEGER NOT NULL DEFAULT 0,
            refused INTEGER NOT NULL DEFAULT 0,
            refused_at INTEGER
        )"""
    )
    db.execute("CREATE INDEX held_received ON held (received_from, received_at)")
    # Issue 8 item 8: a route back to a non-partner is "verified" when learnt from a box that opened
    # and verified against the origin's card (it really came from there through that hop).
    db.execute("ALTER TABLE relay_routes ADD COLUMN verified INTEGER NOT NULL DEFAULT 0")


def _m009_erasure_receipts(db: sqlite_utils.Database) -> None:
    """Issue 8 item 4. An erasure commits on its own; the ``erasure_receipt`` answering it is owed
    until it is appended, and retried with back-off while it cannot be sent (no path back, an
    unusable key in the withdrawer's card). One row per withdrawal answered; no personal data."""
    db.execute(
        """CREATE TABLE erasure_receipts_due (
            withdrawal BLOB PRIMARY KEY,
            recipient BLOB NOT NULL,
            route BLOB NOT NULL,
            referral_ids BLOB NOT NULL,
            erased_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at INTEGER NOT NULL,
            last_error TEXT NOT NULL DEFAULT ''
        )"""
    )


def _m010_candidate_erasure(db: sqlite_utils.Database) -> None:
    """Issue 8 items 6 and 7. ``candidates.notes``: staff notes about a candidate (local only, never
    sent). ``candidates.erased_at``: when an admin erased the candidate (`orgnode candidate erase`);
    the row stays as a data-free tombstone (ids only) so the consent history, the disclosure ledger
    and the recipients' erasure receipts can still be reported and audited."""
    db.execute("ALTER TABLE candidates ADD COLUMN notes TEXT")
    db.execute("ALTER TABLE candidates ADD COLUMN erased_at INTEGER")


def _m013_withdrawal_deliveries(db: sqlite_utils.Database) -> None:
    """Issue 8 item 8. ``withdrawal_deliveries``: every consent withdrawal relayed to a
    non-partner until its erasure receipt comes (``acked_at``): how often and through which hops
    (``vias``, a JSON list of hex ids in the order used) it was sent, and when it is due again
    (``next_at``), so a path that swallows it is routed around. Item 12: ``foreign_statements``
    gains ``charged_to``, the peer whose quota a relayed statement kept here was charged to, so
    erasing its body gives the bytes back."""
    db.execute(
        """CREATE TABLE withdrawal_deliveries (
            withdrawal BLOB NOT NULL,
            recipient BLOB NOT NULL,
            route BLOB NOT NULL,
            first_sent_at INTEGER NOT NULL,
            last_sent_at INTEGER NOT NULL,
            attempts INTEGER NOT NULL DEFAULT 1,
            vias TEXT NOT NULL DEFAULT '[]',
            next_at INTEGER NOT NULL,
            acked_at INTEGER,
            PRIMARY KEY (withdrawal, recipient)
        )"""
    )
    db.execute("CREATE INDEX withdrawal_deliveries_due ON withdrawal_deliveries (acked_at, next_at)")
    db.execute("ALTER TABLE foreign_statements ADD COLUMN charged_to BLOB")


def _m017_fork_decisions(db: sqlite_utils.Database) -> None:
    """Issue 10 item 2. ``fork_decisions``: every admin decision to clear a peer's fork evidence
    (who, when, why, the evidence's seqs and ids, and ``resume_after``: the seq after which the
    author's statements are accepted again); append-only, enforced by triggers. ``fork_archive``: the
    cleared ``forks`` rows, kept for audit with the number of the decision that cleared them."""
    db.execute(
        """CREATE TABLE fork_decisions (
            decision INTEGER PRIMARY KEY AUTOINCREMENT,
            author BLOB NOT NULL,
            decided_at INTEGER NOT NULL,
            admin TEXT NOT NULL,
            reason TEXT NOT NULL,
            resume_after INTEGER NOT NULL,
            evidence TEXT NOT NULL
        )"""
    )
    for event in ("UPDATE", "DELETE"):
        db.execute(f"""CREATE TRIGGER fork_decisions_no_{event.lower()} BEFORE {event} ON fork_decisions
                       BEGIN SELECT RAISE(ABORT, 'fork_decisions is append-only'); END""")
    db.execute(
        """CREATE TABLE fork_archive (
            id BLOB NOT NULL,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            header BLOB NOT NULL,
            signature BLOB NOT NULL,
            conflicts_with BLOB,
            received_from BLOB,
            detected_at INTEGER NOT NULL,
            decision INTEGER NOT NULL REFERENCES fork_decisions (decision),
            PRIMARY KEY (id, decision)
        )"""
    )


def _m020_match_index(db: sqlite_utils.Database) -> None:
    # Matching reads an index instead of scanning every candidate (issue 11 item 1): skill concept key
    # -> candidate (with its created_at, the old scan's order), consents by candidate (one query per
    # batch of candidates, not one per candidate), offers by age (the prune at every answer). The
    # keys depend on the skills vocabulary, which storage cannot load: the table starts empty with no
    # vocabulary recorded, and the node fills it on first use (node/core/talent.py ``skill_index``).
    db.execute(
        """CREATE TABLE candidate_skills (
            skill_key TEXT NOT NULL,
            candidate_id BLOB NOT NULL REFERENCES candidates (candidate_id),
            created_at INTEGER NOT NULL,
            PRIMARY KEY (skill_key, candidate_id)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX candidate_skills_by_candidate ON candidate_skills (candidate_id)")
    db.execute("CREATE TABLE skill_index_state (id INTEGER PRIMARY KEY CHECK (id = 1), vocabulary TEXT NOT NULL)")
    db.execute("CREATE INDEX consents_by_candidate ON consents (candidate_id)")
    db.execute("CREATE INDEX match_offers_by_age ON match_offers (created_at)")


def _m021_email_index(db: sqlite_utils.Database) -> None:
    # The duplicate-email check at every candidate add (``lower(email) = lower(?)`` among candidates
    # not erased) was a scan of the table per row; an index on the very expression makes it a lookup.
    db.execute("CREATE INDEX candidates_email ON candidates (lower(email)) WHERE erased_at IS NULL")


def _m023_list_pages(db: sqlite_utils.Database) -> None:
    """Issue 11 (memory): ``job list`` and ``candidate list`` are read a page at a time in their
    display order (``jobs.updated_at``; candidates not erased by ``created_at``), so each page is an
    index range instead of a sort of the whole table."""
    db.execute("CREATE INDEX jobs_updated ON jobs (updated_at)")
    db.execute("CREATE INDEX candidates_created ON candidates (created_at) WHERE erased_at IS NULL")


def _m026_candidate_changes(db: sqlite_utils.Database) -> None:
    """Issue 11 (match): the node keeps the skill index in memory as bitmaps (node/core/skill_bitmaps.py)
    and must learn of every candidate added, corrected or erased, including changes rolled back or
    made outside its own calls. Triggers record the candidate in ``candidate_changes`` in the very
    transaction that changed it (so a rolled-back change leaves no record); the node applies the
    records since the last one it saw before each match and deletes what it has applied."""
    db.execute("CREATE TABLE candidate_changes (seq INTEGER PRIMARY KEY AUTOINCREMENT, candidate_id BLOB NOT NULL)")
    db.execute("""CREATE TRIGGER candidates_added AFTER INSERT ON candidates
                  BEGIN INSERT INTO candidate_changes (candidate_id) VALUES (new.candidate_id); END""")
    db.execute("""CREATE TRIGGER candidates_changed AFTER UPDATE OF skills, erased_at, created_at ON candidates
                  BEGIN INSERT INTO candidate_changes (candidate_id) VALUES (new.candidate_id); END""")
    db.execute("""CREATE TRIGGER candidates_removed AFTER DELETE ON candidates
                  BEGIN INSERT INTO candidate_changes (candidate_id) VALUES (old.candidate_id); END""")


def _m028_partner_forks(db: sqlite_utils.Database) -> None:
    """Issue 10 (acceptance item 5): partners that answered this node's own statements with ``fork`` (they
    hold another version of its log), since when, so ``orgnode status`` still says so after a restart (the
    answered statements left the outbox: nothing would tell the node again until it signs more)."""
    db.execute("CREATE TABLE partner_forks (peer BLOB PRIMARY KEY, since INTEGER NOT NULL) WITHOUT ROWID")


def _m029_fork_archive_append_only(db: sqlite_utils.Database) -> None:
    """Security pass 10: archived fork evidence is "never deleted" (docs/security.md); like the
    decisions that point to it (017), it is append-only by the database, not by convention."""
    for event in ("UPDATE", "DELETE"):
        db.execute(f"""CREATE TRIGGER fork_archive_no_{event.lower()} BEFORE {event} ON fork_archive
                       BEGIN SELECT RAISE(ABORT, 'fork_archive is append-only'); END""")


def _m031_cosignatures(db: sqlite_utils.Database) -> None:
    """Issue 13 item 3: tlog-cosignature/v1 lines over checkpoint notes (docs/protocol.md 18.7), both
    those this node made over partners' checkpoints and those partners made over its own. One row per
    (checkpoint statement, cosigner); the newest cosigned size per author is what this node never
    contradicts."""
    db.execute("""CREATE TABLE cosignatures (
                      checkpoint BLOB NOT NULL, author BLOB NOT NULL, size INTEGER NOT NULL, root BLOB NOT NULL,
                      cosigner BLOB NOT NULL, timestamp INTEGER NOT NULL, line TEXT NOT NULL, stored_at INTEGER NOT NULL,
                      PRIMARY KEY (checkpoint, cosigner)) WITHOUT ROWID""")
    db.execute("CREATE INDEX cosignatures_by_author ON cosignatures (author, cosigner, size)")


def _m032_dashboard_users(db: sqlite_utils.Database) -> None:
    """The web dashboard (issue 14): staff accounts (argon2 hash strings), sessions (only a hash of the
    cookie's token is stored), and who did what through it: a local table, never sent to partners."""
    db.execute(
        """CREATE TABLE dashboard_users (
            name TEXT PRIMARY KEY,
            role TEXT NOT NULL CHECK (role IN ('admin', 'staff', 'viewer')),
            password_hash TEXT NOT NULL,
            created_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE dashboard_sessions (
            token_hash BLOB PRIMARY KEY,
            user_name TEXT NOT NULL REFERENCES dashboard_users(name) ON DELETE CASCADE,
            csrf TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE dashboard_actions (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            at INTEGER NOT NULL,
            user_name TEXT NOT NULL,
            action TEXT NOT NULL,
            object_id TEXT
        )"""
    )
    db.execute("CREATE INDEX dashboard_actions_by_object ON dashboard_actions (object_id, at)")


def _m033_referral_corrections(db: sqlite_utils.Database) -> None:
    """A referral's lifecycle steps may be corrections of an outcome (issue 12 item 4): ``corrects`` is
    the statement id of the step a correction corrects (NULL for every other step). ``acted_by`` is the
    staff member a step names: ours (always recorded here), or a partner's as its signed statement says
    (only when its admin shares staff names; issue 14 item 2)."""
    db.execute("ALTER TABLE referral_events ADD COLUMN corrects BLOB")
    db.execute("ALTER TABLE referral_events ADD COLUMN acted_by TEXT")


def _m034_reshare_offers(db: sqlite_utils.Database) -> None:
    """The offers taken with partners' header-only re-shares (lazy re-sharing, docs/protocol.md 14.2):
    which root each such ``reshare`` names. The body is never fetched for most of them, yet their
    offerers hold the root, so they are ways back to its author (a withdrawal re-sent on another path)."""
    db.execute(
        """CREATE TABLE reshare_offers (
            reshare_id BLOB PRIMARY KEY,
            offerer BLOB NOT NULL,
            root_id BLOB NOT NULL,
            distance INTEGER NOT NULL,
            at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX reshare_offers_by_root ON reshare_offers (root_id)")


def _m035_consent_history_index(db: sqlite_utils.Database) -> None:
    """Issue 11: a consent's history (``TalentStore.consent_history``, ``candidate list``'s page of
    histories, the dashboard's candidate page) is read by ``consent_id``, and the table had no index
    on it: every such query scanned the whole history (``EXPLAIN QUERY PLAN``: ``SCAN consent_history``;
    at 100,000 history rows 8.0 ms a query, 0.006 ms with the index, in memory at load 7.3). The index
    keeps the rowid order the reads ask for (``ORDER BY rowid``: the order recorded)."""
    db.execute("CREATE INDEX consent_history_by_consent ON consent_history (consent_id)")


MIGRATIONS: list[Migration] = [
    ("001_log", m001_log),
    ("002_federation", m002_federation),
    ("003_talent", m003_talent),
    ("004_relay", _m004_relay),
    ("005_reactions", _m005_reactions),
    ("006_pinned_sector", _m006_pinned_sector),
    ("007_jobs_by_author", _m007_jobs_by_author),
    ("008_confirmed_orgs", _m008_confirmed_orgs),
    ("009_erasure_receipts", _m009_erasure_receipts),
    ("010_candidate_erasure", _m010_candidate_erasure),
    ("012_quotas", _m012_quotas),
    ("013_withdrawal_deliveries", _m013_withdrawal_deliveries),
    ("017_fork_decisions", _m017_fork_decisions),
    ("020_match_index", _m020_match_index),
    ("021_email_index", _m021_email_index),
    ("023_list_pages", _m023_list_pages),
    ("026_candidate_changes", _m026_candidate_changes),
    ("028_partner_forks", _m028_partner_forks),
    ("029_fork_archive_append_only", _m029_fork_archive_append_only),
    ("031_cosignatures", _m031_cosignatures),
    ("032_dashboard_users", _m032_dashboard_users),
    ("033_referral_corrections", _m033_referral_corrections),
    ("034_reshare_offers", _m034_reshare_offers),
    ("035_consent_history_index", _m035_consent_history_index),
]
