"""Upgrades from every schema that was ever the latest on main (issue 10 item 8).

The fixtures in tests/fixtures/schema/ were written by the released code of each version
(tests/fixtures/build_schema_fixtures.py drives its real CLI). Opening one with this code must
migrate it to the latest schema with the data intact and usable; a migration killed or failing
half-way must leave the file at the schema before it, never between; and a file from a newer
orgnode must be refused without being touched.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import sqlite_utils

from protocol.statement import Envelope
from storage.db import MIGRATIONS, SchemaTooNew, applied_migrations, connect, migrate
from storage.log_store import LogStore
from storage.peers import TRUSTED, PeerStore
from storage.talent import TalentStore

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "schema"
VERSIONS = sorted(p.name for p in FIXTURES.iterdir() if (p / "manifest.json").exists())
LATEST = [name for name, _ in MIGRATIONS]


def test_there_is_a_fixture_for_every_released_schema():
    """Positive control for the parametrisation: every version the builder knows has a fixture."""
    sys.path.insert(0, str(REPO / "tests" / "fixtures"))
    try:
        from build_schema_fixtures import VERSIONS as BUILT
    finally:
        sys.path.pop(0)
    assert VERSIONS == sorted(BUILT) and len(VERSIONS) >= 15


def released_schemas() -> set[tuple[str, ...]]:
    """Every set of migrations that was ever the schema on this branch's first-parent history (main's,
    once merged): read from storage/db.py and storage/migrations.py at each commit that changed them."""
    import re

    def git(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=60)

    log = git("log", "--first-parent", "--format=%H", "HEAD", "--", "storage/db.py", "storage/migrations.py")
    if log.returncode != 0 or not log.stdout.strip():
        pytest.skip("no git history here (a source archive): cannot list the released schemas")
    found = set()
    for commit in log.stdout.split():
        names: set[str] = set()
        for path in ("storage/db.py", "storage/migrations.py"):
            text = git("show", f"{commit}:{path}").stdout
            table = re.search(r"MIGRATIONS[^=\n]*=\s*\[(.*?)\n\]", text, re.S)
            names |= set(re.findall(r'\(\s*"(\d{3}_\w+)"', table.group(1))) if table else set()
        if names:
            found.add(tuple(sorted(names)))
    return found


def test_every_schema_in_the_history_has_a_fixture():
    """acc10: the schema whose latest migration was 013 had no fixture (the builder was written while
    it was the current one, and listed only earlier ones). Now every set of migrations that was ever
    the schema on main's first-parent history, the current one included, has a fixture written by
    a commit with exactly that set."""
    fixtures = {tuple(json.loads((FIXTURES / v / "manifest.json").read_text())["a"]["migrations"]) for v in VERSIONS}
    schemas = released_schemas()
    assert tuple(LATEST) in schemas, "positive control: the history includes the current schema"
    missing = sorted(schemas - fixtures, key=len)
    assert not missing, f"schemas with no fixture (add them to VERSIONS in build_schema_fixtures.py): {missing}"


def fixture(tmp_path: Path, version: str) -> tuple[Path, dict[str, Any]]:
    target = tmp_path / version
    shutil.copytree(FIXTURES / version, target)
    return target, json.loads((target / "manifest.json").read_text())


def schema_of(path: Path) -> list[tuple[str, str]]:
    """Every table and index definition, read without migrating (plain sqlite3, read-only)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return sorted(conn.execute("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))


def recorded(path: Path) -> list[str]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return [r[0] for r in conn.execute("SELECT name FROM migrations ORDER BY name")]


def own_log_verifies(log: LogStore, node_id: bytes) -> int:
    """Replay the node's own log: every signature and body commitment checks, seq 1.. with no gap,
    each statement chained to the previous one. Returns its length."""
    previous: bytes | None = None
    statements = log.statements(node_id)
    for seq, statement in enumerate(statements, start=1):
        opened = Envelope.decode(Envelope.of(statement).encode()).open_plain()
        assert opened.id == statement.id and statement.author == node_id
        assert statement.seq == seq and statement.header.prev == previous
        previous = statement.id
    assert log.head(node_id).seq == len(statements)
    return len(statements)


@pytest.mark.parametrize("version", VERSIONS)
def test_fixture_migrates_to_latest_with_its_data(tmp_path, version):
    home, manifest = fixture(tmp_path, version)
    # An old schema, or (one fixture at most, test_every_schema_in_the_history_has_a_fixture) today's: that
    # one must open with nothing to migrate and the same checks, until the next migration makes it old.
    assert recorded(home / "a" / "orgnode.db") == manifest["a"]["migrations"] and set(manifest["a"]["migrations"]) <= set(LATEST)
    current = [v for v in VERSIONS if json.loads((FIXTURES / v / "manifest.json").read_text())["a"]["migrations"] == LATEST]
    assert len(current) <= 1, current
    ids = {name: bytes.fromhex(manifest[name]["node_id"]) for name in ("a", "b")}
    for name in ("a", "b"):
        db = connect(home / name / "orgnode.db")
        try:
            assert applied_migrations(db) == sorted(LATEST)
            assert [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()] == ["ok"]
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
            assert own_log_verifies(LogStore(db), ids[name]) >= 1
            if manifest.get("paired"):
                other = ids["b" if name == "a" else "a"]
                assert [p.node_id for p in PeerStore(db).trusted()] == [other]
                assert PeerStore(db).get(other).state == TRUSTED  # type: ignore[union-attr]
                assert own_log_verifies(LogStore(db), other) >= 1  # the partner's replicated log too
            check_talent(TalentStore(db), name, manifest, ids)
            assert migrate(db) == []  # opening again changes nothing
        finally:
            db.close()


def check_talent(talent: TalentStore, name: str, manifest: dict[str, Any], ids: dict[str, bytes]) -> None:
    if "job_id" in manifest["a"]:
        job = talent.job(bytes.fromhex(manifest["a"]["job_id"]), ids["a"])
        assert job is not None and job.job.title == "Fixture warehouse lead" and job.author == ids["a"]
        assert job in talent.jobs()
    if name == "b" and "candidate_id" in manifest["b"]:
        candidate_id = bytes.fromhex(manifest["b"]["candidate_id"])
        candidate = talent.candidate(candidate_id)
        assert candidate is not None and candidate.email == "ada.fixture@example.org"
        consents = talent.consents(candidate_id)
        assert len(consents) == 1 and consents[0].state == "given"
        assert set(consents[0].purposes) == {"match", "refer"} and consents[0].evidence
        assert consents[0].in_force(now=0)
    if "referral_id" in manifest["b"]:
        assert talent.referrals(), f"{name} lost its referral"
        if name == "b":
            assert talent.referral(bytes.fromhex(manifest["b"]["referral_id"])) is not None


INTERRUPT = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    import storage.db as db_module
    from storage import migrations

    victim, how = sys.argv[2], sys.argv[3]
    def wrap(name, step):
        def run(db):
            if name == victim and how.startswith("kill-after:"):  # die right after one statement of the step
                execute = db.execute
                def dying(sql, *args):
                    result = execute(sql, *args)
                    if sql.startswith(how.partition(":")[2]):
                        os.kill(os.getpid(), signal.SIGKILL)
                    return result
                db.execute = dying
            step(db)  # the step's writes are done, its transaction not yet committed
            if name == victim:
                if how == "kill":
                    os.kill(os.getpid(), signal.SIGKILL)
                raise RuntimeError("injected failure in " + name)
        return (name, run)
    db_module.MIGRATIONS[:] = [wrap(n, s) for n, s in migrations.MIGRATIONS]
    db_module.connect(Path(sys.argv[1]))
""")


@pytest.mark.parametrize("how", ["kill", "raise"])
def test_interrupted_migration_leaves_the_previous_schema(tmp_path, how):
    """From v003 the code applies 004…013; killed (SIGKILL) or failing inside 008, the file holds
    exactly 001–007 (schema identical to a clean 007 upgrade), and the next open finishes the job."""
    home, manifest = fixture(tmp_path, "v003")
    path = home / "b" / "orgnode.db"
    clean, _ = fixture(tmp_path / "clean", "v003")
    connect(clean / "b" / "orgnode.db").close()  # the uninterrupted upgrade, for comparison
    reference = tmp_path / "ref.db"  # the same file upgraded by exactly 004-007
    shutil.copy(FIXTURES / "v003" / "b" / "orgnode.db", reference)
    upto_007 = [m for m in MIGRATIONS if m[0] <= "007_jobs_by_author"]
    raw = sqlite_utils.Database(sqlite3.connect(reference, isolation_level=None))
    migrate(raw, upto_007)
    raw.close()

    result = subprocess.run([sys.executable, "-c", INTERRUPT, str(path), "008_confirmed_orgs", how],
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert result.returncode == (-9 if how == "kill" else 1), result.stderr
    if how == "raise":
        assert "injected failure in 008_confirmed_orgs" in result.stderr

    assert recorded(path) == [m[0] for m in upto_007]
    assert schema_of(path) == schema_of(reference)  # 008's tables and columns are not there
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)

    db = connect(path)  # the next start applies what is left
    try:
        assert applied_migrations(db) == sorted(LATEST)
        assert TalentStore(db).candidate(bytes.fromhex(manifest["b"]["candidate_id"])) is not None
    finally:
        db.close()
    assert schema_of(path) == schema_of(clean / "b" / "orgnode.db")  # positive control: same as uninterrupted


def future_db(tmp_path: Path) -> Path:
    path = tmp_path / "future.db"
    db = connect(path)
    db.execute("INSERT INTO migrations (name, applied_at) VALUES ('999_from_the_future', 0)")
    db.close()
    return path


def test_newer_schema_is_refused_and_left_untouched(tmp_path):
    path = future_db(tmp_path)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SchemaTooNew) as caught:
        connect(path)
    message = str(caught.value)
    assert "newer orgnode" in message and "999_from_the_future" in message and "never downgrades" in message
    assert caught.value.unknown == ["999_from_the_future"]
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert recorded(path)[-1] == "999_from_the_future"
    # Positive control: the same file without the unknown row opens.
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM migrations WHERE name = '999_from_the_future'")
    connect(path).close()


def test_migrate_refuses_a_newer_schema_even_with_a_partial_list(tmp_path):
    """``migrate`` checks what the code knows (all of MIGRATIONS), not the list it was given."""
    path = future_db(tmp_path)
    raw = sqlite_utils.Database(sqlite3.connect(path, isolation_level=None))
    with pytest.raises(SchemaTooNew):
        migrate(raw, MIGRATIONS[:3])
    raw.close()


CONCURRENT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from storage.db import applied_migrations, connect
    while time.time() < float(sys.argv[2]):  # start together
        pass
    db = connect(Path(sys.argv[1]))
    print(len(applied_migrations(db)))
""")


def test_processes_opening_an_old_file_at_once_all_succeed(tmp_path):
    """The node and a CLI command (or two nodes started by a careless script) upgrading one file at
    the same moment: each migration is applied once, by whoever takes the write lock first; the
    others wait, see it recorded and go on."""
    import time

    home, _ = fixture(tmp_path, "v003")
    path = home / "b" / "orgnode.db"
    start = str(time.time() + 1.5)
    procs = [subprocess.Popen([sys.executable, "-c", CONCURRENT, str(path), start], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env={"PYTHONPATH": str(REPO)}) for _ in range(4)]
    outcomes = [(p.wait(timeout=60), p.stdout.read().strip(), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert all(code == 0 and out == str(len(LATEST)) for code, out, _ in outcomes), outcomes
    assert recorded(path) == sorted(LATEST)


def test_killed_inside_a_table_rebuild_keeps_the_old_table(tmp_path):
    """007 rebuilds ``jobs`` (create jobs_new, copy, DROP TABLE jobs, rename): killed right after the
    DROP, the file still has the old ``jobs`` with its job, and no ``jobs_new``."""
    home, manifest = fixture(tmp_path, "v006")
    path = home / "a" / "orgnode.db"
    before = schema_of(path)
    result = subprocess.run([sys.executable, "-c", INTERRUPT, str(path), "007_jobs_by_author", "kill-after:DROP TABLE jobs"],
                            capture_output=True, text=True, env={"PYTHONPATH": str(REPO)}, timeout=60)
    assert result.returncode == -9, result.stderr
    assert recorded(path) == manifest["a"]["migrations"]
    assert schema_of(path) == before and "jobs_new" not in dict(before)
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(*) FROM jobs WHERE job_id = ?", [bytes.fromhex(manifest["a"]["job_id"])]).fetchone() == (1,)
    db = connect(path)
    try:
        assert applied_migrations(db) == sorted(LATEST)
        assert TalentStore(db).job(bytes.fromhex(manifest["a"]["job_id"]), bytes.fromhex(manifest["a"]["node_id"])) is not None
    finally:
        db.close()


def test_a_v033_database_gets_the_consent_history_index_and_its_reads_use_it(tmp_path):
    """Migration 035: the v033 fixture (written by the code of 59094dc: a candidate with recorded consent)
    opens with 035 applied, the index in place, every history read an index search instead of a scan
    of the table, and the same history as before the upgrade."""
    home, manifest = fixture(tmp_path, "v033")
    path = home / "b" / "orgnode.db"
    reads = ["SELECT state, at, note FROM consent_history WHERE consent_id = ? ORDER BY rowid",
             "SELECT consent_id, state, at, note FROM consent_history WHERE consent_id IN (?, ?) ORDER BY rowid"]

    def plans(conn: sqlite3.Connection) -> list[str]:
        return [" ".join(str(r[3]) for r in conn.execute("EXPLAIN QUERY PLAN " + sql, [b"x"] * sql.count("?"))) for sql in reads]

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as old:
        assert "035_consent_history_index" not in recorded(path)
        assert all("SCAN consent_history" in plan for plan in plans(old))  # the control: v033 scans
        before = old.execute("SELECT consent_id, state, at, note FROM consent_history ORDER BY rowid").fetchall()
    assert before, "the fixture records a consent's history"
    db = connect(path)
    try:
        assert "035_consent_history_index" in applied_migrations(db)
        assert [r[0] for r in db.execute("PRAGMA integrity_check").fetchall()] == ["ok"]
        assert all("USING INDEX consent_history_by_consent" in plan and "SCAN consent_history" not in plan
                   for plan in plans(db.conn))
        talent = TalentStore(db)
        consent_id = bytes(before[0][0])
        assert [(h.state, h.at, h.note) for h in talent.consent_history(consent_id)] == [
            (state, at, note) for cid, state, at, note in before if bytes(cid) == consent_id]
    finally:
        db.close()
