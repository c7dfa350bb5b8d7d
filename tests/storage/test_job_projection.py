"""The ``jobs`` projection on a real SQLite file: the latest version wins, and a copy from the author's
own log is no longer "via" the partner that re-shared it, whatever its version (one upsert now, with
the reset alone only when no row was written: storage/talent.py)."""

from __future__ import annotations

from pathlib import Path

import sqlite_utils

import storage.talent  # noqa: F401 - registers the job projectors
from protocol.jobs import Job, Skill
from protocol.statement import Statement, sign_statement
from storage.db import connect
from storage.projections import FOREIGN_PROJECTORS, project
from tests.protocol.helpers import T0, ident

JOB_ID = b"\x07" * 16
VIA, OTHER = b"\x11" * 32, b"\x22" * 32


def _version(version: int) -> Statement:
    job = Job(job_id=JOB_ID, version=version, title=f"Driver v{version}", skills=(Skill("driving"),), date_posted=T0)
    return sign_statement(ident(1), kind=Job.KIND, seq=version, prev=None if version == 1 else b"\x00" * 32, now=T0,
                          body=job.to_value(), private=True, salt=bytes([version]) * 32)


def _row(db: sqlite_utils.Database) -> tuple[int, bytes | None]:
    rows = list(db.query("SELECT version, via FROM jobs WHERE job_id = ?", [JOB_ID]))
    assert len(rows) == 1
    return rows[0]["version"], None if rows[0]["via"] is None else bytes(rows[0]["via"])


def _db(tmp_path: Path) -> sqlite_utils.Database:
    return connect(tmp_path / "node.db")


def test_a_direct_copy_of_the_same_version_clears_via(tmp_path: Path) -> None:
    db = _db(tmp_path)
    FOREIGN_PROJECTORS[Job.KIND](db, _version(1), VIA, T0)
    assert _row(db) == (1, VIA)  # positive control: re-shared, it is via the partner
    project(db, _version(1), T0)
    assert _row(db) == (1, None)


def test_a_newer_direct_version_replaces_a_re_shared_one_and_clears_via(tmp_path: Path) -> None:
    db = _db(tmp_path)
    FOREIGN_PROJECTORS[Job.KIND](db, _version(1), VIA, T0)
    project(db, _version(2), T0)
    assert _row(db) == (2, None)


def test_an_older_direct_version_changes_nothing_but_via(tmp_path: Path) -> None:
    db = _db(tmp_path)
    FOREIGN_PROJECTORS[Job.KIND](db, _version(2), VIA, T0)
    project(db, _version(1), T0)
    assert _row(db) == (2, None)
    assert next(db.query("SELECT title FROM jobs"))["title"] == "Driver v2"


def test_re_shared_versions_keep_the_first_partner_they_came_through(tmp_path: Path) -> None:
    db = _db(tmp_path)
    FOREIGN_PROJECTORS[Job.KIND](db, _version(1), VIA, T0)
    FOREIGN_PROJECTORS[Job.KIND](db, _version(2), OTHER, T0)
    assert _row(db) == (2, VIA)
