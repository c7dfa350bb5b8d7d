"""Jobs, candidates, consent, referrals and the disclosure ledger, in SQLite (match bookkeeping: storage/match_records.py).

Jobs are a projection of ``job`` statements (own, a direct peer's, or re-shared: ``via`` names the
peer that passed it on); the author's highest version wins. Candidates and consent records are local
only. Personal data lives in exactly these places — ``candidates`` (the holder's own, with staff
notes), consent evidence text in ``consents`` (the holder), the body of ``referral_profile``
statements (both sides) and ``received_profiles`` (the job's org). ``erase_referral`` removes the
last two at a recipient; ``erase_candidate`` (with ``LogStore.erase_body`` of the holder's own
profile statements) removes the others at the holder. ``secure_delete`` is on and the WAL is
checkpointed afterwards, so no copy lingers in the database files.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from typing import Any

import sqlite_utils

from protocol import kinds
from protocol.jobs import Job
from protocol.statement import Statement
from storage.candidate_filters import CandidateFilter
from storage.candidate_pages import CandidatePages
from storage.erasure_queues import ErasureQueues
from storage.import_batches import ImportBatches
from storage.log_store import LogStore
from storage.match_index import MatchIndex
from storage.match_records import MatchRecords
from storage.projections import FOREIGN_PROJECTORS, projector
from storage.talent_rows import (
    Candidate,
    ConsentEventRow,
    ConsentRow,
    DisclosureRow,
    JobRow,
    OfferRow,
    ReferralEventRow,
    ReferralRow,
    RequestRow,
    _candidate,
    _consent,
    _consent_event,
    _disclosure,
    _event,
    _offer,
    _referral,
    _request,
)


def _upsert_job(db: sqlite_utils.Database, statement: Statement, via: bytes | None, now: int) -> None:
    """Keep the author's latest version of a job. ``via``: the partner it was re-shared through, or
    None for a copy from the author's own log, which is then no longer "via" anyone, whatever its
    version. That reset is part of the upsert (issue 11 item 3: a second UPDATE per job was 42 µs of
    every ingested job); only when no row was written (an older or equal version) is it run alone."""
    job = kinds.body_of(statement) if statement.kind == Job.KIND else Job.from_value(statement.body_value())
    written = db.execute(
        """INSERT INTO jobs (job_id, author, version, statement_id, title, status, hops, skills, valid_through,
                             filled_by, via, body, updated_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (author, job_id) DO UPDATE SET version=excluded.version, statement_id=excluded.statement_id,
             title=excluded.title, status=excluded.status, hops=excluded.hops, skills=excluded.skills,
             valid_through=excluded.valid_through, filled_by=excluded.filled_by, body=excluded.body,
             updated_at=excluded.updated_at,
             via=CASE WHEN excluded.via IS NULL THEN NULL ELSE COALESCE(jobs.via, excluded.via) END
           WHERE excluded.version > jobs.version
           RETURNING 1""",
        [job.job_id, statement.author, job.version, statement.id, job.title, job.status, job.hops,
         json.dumps([s.label for s in job.skills]), job.valid_through, job.filled_by, via, statement.body, now],
    ).fetchall()
    if via is None and not written:  # a direct copy of a version held already: it is no longer "via" anyone
        db.execute("UPDATE jobs SET via = NULL WHERE job_id = ? AND author = ?", [job.job_id, statement.author])


@projector(Job.KIND)
def _project_job(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    _upsert_job(db, statement, None, now)


def _project_foreign_job(db: sqlite_utils.Database, statement: Statement, via: bytes, now: int) -> None:
    if list(db.query("SELECT 1 FROM entries WHERE author = ? LIMIT 1", [statement.author])):
        return  # we replicate this author's log: its own copies are authoritative, re-shared ones are not
    _upsert_job(db, statement, via, now)


FOREIGN_PROJECTORS[Job.KIND] = _project_foreign_job


class _Unset(enum.Enum):
    UNSET = enum.auto()


_UNSET = _Unset.UNSET


class TalentStore(ErasureQueues, MatchIndex, MatchRecords, ImportBatches, CandidatePages):
    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db

    # --- jobs ------------------------------------------------------------------------------------

    def jobs(self, author: bytes | None = None, limit: int = -1, offset: int = 0, id_prefix: str = "") -> list[JobRow]:
        """Jobs oldest update first; only ``author``'s if given, only ids whose hex starts with
        ``id_prefix``; a page of ``limit`` (-1: all) after skipping ``offset`` (index ``jobs_updated``)."""
        rows = self.db.query(
            """SELECT * FROM jobs WHERE (? IS NULL OR author = ?) AND (? = '' OR hex(job_id) LIKE ? || '%')
               ORDER BY updated_at, rowid LIMIT ? OFFSET ?""",
            [author, author, id_prefix, id_prefix.upper(), limit, offset])
        return [JobRow(Job.from_value(_decode(r["body"])), bytes(r["author"]), bytes(r["statement_id"]),
                       bytes(r["via"]) if r["via"] is not None else None)
                for r in rows]

    def job(self, job_id: bytes, author: bytes | None = None) -> JobRow | None:
        """The job ``job_id`` of ``author``; without an author, the first one known under that id
        (two organizations using one id is an anomaly; callers that know the author say so)."""
        rows = list(self.db.query("SELECT * FROM jobs WHERE job_id = ? AND (? IS NULL OR author = ?) ORDER BY rowid LIMIT 1",
                                  [job_id, author, author]))
        if not rows:
            return None
        r = rows[0]
        return JobRow(Job.from_value(_decode(r["body"])), bytes(r["author"]), bytes(r["statement_id"]),
                      bytes(r["via"]) if r["via"] is not None else None)

    # --- candidates and consent --------------------------------------------------------------------

    def add_candidate(self, c: Candidate, skill_keys: Iterable[str] = ()) -> None:
        """Record a candidate and index its skills' concept keys (``skill_keys``, from the vocabulary)."""
        self.db.execute(
            """INSERT INTO candidates (candidate_id, candidate_ref, name, email, phone, location, skills, medal, for_job, created_at,
                                       notes)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [c.candidate_id, c.candidate_ref, c.name, c.email, c.phone, c.location, json.dumps(list(c.skills)), c.medal,
             c.for_job, c.created_at, c.notes],
        )
        self.index_skills(c.candidate_id, c.created_at, skill_keys, new=True)

    def update_candidate(self, c: Candidate, skill_keys: Iterable[str] = ()) -> None:
        """Store corrected personal fields of a (not erased) candidate, and its new skill keys; ids and dates stay."""
        self.db.execute(
            """UPDATE candidates SET name = ?, email = ?, phone = ?, location = ?, skills = ?, medal = ?, for_job = ?, notes = ?
               WHERE candidate_id = ? AND erased_at IS NULL""",
            [c.name, c.email, c.phone, c.location, json.dumps(list(c.skills)), c.medal, c.for_job, c.notes, c.candidate_id],
        )
        self.index_skills(c.candidate_id, c.created_at, skill_keys)

    def candidates(self, limit: int = -1, offset: int = 0, only: CandidateFilter | None = None) -> list[Candidate]:
        """The candidates held (erased ones are tombstones: see ``candidate``), oldest first; a page of
        ``limit`` (-1: all) after skipping ``offset`` (index ``candidates_created``), of those ``only`` lets through."""
        where, params = (only or CandidateFilter()).where()
        return [_candidate(r) for r in self.db.query(
            f"SELECT c.* FROM candidates c WHERE {where} ORDER BY c.created_at, c.rowid LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset])]

    def candidate(self, candidate_id: bytes) -> Candidate | None:
        """The candidate, or its data-free tombstone if it was erased (``erased_at`` set)."""
        rows = list(self.db.query("SELECT * FROM candidates WHERE candidate_id = ?", [candidate_id]))
        return _candidate(rows[0]) if rows else None

    def email_taken(self, email: str, other_than: bytes | None = None) -> bool:
        return self.email_holder(email, other_than) is not None

    def email_holder(self, email: str, other_than: bytes | None = None) -> bytes | None:
        """The candidate (not erased) recorded here with this email address, any case; None if none."""
        rows = list(self.db.query(
            "SELECT candidate_id FROM candidates WHERE lower(email) = lower(?) AND erased_at IS NULL AND candidate_id IS NOT ? "
            "LIMIT 1", [email, other_than]))
        return bytes(rows[0]["candidate_id"]) if rows else None

    def erase_candidate(self, candidate_id: bytes, now: int) -> None:
        """Remove every personal field of the candidate here, keeping a tombstone of ids and dates so
        the consent history and the disclosure ledger still make sense (issue 8 item 6). Consent
        evidence text goes too (its hash stays signed in the consent statement); pseudonymous match
        offers go (they link a pseudonym back to the person). ``secure_delete`` zeroes the freed
        bytes; the caller checkpoints the WAL after committing."""
        self.db.execute(
            """UPDATE candidates SET name = '', email = '', phone = NULL, location = NULL, skills = '[]', medal = NULL,
                                     for_job = NULL, notes = NULL, erased_at = ? WHERE candidate_id = ?""",
            [now, candidate_id])
        self.db.execute("UPDATE consents SET evidence = '' WHERE candidate_id = ?", [candidate_id])
        self.db.execute("DELETE FROM match_offers WHERE candidate_id = ?", [candidate_id])
        self.db.execute("DELETE FROM candidate_skills WHERE candidate_id = ?", [candidate_id])

    def offers_of(self, candidate_id: bytes) -> list[OfferRow]:
        """Pseudonymous match offers made for the candidate (no personal data left with them)."""
        return [_offer(r) for r in self.db.query("SELECT * FROM match_offers WHERE candidate_id = ? ORDER BY created_at",
                                                 [candidate_id])]

    def requests_about(self, candidate_id: bytes) -> list[RequestRow]:
        """Referral requests other organizations made for the candidate (after a match offer)."""
        return [_request(r) for r in self.db.query("SELECT * FROM referral_requests WHERE candidate_id = ? ORDER BY created_at",
                                                   [candidate_id])]

    def add_consent(self, c: ConsentRow, now: int) -> None:
        self.db.execute(
            """INSERT INTO consents (consent_id, candidate_id, statement_id, purposes, scope, fields, evidence, collected_at,
                                     expires_at, state) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [c.consent_id, c.candidate_id, c.statement_id, json.dumps(list(c.purposes)), json.dumps(list(c.scope)),
             json.dumps(list(c.fields)), c.evidence, c.collected_at, c.expires_at, c.state],
        )
        self.db.execute("INSERT INTO consent_history (consent_id, state, at, note) VALUES (?, 'given', ?, '')", [c.consent_id, now])

    def consents(self, candidate_id: bytes) -> list[ConsentRow]:
        return [_consent(r) for r in self.db.query("SELECT * FROM consents WHERE candidate_id = ? ORDER BY collected_at", [candidate_id])]

    def consent(self, consent_id: bytes) -> ConsentRow | None:
        rows = list(self.db.query("SELECT * FROM consents WHERE consent_id = ?", [consent_id]))
        return _consent(rows[0]) if rows else None

    def set_consent_state(self, consent_id: bytes, state: str, now: int, note: str = "") -> None:
        self.db.execute("UPDATE consents SET state = ? WHERE consent_id = ?", [state, consent_id])
        self.db.execute("INSERT INTO consent_history (consent_id, state, at, note) VALUES (?, ?, ?, ?)", [consent_id, state, now, note])

    def consent_history(self, consent_id: bytes) -> list[ConsentEventRow]:
        return [_consent_event(r)
                for r in self.db.query("SELECT state, at, note FROM consent_history WHERE consent_id = ? ORDER BY rowid", [consent_id])]

    # --- referrals -------------------------------------------------------------------------------

    def referral(self, referral_id: bytes) -> ReferralRow | None:
        rows = list(self.db.query("SELECT * FROM referrals WHERE referral_id = ?", [referral_id]))
        return _referral(rows[0]) if rows else None

    def referral_withdrawn(self, referral_id: bytes) -> bool:
        """The candidate's consent behind this referral was withdrawn, whatever status the referral
        shows (an outcome is terminal, so a withdrawal after ``hired`` moves no status): at the holder
        the consent it was made under is withdrawn or the withdrawal was sent; at the job's org the
        referrer's withdrawal erased the referral's profile here."""
        return self.db.execute(
            "SELECT 1 FROM referrals r LEFT JOIN consents c ON c.consent_id = r.consent_id "
            "LEFT JOIN disclosures d ON d.referral_id = r.referral_id LEFT JOIN entries e ON e.id = r.profile_statement "
            "WHERE r.referral_id = ? AND (c.state = 'withdrawn' OR d.withdrawal_statement IS NOT NULL "
            "OR e.erased_at IS NOT NULL) LIMIT 1", [referral_id]).fetchone() is not None

    def referral_answering(self, request_id: bytes, job_author: bytes) -> ReferralRow | None:
        """The referral that answered ``job_author``'s request ``request_id`` (a holder on an older
        release gave it an id of its own; the request's id still names it)."""
        rows = list(self.db.query("SELECT * FROM referrals WHERE request_id = ? AND job_author = ? ORDER BY created_at LIMIT 1",
                                  [request_id, job_author]))
        return _referral(rows[0]) if rows else None

    def referrals(self) -> list[ReferralRow]:
        return [_referral(r) for r in self.db.query("SELECT * FROM referrals ORDER BY created_at")]

    def upsert_referral(self, referral_id: bytes, *, job_id: bytes | _Unset = _UNSET, job_author: bytes | _Unset = _UNSET,
                        referrer: bytes | _Unset = _UNSET, request_id: bytes | _Unset | None = _UNSET,
                        candidate_id: bytes | _Unset | None = _UNSET, consent_id: bytes | _Unset | None = _UNSET,
                        statement_id: bytes | _Unset | None = _UNSET, profile_statement: bytes | _Unset | None = _UNSET,
                        status: str | _Unset = _UNSET, reason: str | _Unset = _UNSET, created_at: int | _Unset = _UNSET,
                        updated_at: int | _Unset = _UNSET) -> None:
        """Insert the referral with the columns given, or set just those columns if it exists."""
        given = {name: value for name, value in (
            ("job_id", job_id), ("job_author", job_author), ("referrer", referrer), ("request_id", request_id),
            ("candidate_id", candidate_id), ("consent_id", consent_id), ("statement_id", statement_id),
            ("profile_statement", profile_statement), ("status", status), ("reason", reason), ("created_at", created_at),
            ("updated_at", updated_at)) if value is not _UNSET}
        existing = self.referral(referral_id)
        if existing is None:
            columns = ["referral_id", *given]
            self.db.execute(f"INSERT INTO referrals ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",  # noqa: S608 - column names are ours
                            [referral_id, *given.values()])
        else:
            assignments = ", ".join(f"{k} = ?" for k in given)
            self.db.execute(f"UPDATE referrals SET {assignments} WHERE referral_id = ?", [*given.values(), referral_id])  # noqa: S608

    def add_event(self, referral_id: bytes, status: str, by: bytes, statement_id: bytes, reason: str, at: int,
                  corrects: bytes | None = None, acted_by: str | None = None) -> None:
        """Record one lifecycle step; ``corrects`` names the step a correction corrects."""
        self.db.execute(
            "INSERT OR IGNORE INTO referral_events (referral_id, status, by, statement_id, reason, at, corrects, acted_by) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [referral_id, status, by, statement_id, reason, at, corrects, acted_by],
        )

    def events(self, referral_id: bytes) -> list[ReferralEventRow]:
        """The referral's steps in the order they were recorded here (a correction after what it corrects)."""
        return [_event(r) for r in self.db.query(
            "SELECT status, by, statement_id, reason, at, corrects, acted_by FROM referral_events WHERE referral_id = ? "
            "ORDER BY at, rowid", [referral_id])]

    def request(self, request_id: bytes) -> RequestRow | None:
        rows = list(self.db.query("SELECT * FROM referral_requests WHERE request_id = ?", [request_id]))
        return _request(rows[0]) if rows else None

    def requests(self, state: str | None = None) -> list[RequestRow]:
        return [_request(r) for r in self.db.query(
            "SELECT * FROM referral_requests WHERE (? IS NULL OR state = ?) ORDER BY created_at", [state, state])]

    def add_request(self, *, request_id: bytes, job_id: bytes, job_author: bytes, holder: bytes, query_id: bytes,
                    pseudonym: bytes, candidate_id: bytes | None = None, statement_id: bytes, state: str, reason: str = "",
                    created_at: int) -> None:
        self.db.execute(
            """INSERT OR IGNORE INTO referral_requests (request_id, job_id, job_author, holder, query_id, pseudonym, candidate_id,
                                                        statement_id, state, reason, created_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            [request_id, job_id, job_author, holder, query_id, pseudonym, candidate_id, statement_id, state, reason, created_at],
        )

    def set_request_state(self, request_id: bytes, state: str, reason: str = "") -> None:
        self.db.execute("UPDATE referral_requests SET state = ?, reason = ? WHERE request_id = ?", [state, reason, request_id])

    # --- profiles, disclosures, erasure ------------------------------------------------------------

    def store_profile(self, referral_id: bytes, profile: dict[str, Any]) -> None:
        self.db.execute("INSERT OR REPLACE INTO received_profiles (referral_id, profile) VALUES (?, ?)",
                        [referral_id, json.dumps(profile, sort_keys=True)])

    def profile(self, referral_id: bytes) -> dict[str, Any] | None:
        rows = list(self.db.query("SELECT profile FROM received_profiles WHERE referral_id = ?", [referral_id]))
        return json.loads(rows[0]["profile"]) if rows else None

    def disclose(self, referral_id: bytes, candidate_id: bytes, recipient: bytes, consent_id: bytes, now: int) -> None:
        self.db.execute("INSERT INTO disclosures (referral_id, candidate_id, recipient, consent_id, at) VALUES (?, ?, ?, ?, ?)",
                        [referral_id, candidate_id, recipient, consent_id, now])

    def disclosures(self, candidate_id: bytes | None = None) -> list[DisclosureRow]:
        return [_disclosure(r) for r in self.db.query("SELECT * FROM disclosures WHERE (? IS NULL OR candidate_id = ?) ORDER BY at",
                                                      [candidate_id, candidate_id])]

    def disclosure(self, referral_id: bytes) -> DisclosureRow | None:
        rows = list(self.db.query("SELECT * FROM disclosures WHERE referral_id = ?", [referral_id]))
        return _disclosure(rows[0]) if rows else None

    def mark_withdrawal_sent(self, referral_ids: list[bytes], statement_id: bytes) -> None:
        for rid in referral_ids:
            self.db.execute("UPDATE disclosures SET withdrawal_statement = ? WHERE referral_id = ?", [statement_id, rid])

    def acknowledge(self, referral_ids: list[bytes], sender: bytes, ack_statement: bytes, now: int) -> int:
        count = 0
        for rid in referral_ids:
            cur = self.db.execute(
                "UPDATE disclosures SET acked_at = ?, ack_statement = ? WHERE referral_id = ? AND recipient = ? AND acked_at IS NULL",
                [now, ack_statement, rid, sender])
            count += cur.rowcount
        return count

    def erase_referral(self, referral_id: bytes, now: int) -> list[bytes]:
        """Erase a received referral's personal data; returns the ids of the statements whose bodies went."""
        self.db.execute("DELETE FROM received_profiles WHERE referral_id = ?", [referral_id])
        row = self.referral(referral_id)
        erased: list[bytes] = []
        if row is not None and row.profile_statement is not None:
            sid = row.profile_statement
            LogStore(self.db).erase_body(sid, now)
            erased.append(sid)
        return erased

    def checkpoint(self) -> None:
        LogStore(self.db).checkpoint_wal()

def _decode(body: bytes) -> Any:
    from protocol.codec import decode
    from protocol.statement import BODY_LIMITS

    return decode(bytes(body), BODY_LIMITS)
