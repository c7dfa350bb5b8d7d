"""``orgnode backup`` / ``orgnode restore``: one file holding the database, the key files and the config.

Format (docs/cli.md): a plain backup is ``MAGIC_PLAIN`` followed by an uncompressed tar of
``orgnode.db``, ``config.toml`` (``config.json`` in backups made before it) and ``keys/*``. An encrypted one is ``MAGIC_ENC``, a 16-byte scrypt
salt (n=2**15, r=8, p=1: memory-hard, so a stolen backup resists guessing), a 12-byte nonce and the
AES-256-GCM sealing of the tar, with the magic as associated data. The database in the tar is a
snapshot made with SQLite's online backup API (storage/backup.py), so a running node is copied
consistently. A restored home carries ``RESTORED_FLAG``: it may hold an older log than the node has
already signed, so it must not sign until it has resynced its own log from its partners.
"""

from __future__ import annotations

import io
import json
import os
import secrets
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from node.core.errors import UserError
from node.home import Home
from node.safe_files import check_parent_for_create, write_private
from storage.backup import integrity_problems
from storage.errors import full_from_os_error

MAGIC_PLAIN = b"ORGNODE-BACKUP-1\n"
MAGIC_ENC = b"ORGNODE-BACKUP-ENC-1\n"
RESTORED_FLAG = "restored.json"  # Home.restored_path
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1
SALT_LEN, NONCE_LEN = 16, 12
MAX_MEMBER = 2 * 1024**3


@dataclass(frozen=True)
class BackupInfo:
    """What ``restore`` found in a backup: enough for the admin to recognise it."""

    encrypted: bool
    files: tuple[str, ...]


def _derive(passphrase: str, salt: bytes) -> bytes:
    return Scrypt(salt=salt, length=32, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P).derive(passphrase.encode())


def seal(data: bytes, passphrase: str) -> bytes:
    """The encrypted archive: magic, salt, nonce, AES-GCM(tar) bound to the magic."""
    salt, nonce = secrets.token_bytes(SALT_LEN), secrets.token_bytes(NONCE_LEN)
    return MAGIC_ENC + salt + nonce + AESGCM(_derive(passphrase, salt)).encrypt(nonce, data, MAGIC_ENC)


def open_archive(blob: bytes, passphrase: str | None) -> tuple[bytes, bool]:
    """The tar inside a backup file and whether it was encrypted; a clear error for anything else."""
    if blob.startswith(MAGIC_PLAIN):
        return blob[len(MAGIC_PLAIN):], False
    if not blob.startswith(MAGIC_ENC):
        raise UserError("this file is not an orgnode backup (unknown header): give a file made by `orgnode backup`")
    if not passphrase:
        raise UserError("this backup is encrypted: give its passphrase (prompted, or --passphrase-file FILE)")
    head = len(MAGIC_ENC)
    salt, nonce, sealed = blob[head:head + SALT_LEN], blob[head + SALT_LEN:head + SALT_LEN + NONCE_LEN], blob[head + SALT_LEN + NONCE_LEN:]
    try:
        return AESGCM(_derive(passphrase, salt)).decrypt(nonce, sealed, MAGIC_ENC), True
    except InvalidTag as exc:
        raise UserError("cannot decrypt the backup: wrong passphrase, or the file was damaged; give the passphrase the backup was made with") from exc


