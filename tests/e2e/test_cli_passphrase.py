"""The key passphrase: one order of sources for every command, and `orgnode key passphrase` (issue 10 item 5).

Real homes made by `orgnode init` with encrypted key files, the real `orgnode` command in subprocesses.
"""

from __future__ import annotations

import fcntl
import os
import select
import subprocess
import termios
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from node.home import Home
from node.passphrase import Passphrase
from tests.e2e.cli_helpers import ORGNODE, env, orgnode, start_node

GOOD = "correct horse battery staple"
OTHER = "another long passphrase"


def secret(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


def init_locked(tmp_path: Path, name: str = "h") -> tuple[Path, Path]:
    """A home whose keys are encrypted with GOOD, given at init by --passphrase-file (with a trailing newline)."""
    home = tmp_path / name
    pw = secret(tmp_path / f"{name}.pass", GOOD + "\n")
    out = orgnode("--home", str(home), "init", "--name", "A", "--sector", "company", "--listen", "127.0.0.1:9",
                  "--passphrase-file", str(pw))
    assert "protected by the passphrase from --passphrase-file" in out.stdout
    for key in ("signing.pem", "x25519.pem", "mlkem768.pem"):
        assert b"ENCRYPTED" in (home / "keys" / key).read_bytes()
    return home, pw


def log(home: Path, *extra: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return orgnode("--home", str(home), "log", *extra, check=False, extra_env=extra_env)


def refused(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr


def test_passphrase_file_unlocks_strips_newline_and_must_be_private(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    assert log(home, "--passphrase-file", str(pw)).returncode == 0  # the file ends in "\n": stripped
    wrong = secret(tmp_path / "wrong", "not it\n")
    refused(log(home, "--passphrase-file", str(wrong)), "wrong passphrase", f"--passphrase-file {wrong}")
    pw.chmod(0o640)
    refused(log(home, "--passphrase-file", str(pw)), f"chmod 600 {pw}", "readable by other users")
    pw.chmod(0o604)
    refused(log(home, "--passphrase-file", str(pw)), f"chmod 600 {pw}")
    refused(log(home, "--passphrase-file", str(tmp_path / "absent")), "does not exist")


def test_sources_in_order_file_then_credential_then_environment(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    creds = tmp_path / "creds"
    creds.mkdir(mode=0o700)
    secret(creds / "orgnode-passphrase", GOOD)
    right_cred = {"CREDENTIALS_DIRECTORY": str(creds)}
    # The systemd credential alone, and before a wrong ORGNODE_PASSPHRASE.
    assert log(home, extra_env=right_cred).returncode == 0
    assert log(home, extra_env={**right_cred, "ORGNODE_PASSPHRASE": "wrong one"}).returncode == 0
    # --passphrase-file before a wrong credential.
    bad_creds = tmp_path / "bad"
    bad_creds.mkdir(mode=0o700)
    secret(bad_creds / "orgnode-passphrase", "wrong one\n")
    bad_cred = {"CREDENTIALS_DIRECTORY": str(bad_creds)}
    refused(log(home, extra_env=bad_cred), "wrong passphrase", "systemd credential")
    assert log(home, "--passphrase-file", str(pw), extra_env=bad_cred).returncode == 0
    # The environment when nothing else is there; a credentials directory without our credential is skipped.
    assert log(home, extra_env={"ORGNODE_PASSPHRASE": GOOD, "CREDENTIALS_DIRECTORY": str(tmp_path)}).returncode == 0
    refused(log(home, extra_env={"ORGNODE_PASSPHRASE": "wrong one"}), "wrong passphrase", "$ORGNODE_PASSPHRASE")


def test_no_source_and_no_terminal_names_the_three_ways(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    refused(log(home), "--passphrase-file", "LoadCredential=orgnode-passphrase", "ORGNODE_PASSPHRASE")
    assert log(home, "--passphrase-file", str(pw)).returncode == 0  # positive control


def run_on_terminal(args: list[str], typed: list[str], timeout: float = 30) -> tuple[int, str]:
    """Run ``orgnode ARGS`` on a new pseudo-terminal (its controlling terminal), typing each line at a prompt."""
    master, slave = os.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([*ORGNODE, *args], stdin=slave, stdout=slave, stderr=slave, env=env(), start_new_session=True,
                            preexec_fn=controlling_tty, close_fds=True)
    os.close(slave)
    seen, prompts = b"", 0
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            while prompts < len(typed) and seen.count(b": ") > prompts and seen.rstrip().endswith(b":"):
                os.write(master, typed[prompts].encode() + b"\n")
                prompts += 1
        elif proc.poll() is not None:
            break
    code = proc.wait(timeout=10)
    os.close(master)
    return code, seen.decode(errors="replace")


def test_prompt_on_a_terminal(tmp_path: Path) -> None:
    home, _ = init_locked(tmp_path)
    code, out = run_on_terminal(["--home", str(home), "log"], [GOOD])
    assert code == 0 and "key passphrase:" in out and "entry in this node's log" in out, out
    assert GOOD not in out  # not echoed
    code, out = run_on_terminal(["--home", str(home), "log"], ["wrong one"])
    assert code == 1 and "wrong passphrase" in out and "Traceback" not in out, out


def unlocks(home: Path, text: str | None) -> bool:
    try:
        Home(home).load_identity(Passphrase(text, "test") if text else None)
    except Exception:
        return False
    return True


def test_key_passphrase_change_remove_and_staged_key(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    # A staged rotation key (a crash between staging and logging a rotation) is re-encrypted too.
    Home(home).stage_signing_key(ed25519.Ed25519PrivateKey.generate(), GOOD)
    new = secret(tmp_path / "new.pass", OTHER + "\n")
    out = orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), "--new-passphrase-file", str(new))
    assert "Re-encrypted 4 key file(s)" in out.stdout
    assert not unlocks(home, GOOD) and unlocks(home, OTHER)
    assert Home(home).staged_signing_key(OTHER) is not None
    refused(log(home, "--passphrase-file", str(pw)), "wrong passphrase")
    assert log(home, "--passphrase-file", str(new)).returncode == 0
    assert not list((home / "keys").glob("*.rekey")) and not (home / "keys" / "rekey.commit").exists()
    assert all(oct(p.stat().st_mode & 0o777) == "0o600" for p in (home / "keys").iterdir())
    # Remove: the files are plain PKCS#8 and open with no passphrase at all.
    orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(new), "--remove")
    assert not any(b"ENCRYPTED" in p.read_bytes() for p in (home / "keys").glob("*.pem"))
    assert log(home).returncode == 0
    # And set one again on an unencrypted home (no old passphrase needed).
    orgnode("--home", str(home), "key", "passphrase", "--new-passphrase-file", str(new))
    assert unlocks(home, OTHER) and not unlocks(home, None)


def test_key_passphrase_is_all_or_nothing(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    new = secret(tmp_path / "new.pass", OTHER)
    # The third re-encrypted file cannot be written (its path is taken by a directory): a failure mid-way.
    blocker = home / "keys" / "mlkem768.pem.rekey"
    blocker.mkdir()
    result = orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), "--new-passphrase-file", str(new),
                     check=False)
    refused(result, "nothing was changed", "old passphrase still opens every key")
    assert unlocks(home, GOOD) and not unlocks(home, OTHER)
    assert not (home / "keys" / "signing.pem.rekey").exists() and not (home / "keys" / "rekey.commit").exists()
    assert log(home, "--passphrase-file", str(pw)).returncode == 0
    blocker.rmdir()  # positive control: the same command now goes through
    orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), "--new-passphrase-file", str(new))
    assert unlocks(home, OTHER) and not unlocks(home, GOOD)


def test_interrupted_change_after_commit_is_finished_on_next_open(tmp_path: Path) -> None:
    """A crash after rekey.commit was written but before every rename: the next open completes it."""
    home, _ = init_locked(tmp_path)
    h = Home(home)
    keys = h.keys_dir
    originals = {p.name: p.read_bytes() for p in keys.glob("*.pem")}
    h.change_passphrase(Passphrase(GOOD, "test"), OTHER)
    renewed = {p.name: p.read_bytes() for p in keys.glob("*.pem")}
    for name, data in originals.items():  # put the state back to "committed, only signing.pem renamed"
        if name != "signing.pem":
            (keys / (name + ".rekey")).write_bytes(renewed[name])
            (keys / name).write_bytes(data)
    (keys / "rekey.commit").write_text("signing.pem\nx25519.pem\nmlkem768.pem\n")
    assert unlocks(home, OTHER) and not unlocks(home, GOOD)
    assert not (keys / "rekey.commit").exists()


def test_key_passphrase_refuses_while_the_node_runs(tmp_path: Path) -> None:
    home, pw = init_locked(tmp_path)
    new = secret(tmp_path / "new.pass", OTHER)
    proc = start_node(home, extra_env={"ORGNODE_PASSPHRASE": GOOD})
    try:
        result = orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), "--new-passphrase-file",
                         str(new), check=False)
        refused(result, "stop the node first", "systemctl stop orgnode")
        assert unlocks(home, GOOD)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), "--new-passphrase-file", str(new))
    assert unlocks(home, OTHER)


def test_key_passphrase_without_terminal_names_the_file_flag(tmp_path: Path) -> None:
    """Every passphrase prompt uses node/passphrase.py's terminal check: no terminal, a one-line error naming the flag."""
    home, pw = init_locked(tmp_path)
    result = orgnode("--home", str(home), "key", "passphrase", "--passphrase-file", str(pw), check=False)
    refused(result, "--new-passphrase-file FILE", "no terminal")
    assert unlocks(home, GOOD)  # nothing changed
