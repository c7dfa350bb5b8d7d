"""Issue 10 item 7: a full disk. Every refused write says "disk full" (the CLI with its message and
exit code, the node's log with one WARNING per episode, a peer with HTTP 507 ``disk-full``); nothing
half-written is stored; reads keep being served; when space returns, writes succeed again without a
restart and every statement a peer sent while the disk was full arrives, once.

The disk is made full for real on the node's own SQLite connection (tests/faults/disk.py): the old
code answered these writes ``internal`` (500, "internal error (OperationalError)").
"""

from __future__ import annotations

import asyncio
import logging

from node.cli.main import main
from node.core.disk import EXIT_DISK_FULL
from protocol.bodies import Note
from tests.conftest import make_home
from tests.faults import disk
from tests.node.federation_helpers import PUSH, head, health, ids_from, integrity_ok, pair, signed_post, wait_until
from tests.node.federation_helpers import batch_of as _batch_of

BIG = "y" * 4000  # a row larger than a page: it needs fresh (overflow) pages, which a full file cannot give


def events(caplog, name: str, level: int | None = None) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == name and (level is None or r.levelno == level)]


async def test_a_peer_gets_507_disk_full_and_every_statement_arrives_once_space_returns(net, caplog):
    caplog.set_level(logging.INFO, logger="orgnode")
    a = await net.start("A")
    b = await net.start("B")
    await pair(a, b)
    a.federation.append(Note.KIND, Note("before the disk filled").to_value(), private=True)
    await wait_until(lambda: head(b, a) == head(a, a), 10, what="the positive control to arrive")

    disk.fill(b)
    held_before = head(b, a)
    made = [a.federation.append(Note.KIND, Note(f"while B's disk is full {i} {BIG}").to_value(), private=True)
            for i in range(20)]
    await wait_until(lambda: b.service.disk.refused_writes >= 3, 20, what="B to refuse several writes")
    # The sending peer's view: a typed, retry-later answer (not a 500), and its sender only deferred.
    raw = await signed_post(b, PUSH, _batch_of(a.federation.envelope_for(made[0], b.service.node_id)), a.service.identity)
    assert (raw.status, raw.error) == (507, "disk-full"), raw.body[:200]
    await wait_until(lambda: events(caplog, "push.deferred"), 20, what="A's sender to defer on disk-full")
    assert not events(caplog, "federation.error"), "a full disk was reported as an internal error"
    # Nothing half-written; reads are still served.
    assert head(b, a) == held_before and await health(b)
    assert len(events(caplog, "disk.full", logging.WARNING)) == 1, "one warning per episode, not per write"

    disk.free(b)
    await wait_until(lambda: head(b, a) == head(a, a), 30, what="every statement to arrive once space returned")
    held = ids_from(b, a)
    assert len(held) == len(set(held)) == head(a, a) and {s.id for s in made} <= set(held)
    assert len(events(caplog, "disk.full", logging.WARNING)) == 1
    assert len(events(caplog, "disk.recovered")) == 1
    assert integrity_ok(b.service.home.db_path)


async def test_the_cli_says_disk_full_with_its_exit_code_and_changes_nothing(net, caplog, capsys):
    caplog.set_level(logging.INFO, logger="orgnode")
    b = await net.start("B")
    home = b.service.home.path
    # Positive control: the same command works on a disk with room.
    assert await asyncio.to_thread(main, ["--home", str(home), "note", "post", f"room to spare {BIG}"]) == 0
    seq = head(b, b)

    disk.fill(b)
    capsys.readouterr()
    code = await asyncio.to_thread(main, ["--home", str(home), "note", "post", f"no room {BIG}"])
    err = capsys.readouterr().err
    assert code == EXIT_DISK_FULL
    assert f"the disk holding {home} is full: free space, then retry; nothing was changed" in err
    assert "internal error" not in err and "OperationalError" not in err
    assert head(b, b) == seq, "a refused write left something behind"
    assert await asyncio.to_thread(main, ["--home", str(home), "status"]) == 0  # reads keep working
    assert await asyncio.to_thread(main, ["--home", str(home), "note", "post", f"still no room {BIG}"]) == EXIT_DISK_FULL
    assert len(events(caplog, "disk.full", logging.WARNING)) == 1

    disk.free(b)
    assert await asyncio.to_thread(main, ["--home", str(home), "note", "post", f"room again {BIG}"]) == 0
    assert head(b, b) == seq + 1
    assert len(events(caplog, "disk.recovered")) == 1


