"""sec10 finding: `orgnode service install --output FILE` as root chmods whatever FILE points to after the write.

``cmd_service_install`` calls ``write_private(path, unit)`` (which renames a temp file over ``path``)
and then ``path.chmod(0o644)``, which follows symbolic links. When root writes the unit into a
directory another user controls (``--output`` into that user's folder, e.g. the run user's home), that
user can swap ``path`` for a symlink between the rename and the chmod, and root makes the link's
target (``/etc/shadow``, a key file) world-readable. The race window is small (a real attacker
loop did not win in 4000 tries here); this test plays the winning attacker deterministically by
doing its swap right after the rename. Expected: the mode is set on the file descriptor (or with
``follow_symlinks=False``) before or instead of a path-based chmod.
"""

from __future__ import annotations

import os
import pwd
import shutil
import stat
import subprocess

import pytest

from node.cli.main import main
from tests.conftest import free_port

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (root installing a unit for another user)")


def test_service_install_output_chmod_does_not_follow_a_swapped_symlink(tmp_path, monkeypatch):
    nobody = pwd.getpwnam("nobody")
    os.chmod(tmp_path, 0o755)
    home = tmp_path / "home"
    assert main(["--home", str(home), "init", "--name", "Svc", "--sector", "nonprofit", "--listen",
                 f"127.0.0.1:{free_port()}"]) == 0
    subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(home)], check=True)
    attacker_dir = tmp_path / "bob"
    attacker_dir.mkdir()
    os.chown(attacker_dir, nobody.pw_uid, nobody.pw_gid)  # a folder the run user controls
    victim = tmp_path / "secret"
    victim.write_text("root's secret\n")
    os.chmod(victim, 0o600)
    target = attacker_dir / "orgnode.service"

    import node.safe_files as safe_files

    real_replace = os.replace

    def replace_then_attacker_swaps(src, dst):
        real_replace(src, dst)
        if os.fspath(dst) == os.fspath(target):  # the directory's owner wins the race here
            shutil.move(str(target), str(attacker_dir / "moved"))
            os.symlink(victim, target)

    monkeypatch.setattr(safe_files.os, "replace", replace_then_attacker_swaps)
    try:
        main(["--home", str(home), "service", "install", "--user", "nobody", "--output", str(target)])
    except SystemExit:
        pass
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600, oct(stat.S_IMODE(victim.stat().st_mode))


def _init_home(tmp_path):
    nobody = pwd.getpwnam("nobody")
    os.chmod(tmp_path, 0o755)
    home = tmp_path / "home"
    assert main(["--home", str(home), "init", "--name", "Svc", "--sector", "nonprofit", "--listen",
                 f"127.0.0.1:{free_port()}"]) == 0
    subprocess.run(["chown", "-R", f"{nobody.pw_uid}:{nobody.pw_gid}", str(home)], check=True)
    return home, nobody


def test_service_install_refuses_an_output_directory_another_user_controls(tmp_path, capsys):
    home, nobody = _init_home(tmp_path)
    theirs = tmp_path / "bob"
    theirs.mkdir()
    os.chown(theirs, nobody.pw_uid, nobody.pw_gid)
    assert main(["--home", str(home), "service", "install", "--user", "nobody", "--output", str(theirs / "u.service")]) != 0
    assert "belongs to another user" in capsys.readouterr().err and not (theirs / "u.service").exists()
    ours = tmp_path / "root-only"  # control: a directory only root can change is accepted
    ours.mkdir(mode=0o755)
    assert main(["--home", str(home), "service", "install", "--user", "nobody", "--output", str(ours / "u.service")]) == 0
    assert stat.S_IMODE((ours / "u.service").stat().st_mode) == 0o644


def test_the_unit_mode_is_set_before_the_rename_never_by_path_after(tmp_path, monkeypatch):
    """Even where the directory check passes, a symlink appearing after the rename is never chmodded."""
    home, _ = _init_home(tmp_path)
    out_dir = tmp_path / "units"
    out_dir.mkdir(mode=0o755)
    target, victim = out_dir / "orgnode.service", tmp_path / "secret"
    victim.write_text("root's secret\n")
    os.chmod(victim, 0o600)
    import node.safe_files as safe_files

    real_replace, seen = os.replace, []

    def replace_then_swap(src, dst):
        seen.append(stat.S_IMODE(os.stat(src).st_mode))  # the mode the file has when it is put in place
        real_replace(src, dst)
        if os.fspath(dst) == os.fspath(target):
            os.unlink(target)
            os.symlink(victim, target)

    monkeypatch.setattr(safe_files.os, "replace", replace_then_swap)
    main(["--home", str(home), "service", "install", "--user", "nobody", "--output", str(target)])
    assert seen == [0o644]
    assert stat.S_IMODE(victim.stat().st_mode) == 0o600
