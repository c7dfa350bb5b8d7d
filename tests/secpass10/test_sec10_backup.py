"""sec10 findings on `orgnode backup` / `orgnode restore` (run through the real CLI, as an admin would)."""

from __future__ import annotations

import io
import os
import tarfile

from node.backup import MAGIC_PLAIN
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json


def _init(home):
    return orgnode_json("--home", str(home), "init", "--name", "Sec Ten", "--sector", "nonprofit",
                        "--listen", f"127.0.0.1:{free_port()}")


def test_a_world_readable_backup_passphrase_file_is_refused(tmp_path):
    home = tmp_path / "a"
    _init(home)
    phrase = tmp_path / "phrase"
    phrase.write_text("correct horse battery\n")
    os.chmod(phrase, 0o644)  # readable by every local user: they can decrypt the backup (keys included)
    made = orgnode("--home", str(home), "backup", str(tmp_path / "a.bak"), "--passphrase-file", str(phrase), check=False)
    assert made.returncode != 0 and "chmod 600" in made.stderr, (made.returncode, made.stderr)
    assert not (tmp_path / "a.bak").exists()


def test_a_backup_with_a_duplicated_entry_is_refused_in_plain_words(tmp_path):
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for data in (b"first", b"second"):
            info = tarfile.TarInfo("orgnode.db")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    evil = tmp_path / "evil.bak"
    evil.write_bytes(MAGIC_PLAIN + out.getvalue())
    done = orgnode("restore", str(evil), "--home", str(tmp_path / "new"), check=False)
    assert done.returncode != 0
    assert "internal error" not in done.stderr and "unexpected entry" in done.stderr, done.stderr
    assert not (tmp_path / "new").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".orgnode-restore-")]