async def test_a_backup_onto_a_full_disk_says_disk_full_naming_that_file(tmp_path, capsys):
    """A file write (not SQLite) on a really full filesystem: ``ENOSPC`` becomes the same message and
    exit code, naming the disk of the file written; no partial file is left; with room it works."""
    service = make_home(tmp_path, "E")
    home = service.home.path
    service.close()
    with disk.small_tmpfs(tmp_path / "small") as small:
        filler = disk.fill_disk(small, leave=0)
        target = small / "e.backup"
        code = await asyncio.to_thread(main, ["--home", str(home), "backup", str(target)])
        err = capsys.readouterr().err
        assert code == EXIT_DISK_FULL, err
        assert f"the disk holding {target} is full: free space, then retry; nothing was changed" in err
        assert sorted(p.name for p in small.iterdir()) == ["filler"], "a partial backup was left behind"
        filler.unlink()
        assert await asyncio.to_thread(main, ["--home", str(home), "backup", str(target)]) == 0
        assert target.stat().st_size > 0


def test_orgnode_run_on_a_full_disk_says_disk_full_not_restore_a_backup(tmp_path):
    """acc10: a home on a full filesystem made `orgnode run` say "disk I/O error; if the file is damaged,
    restore the home from a backup" (SQLite gives SQLITE_IOERR there, not SQLITE_FULL): now the disk-full
    message and exit 75; with room again the same home opens (the file was never damaged)."""
    from tests.e2e.cli_helpers import orgnode

    with disk.small_tmpfs(tmp_path / "small") as small:
        home = small / "h"
        orgnode("--home", str(home), "init", "--name", "Full Org", "--sector", "other", "--listen", "127.0.0.1:9")
        filler = disk.fill_disk(small, leave=0)
        result = orgnode("--home", str(home), "run", check=False)
        assert result.returncode == EXIT_DISK_FULL, result.stderr
        assert f"the disk holding {home} is full" in result.stderr and "restore" not in result.stderr, result.stderr
        filler.unlink()
        assert orgnode("--home", str(home), "log", "--json").returncode == 0  # positive control: room again, it opens


def test_restore_onto_a_full_disk_says_disk_full(tmp_path):
    """acc10: `orgnode restore … --home` on a full disk gave "internal error: OSError: [Errno 28]"."""
    from tests.e2e.cli_helpers import orgnode

    home = tmp_path / "h"
    orgnode("--home", str(home), "init", "--name", "Full Org", "--sector", "other", "--listen", "127.0.0.1:9")
    orgnode("--home", str(home), "backup", str(tmp_path / "h.bak"))
    with disk.small_tmpfs(tmp_path / "small") as small:
        filler = disk.fill_disk(small, leave=0)
        result = orgnode("restore", str(tmp_path / "h.bak"), "--home", str(small / "new"), check=False)
        assert result.returncode == EXIT_DISK_FULL, result.stderr
        assert "is full: free space, then retry" in result.stderr and "internal error" not in result.stderr, result.stderr
        assert sorted(p.name for p in small.iterdir()) == ["filler"], "a partial restore was left behind"
        filler.unlink()
        orgnode("restore", str(tmp_path / "h.bak"), "--home", str(small / "new"))  # positive control
        assert (small / "new" / "orgnode.db").exists()
