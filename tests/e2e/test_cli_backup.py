"""`orgnode backup` / `orgnode restore` as an admin runs them (issue 10 item 2, parts a and b)."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node


def _init(home, name="Youth Futures"):
    return orgnode_json("--home", str(home), "init", "--name", name, "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")


def _stop(proc):
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def test_backup_of_a_running_node_restores_into_a_new_home(tmp_path):
    home = tmp_path / "a"
    init = _init(home)
    proc = start_node(home)
    try:
        orgnode("--home", str(home), "note", "post", "hello partners")
        made = orgnode_json("--home", str(home), "backup", str(tmp_path / "a.bak"))
        assert made["node_running"] is True and made["encrypted"] is False
        assert stat.S_IMODE((tmp_path / "a.bak").stat().st_mode) == 0o600
        # A restore into the live home is refused, and writes nothing.
        refused = orgnode("restore", str(tmp_path / "a.bak"), "--home", str(home), check=False)
        assert refused.returncode != 0 and "not empty" in refused.stderr
    finally:
        _stop(proc)
    new = tmp_path / "restored"
    done = orgnode_json("restore", str(tmp_path / "a.bak"), "--home", str(new))
    assert done["restored"] is True and (new / "restored.json").exists()
    assert stat.S_IMODE(new.stat().st_mode) == 0o700
    status = orgnode_json("--home", str(new), "status")
    assert status["node_id"] == init["node_id"] and status["own_statements"] == 2  # card + note
    assert sqlite3.connect(new / "orgnode.db").execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_backup_of_a_running_node_whose_home_is_given_relative_to_the_working_directory(tmp_path):
    """Found by security pass 16: `orgnode --home a backup FILE` failed while the node ran ("path must
    be an absolute file name for the database snapshot"), pushing admins to copy orgnode.db by hand."""
    home = tmp_path / "a"
    _init(home)
    proc = start_node(home)
    try:
        relative = os.path.relpath(home)
        assert not os.path.isabs(relative)
        made = orgnode_json("--home", relative, "backup", str(tmp_path / "a.bak"))
        assert made["node_running"] is True and stat.S_IMODE((tmp_path / "a.bak").stat().st_mode) == 0o600
    finally:
        _stop(proc)


def test_encrypted_backup_needs_its_passphrase_and_a_damaged_one_is_refused(tmp_path):
    home = tmp_path / "a"
    _init(home)
    phrase = tmp_path / "phrase"
    phrase.write_text("correct horse battery\n")
    wrong = tmp_path / "wrong"
    wrong.write_text("incorrect pony battery\n")
    phrase.chmod(0o600)
    wrong.chmod(0o600)
    backup = tmp_path / "a.bak"
    made = orgnode_json("--home", str(home), "backup", str(backup), "--encrypt", "--passphrase-file", str(phrase))
    assert made["node_running"] is False and made["encrypted"] is True
    blob = backup.read_bytes()
    assert b"signing" not in blob and b"SQLite format" not in blob  # keys and data are not readable
    bad = orgnode("restore", str(backup), "--home", str(tmp_path / "x"), "--passphrase-file", str(wrong), check=False)
    assert bad.returncode != 0 and "wrong passphrase" in bad.stderr
    assert not (tmp_path / "x").exists()
    damaged = tmp_path / "damaged.bak"
    damaged.write_bytes(blob[:-40] + bytes(40))
    bad = orgnode("restore", str(damaged), "--home", str(tmp_path / "y"), "--passphrase-file", str(phrase), check=False)
    assert bad.returncode != 0 and "damaged" in bad.stderr and not (tmp_path / "y").exists()
    ok = orgnode_json("restore", str(backup), "--home", str(tmp_path / "z"), "--passphrase-file", str(phrase))
    assert ok["encrypted"] is True and (tmp_path / "z" / "keys" / "signing.pem").exists()


def test_restore_refuses_a_corrupt_database_and_a_non_empty_home(tmp_path):
    home = tmp_path / "a"
    _init(home)
    orgnode("--home", str(home), "backup", str(tmp_path / "a.bak"))
    busy = tmp_path / "busy"
    busy.mkdir(mode=0o700)
    (busy / "something").write_text("x")
    bad = orgnode("restore", str(tmp_path / "a.bak"), "--home", str(busy), check=False)
    assert bad.returncode != 0 and "not empty" in bad.stderr and sorted(p.name for p in busy.iterdir()) == ["something"]
    # Corrupt the database pages inside a plain backup: the integrity check refuses it.
    blob = bytearray((tmp_path / "a.bak").read_bytes())
    start = blob.index(b"SQLite format 3")
    for i in range(start + 4096, start + 4096 * 3):
        blob[i] = 0x5A
    (tmp_path / "corrupt.bak").write_bytes(bytes(blob))
    bad = orgnode("restore", str(tmp_path / "corrupt.bak"), "--home", str(tmp_path / "c"), check=False)
    assert bad.returncode != 0 and "integrity" in bad.stderr and not (tmp_path / "c").exists()
    not_backup = tmp_path / "plain.txt"
    not_backup.write_text("hello")
    bad = orgnode("restore", str(not_backup), "--home", str(tmp_path / "d"), check=False)
    assert bad.returncode != 0 and "not an orgnode backup" in bad.stderr


def test_a_restored_node_signs_nothing_until_resynced_or_overridden(tmp_path):
    """No partner answers (it has none): the restored node refuses to sign, says why in `status`, and
    signs again only after the admin's explicit `restore-done --force`."""
    home = tmp_path / "a"
    _init(home)
    orgnode("--home", str(home), "backup", str(tmp_path / "a.bak"))
    orgnode("restore", str(tmp_path / "a.bak"), "--home", str(tmp_path / "r"))
    proc = start_node(tmp_path / "r")
    try:
        status = orgnode_json("--home", str(tmp_path / "r"), "status")
        assert status["restore_pending"] is True and status["own_statements"] == 1
        assert status["restore_reason"] == "restored"
        assert "RESTORED (with `orgnode restore`)" in orgnode("--home", str(tmp_path / "r"), "status").stdout
        refused = orgnode("--home", str(tmp_path / "r"), "note", "post", "too early", check=False)
        assert refused.returncode != 0 and "restored from a backup (`orgnode restore`)" in refused.stderr
        no_force = orgnode("--home", str(tmp_path / "r"), "restore-done", check=False)
        assert no_force.returncode != 0 and "--force" in no_force.stderr
        assert orgnode_json("--home", str(tmp_path / "r"), "status")["own_statements"] == 1
        done = orgnode_json("--home", str(tmp_path / "r"), "restore-done", "--force")
        assert done["was_pending"] is True
        orgnode("--home", str(tmp_path / "r"), "note", "post", "now it may")  # positive control
        status = orgnode_json("--home", str(tmp_path / "r"), "status")
        assert status["restore_pending"] is False and status["own_statements"] == 2
    finally:
        _stop(proc)
    log = proc.stderr.read()
    assert '"event": "restore.resynced"' in log and '"reason": "override"' in log


def test_backup_encrypt_without_terminal_is_a_clear_error(tmp_path):
    """acc10: `backup --encrypt </dev/null` crashed with GetPassWarning and "internal error: EOFError" (exit 70)."""
    home = tmp_path / "a"
    _init(home)
    refused = orgnode("--home", str(home), "backup", str(tmp_path / "x.bak"), "--encrypt", check=False)
    assert refused.returncode == 1, (refused.returncode, refused.stderr)
    assert "internal error" not in refused.stderr and "GetPassWarning" not in refused.stderr
    assert "--passphrase-file FILE" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.bak").exists()
    # Positive control: the same backup with the file works.
    phrase = tmp_path / "phrase"
    phrase.write_text("backuppass9\n")
    phrase.chmod(0o600)
    assert orgnode_json("--home", str(home), "backup", str(tmp_path / "x.bak"), "--passphrase-file", str(phrase))["encrypted"]


def test_restore_encrypted_without_terminal_is_a_clear_error(tmp_path):
    """acc10: `restore enc.bak --home NEW </dev/null` crashed the same way."""
    home = tmp_path / "a"
    _init(home)
    phrase = tmp_path / "phrase"
    phrase.write_text("backuppass9\n")
    phrase.chmod(0o600)
    orgnode("--home", str(home), "backup", str(tmp_path / "x.bak"), "--passphrase-file", str(phrase))
    refused = orgnode("restore", str(tmp_path / "x.bak"), "--home", str(tmp_path / "new"), check=False)
    assert refused.returncode == 1, (refused.returncode, refused.stderr)
    assert "internal error" not in refused.stderr and "--passphrase-file FILE" in refused.stderr
    assert not (tmp_path / "new").exists()
    assert orgnode_json("restore", str(tmp_path / "x.bak"), "--home", str(tmp_path / "new"), "--passphrase-file", str(phrase))["restored"]


def test_restore_of_a_plain_backup_says_the_passphrase_file_is_not_used(tmp_path):
    """acc10: `restore plain.bak --passphrase-file F` silently ignored F; now a warning (the restore still happens)."""
    home = tmp_path / "a"
    _init(home)
    orgnode("--home", str(home), "backup", str(tmp_path / "plain.bak"))
    phrase = tmp_path / "phrase"
    phrase.write_text("backuppass9\n")
    phrase.chmod(0o600)
    done = orgnode("restore", str(tmp_path / "plain.bak"), "--home", str(tmp_path / "new"), "--passphrase-file", str(phrase))
    assert "not encrypted" in done.stderr and "not needed" in done.stderr and "--passphrase-file" in done.stderr
    assert (tmp_path / "new" / "orgnode.db").exists()
    # Control: an encrypted restore with its file gives no such warning.
    orgnode("--home", str(home), "backup", str(tmp_path / "enc.bak"), "--passphrase-file", str(phrase))
    quiet = orgnode("restore", str(tmp_path / "enc.bak"), "--home", str(tmp_path / "new2"), "--passphrase-file", str(phrase))
    assert "not needed" not in quiet.stderr
