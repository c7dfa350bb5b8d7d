"""The first schema of the node database, as migrations 001-003 created it: the log, federation
(trust list, invites, outbox) and talent tables. Later changes are migrations in storage/migrations.py;
these functions never change once released (a node that applied them must not see them differ)."""

from __future__ import annotations

import sqlite_utils


def m001_log(db: sqlite_utils.Database) -> None:
    db.execute(
        """CREATE TABLE entries (
            id BLOB PRIMARY KEY,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            ts INTEGER NOT NULL,
            header BLOB NOT NULL,
            signature BLOB NOT NULL,
            salt BLOB,
            body BLOB,
            received_from BLOB,
            received_at INTEGER NOT NULL,
            UNIQUE (author, seq)
        )"""
    )
    db.execute("CREATE INDEX entries_kind ON entries (kind, author)")
    db.execute(
        """CREATE TABLE key_periods (
            author BLOB NOT NULL,
            key BLOB NOT NULL,
            first_seq INTEGER NOT NULL,
            last_seq INTEGER,
            PRIMARY KEY (author, key)
        )"""
    )
    db.execute(
        """CREATE TABLE forks (
            id BLOB PRIMARY KEY,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            header BLOB NOT NULL,
            signature BLOB NOT NULL,
            conflicts_with BLOB,
            received_from BLOB,
            detected_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE held (
            id BLOB PRIMARY KEY,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            envelope BLOB NOT NULL,
            received_from BLOB,
            received_at INTEGER NOT NULL
        )"""
    )
    db.execute("CREATE INDEX held_author ON held (author, seq)")
    db.execute(
        """CREATE TABLE rejected (
            id BLOB PRIMARY KEY,
            author BLOB,
            seq INTEGER,
            code TEXT NOT NULL,
            detail TEXT NOT NULL,
            received_from BLOB,
            at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE org_cards (
            node_id BLOB PRIMARY KEY,
            statement_id BLOB NOT NULL,
            seq INTEGER NOT NULL,
            name TEXT NOT NULL,
            sector TEXT NOT NULL,
            url TEXT NOT NULL,
            x25519 BLOB NOT NULL,
            mlkem768 BLOB NOT NULL,
            updated_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE local_keys (
            public_key BLOB PRIMARY KEY,
            purpose TEXT NOT NULL,
            created_at INTEGER NOT NULL,
            retired_at INTEGER
        )"""
    )


def m002_federation(db: sqlite_utils.Database) -> None:
    db.execute("ALTER TABLE entries ADD COLUMN audience TEXT")  # own private statements: '*' or hex ids
    db.execute(
        """CREATE TABLE peers (
            node_id BLOB PRIMARY KEY,
            url TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('trusted', 'pending_in', 'pending_out', 'removed', 'blocked')),
            via TEXT NOT NULL,
            added_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            score REAL NOT NULL DEFAULT 0,
            invalid_count INTEGER NOT NULL DEFAULT 0,
            throttled_until INTEGER NOT NULL DEFAULT 0,
            last_contact INTEGER
        )"""
    )
    db.execute(
        """CREATE TABLE invites (
            invite_id BLOB PRIMARY KEY,
            secret BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            expires_at INTEGER NOT NULL,
            used_at INTEGER,
            used_by BLOB
        )"""
    )
    db.execute(
        """CREATE TABLE outbox (
            peer BLOB NOT NULL,
            statement_id BLOB NOT NULL,
            seq INTEGER NOT NULL,
            enqueued_at INTEGER NOT NULL,
            PRIMARY KEY (peer, statement_id)
        )"""
    )
    db.execute("CREATE INDEX outbox_order ON outbox (peer, seq)")
    db.execute(
        """CREATE TABLE foreign_statements (
            id BLOB PRIMARY KEY,
            author BLOB NOT NULL,
            seq INTEGER NOT NULL,
            kind TEXT NOT NULL,
            header BLOB NOT NULL,
            signature BLOB NOT NULL,
            salt BLOB,
            body BLOB,
            via BLOB NOT NULL,
            via_statement BLOB NOT NULL,
            distance INTEGER NOT NULL,
            received_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE foreign_keys_seen (
            author BLOB NOT NULL,
            key BLOB NOT NULL,
            first_seq INTEGER NOT NULL,
            last_seq INTEGER,
            vouched_by BLOB NOT NULL,
            PRIMARY KEY (author, key)
        )"""
    )
    db.execute(
        """CREATE TABLE reshared (
            root_id BLOB PRIMARY KEY,
            reshare_id BLOB,
            at INTEGER NOT NULL
        )"""
    )