def pack(home: Home, db_snapshot: Path) -> bytes:
    """The tar of the snapshot, the config and every key file (names relative to the home)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(db_snapshot, arcname=home.db_path.name, recursive=False)
        tar.add(home.config_path, arcname=home.config_path.name, recursive=False)
        for key_file in sorted(home.keys_dir.iterdir()):
            if key_file.is_file() and not key_file.is_symlink():
                tar.add(key_file, arcname=f"keys/{key_file.name}", recursive=False)
    return out.getvalue()


def write_backup(target: Path, archive: bytes, passphrase: str | None) -> None:
    write_private(target, seal(archive, passphrase) if passphrase else MAGIC_PLAIN + archive)


def _allowed(name: str) -> bool:
    if name in ("orgnode.db", "config.toml", "config.json"):  # config.json: a backup from before config.toml
        return True
    head, _, tail = name.partition("/")
    return head == "keys" and bool(tail) and "/" not in tail and tail not in (".", "..")


def _extract(archive: bytes, into: Path) -> tuple[str, ...]:
    """Write the tar's regular files into ``into``, refusing any other kind or name (no path tricks)."""
    names = []
    try:
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:") as tar:
            for member in tar.getmembers():
                if not member.isfile() or not _allowed(member.name) or member.size > MAX_MEMBER:
                    raise UserError(f"the backup holds an unexpected entry {member.name!r}: refusing it; restore only a file `orgnode backup` wrote")
                if member.name in names:
                    raise UserError(f"damaged or forged backup: unexpected entry {member.name!r} (it appears twice); "
                                    "refusing it: use another backup file")
                source = tar.extractfile(member)
                assert source is not None
                dest = into / member.name
                dest.parent.mkdir(mode=0o700, exist_ok=True)
                fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
                with os.fdopen(fd, "wb") as handle:
                    shutil.copyfileobj(source, handle)
                names.append(member.name)
    except tarfile.TarError as exc:
        raise UserError(f"the backup is damaged ({exc}): use another backup file") from exc
    missing = {"orgnode.db", "keys/signing.pem"} - set(names)
    if not {"config.toml", "config.json"} & set(names):
        missing.add("config.toml")
    if missing:
        raise UserError(f"the backup is incomplete (missing {', '.join(sorted(missing))}): use another backup file")
    return tuple(names)


def check_restore_target(home: Home) -> None:
    """Refuse a home that exists with anything in it (a live node or another node's data)."""
    if home.path.is_symlink():
        raise UserError(f"{home.path} is a symbolic link: restore into a real, new directory")
    if home.path.exists():
        if not home.path.is_dir():
            raise UserError(f"{home.path} exists and is not a directory: choose a new --home")
        if any(home.path.iterdir()):
            raise UserError(f"{home.path} is not empty (a node's home or other files): restore only into a new or "
                            "empty directory, and stop and move away any node using it first")
    else:
        check_parent_for_create(home.path)


def restore(blob: bytes, home: Home, passphrase: str | None, now_ms: int) -> BackupInfo:
    """Unpack a backup into the new ``home``: checked entirely in a staging folder, then moved in.

    Nothing is written to ``home`` unless the archive decrypts, every entry is expected and the
    database passes ``PRAGMA integrity_check``. The restored home is flagged (``RESTORED_FLAG``).
    """
    check_restore_target(home)
    archive, encrypted = open_archive(blob, passphrase)
    try:
        return _restore_into(archive, encrypted, home, now_ms)
    except OSError as exc:  # the raw writes of the restored files: a full disk says so (exit 75), not "internal error"
        if full := full_from_os_error(exc, "the restored home", home.path):
            raise full from exc
        raise


def _restore_into(archive: bytes, encrypted: bool, home: Home, now_ms: int) -> BackupInfo:
    """Stage, check and move the archive into ``home`` (see ``restore``); the staging folder never lingers."""
    parent = home.path.absolute().parent
    parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    staging = Path(tempfile.mkdtemp(prefix=".orgnode-restore-", dir=parent))
    try:
        names = _extract(archive, staging)
        problems = integrity_problems(staging / "orgnode.db")
        if problems:
            raise UserError(f"the database in the backup fails its integrity check ({problems[0][:200]}): use another backup file")
        (staging / RESTORED_FLAG).write_text(json.dumps({"restored_at_ms": now_ms}) + "\n")
        os.chmod(staging, 0o700)
        if home.path.exists():
            home.path.rmdir()  # empty, checked above
        os.replace(staging, home.path)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BackupInfo(encrypted, names)


def is_restored(home_path: Path) -> bool:
    """Whether the home was restored from a backup and has not yet resynced its own log."""
    return (home_path / RESTORED_FLAG).exists()
