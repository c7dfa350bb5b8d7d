"""Issue 10 item 7: a failed start cleans up what it started, and the next start needs no manual cleanup.

Each test makes one step of starting fail for real (the federation port taken, the admin socket held
by another process, the database locked by another process, the disk full while migrating), checks
that nothing is left (no listening port, no admin socket or pid file, no open database handle), then
removes the cause and starts the same home again in the same test, and checks it serves.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from node.core.errors import StorageFull, UserError
from node.core.service import NodeService
from node.runtime import NodeRuntime
from storage import db as storage_db
from tests.conftest import make_home
from tests.faults.disk import fill_disk, small_tmpfs
from tests.node.federation_helpers import health
from tests.node.test_runtime_start import accepts, our_tasks


def open_handles(path: Path) -> list[str]:
    """This process's open file descriptors on ``path`` (the database, its WAL or shm)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            if os.readlink(f"/proc/self/fd/{fd}").startswith(str(path)):
                found.append(fd)
    return found


def nothing_left(service: NodeService) -> None:
    port = service.config.listen_port
    assert not accepts(port), "the federation port is still listening"
    assert not service.home.admin_socket.exists(), "the admin socket file was left behind"
    assert not service.home.pid_path.exists(), "the pid file was left behind"
    assert our_tasks() == [], "background tasks still run"


async def serves_again(home: Path) -> None:
    """The next start over the same home, with no manual cleanup, serves."""
    service = NodeService.open(home)
    runtime = NodeRuntime(service)
    try:
        await runtime.start()
        assert await health(runtime)
        assert service.home.pid_path.is_file() and service.home.admin_socket.exists()
    finally:
        await runtime.stop()
        service.close()


async def test_port_taken_then_freed(tmp_path):
    service = make_home(tmp_path, "A")
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", service.config.listen_port))
    blocker.listen()
    try:
        with pytest.raises(UserError, match="cannot listen on"):
            await NodeRuntime(service).start()
        blocker.close()
        nothing_left(service)
    finally:
        blocker.close()
        service.close()
    assert open_handles(service.home.db_path) == []
    await serves_again(service.home.path)


async def test_admin_socket_held_by_a_live_process_then_a_stale_one(tmp_path):
    """A live listener on the admin socket (a second node) is refused before anything binds; once it
    is gone its socket file stays behind, as after kill -9, with a stale pid file: the next start
    replaces both on its own."""
    service = make_home(tmp_path, "B")
    sock_path = service.home.admin_socket
    other = socket.socket(socket.AF_UNIX)
    other.bind(str(sock_path))
    other.listen()
    try:
        with pytest.raises(UserError, match="already running"):
            await NodeRuntime(service).start()
        assert not accepts(service.config.listen_port) and our_tasks() == []
    finally:
        other.close()  # the file stays: a stale socket
        service.close()
    assert sock_path.exists()
    service.home.pid_path.write_text("999999\n")  # a killed node's pid file
    await serves_again(service.home.path)


async def test_database_locked_by_another_process_is_a_clear_error_and_leaves_nothing_open(tmp_path, monkeypatch):
    monkeypatch.setattr(storage_db, "MIGRATION_LOCK_WAIT_S", 1.0)  # the error path, without 20 s of retries
    service = make_home(tmp_path, "C")
    home = service.home
    service.close()
    locker = subprocess.Popen(  # another process holding the database locked (an sqlite3 shell, a stuck tool)
        ["python3", "-c", "import sqlite3,sys; c=sqlite3.connect(sys.argv[1], isolation_level=None); "
         "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE'); "
         "c.execute('CREATE TABLE IF NOT EXISTS lock_probe (x)'); print('locked', flush=True); sys.stdin.read()",
         str(home.db_path)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match="locked by another process") as failure:
            NodeService.open(home.path)
        assert "restore" not in str(failure.value), "a locked database is not a reason to restore a backup"
        assert open_handles(home.db_path) == [], "the failed open left the database open"
    finally:
        assert locker.stdin is not None
        locker.stdin.close()
        locker.wait(10)
    await serves_again(home.path)


async def test_disk_full_while_migrating_leaves_nothing_open_and_the_next_start_migrates(tmp_path):
    """A home one schema version behind (migration 013 undone) opened on a really full disk (a 2 MB
    tmpfs): the migration is refused as ``StorageFull``, nothing of it is kept, the file is closed;
    once space is freed the same home migrates and serves."""
    with small_tmpfs(tmp_path / "disk") as disk:
        service = make_home(disk, "D")
        home = service.home
        service.close()
        with contextlib.closing(sqlite3.connect(home.db_path, isolation_level=None)) as conn:
            conn.execute("DROP TABLE withdrawal_deliveries")
            conn.execute("ALTER TABLE foreign_statements DROP COLUMN charged_to")
            conn.execute("DELETE FROM migrations WHERE name = '013_withdrawal_deliveries'")
        filler = fill_disk(disk, leave=36 * 1024)  # room for SQLite's shared-memory file, not for the WAL
        with pytest.raises(StorageFull):
            NodeService.open(home.path)
        assert open_handles(home.db_path) == [], "the failed migration left the database open"
        filler.unlink()  # space returns
        await serves_again(home.path)
        with contextlib.closing(sqlite3.connect(home.db_path)) as conn:
            assert conn.execute("SELECT count(*) FROM migrations WHERE name = '013_withdrawal_deliveries'").fetchone()[0] == 1
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