def m003_talent(db: sqlite_utils.Database) -> None:
    # Statements whose personal data was erased after a consent withdrawal: their body never returns.
    db.execute("ALTER TABLE entries ADD COLUMN erased_at INTEGER")
    db.execute(
        """CREATE TABLE jobs (
            job_id BLOB PRIMARY KEY,
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
            updated_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE candidates (
            candidate_id BLOB PRIMARY KEY,
            candidate_ref BLOB NOT NULL UNIQUE,
            name TEXT NOT NULL,
            email TEXT NOT NULL,
            phone TEXT,
            location TEXT,
            skills TEXT NOT NULL,
            medal TEXT,
            for_job TEXT,
            created_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE consents (
            consent_id BLOB PRIMARY KEY,
            candidate_id BLOB NOT NULL REFERENCES candidates (candidate_id),
            statement_id BLOB NOT NULL,
            purposes TEXT NOT NULL,
            scope TEXT NOT NULL,
            fields TEXT NOT NULL,
            evidence TEXT NOT NULL,
            collected_at INTEGER NOT NULL,
            expires_at INTEGER,
            state TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE consent_history (
            consent_id BLOB NOT NULL,
            state TEXT NOT NULL,
            at INTEGER NOT NULL,
            note TEXT NOT NULL DEFAULT ''
        )"""
    )
    db.execute(
        """CREATE TABLE match_offers (
            query_id BLOB NOT NULL,
            pseudonym BLOB NOT NULL,
            candidate_id BLOB NOT NULL,
            job_id BLOB NOT NULL,
            asker BLOB NOT NULL,
            job_statement BLOB NOT NULL,
            created_at INTEGER NOT NULL,
            PRIMARY KEY (query_id, pseudonym)
        )"""
    )
    db.execute(
        """CREATE TABLE match_results (
            query_id BLOB NOT NULL,
            job_id BLOB NOT NULL,
            holder BLOB NOT NULL,
            pseudonym BLOB NOT NULL,
            score INTEGER NOT NULL,
            matched TEXT NOT NULL,
            at INTEGER NOT NULL,
            PRIMARY KEY (query_id, holder, pseudonym)
        )"""
    )
    db.execute(
        """CREATE TABLE referrals (
            referral_id BLOB PRIMARY KEY,
            job_id BLOB NOT NULL,
            job_author BLOB NOT NULL,
            referrer BLOB NOT NULL,
            request_id BLOB,
            candidate_id BLOB,
            consent_id BLOB,
            statement_id BLOB,
            profile_statement BLOB,
            status TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE referral_requests (
            request_id BLOB PRIMARY KEY,
            job_id BLOB NOT NULL,
            job_author BLOB NOT NULL,
            holder BLOB NOT NULL,
            query_id BLOB NOT NULL,
            pseudonym BLOB NOT NULL,
            candidate_id BLOB,
            statement_id BLOB NOT NULL,
            state TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            created_at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE referral_events (
            referral_id BLOB NOT NULL,
            status TEXT NOT NULL,
            by BLOB NOT NULL,
            statement_id BLOB NOT NULL UNIQUE,
            reason TEXT NOT NULL DEFAULT '',
            at INTEGER NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE received_profiles (
            referral_id BLOB PRIMARY KEY,
            profile TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE disclosures (
            referral_id BLOB PRIMARY KEY,
            candidate_id BLOB NOT NULL,
            recipient BLOB NOT NULL,
            consent_id BLOB NOT NULL,
            at INTEGER NOT NULL,
            withdrawal_statement BLOB,
            acked_at INTEGER,
            ack_statement BLOB
        )"""
    )
