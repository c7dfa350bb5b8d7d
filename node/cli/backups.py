"""``orgnode backup`` and ``orgnode restore`` (issue 10 item 2): a whole home in one file, never forking.

A running node snapshots its own database (admin ``POST /backup``, SQLite online backup API); with
no node running the CLI snapshots the file itself through the same API. The key files and the
config are added as they are (the keys stay protected by the node's own passphrase, if any).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli.common import admin, command, emit, home_of
from node.core.errors import NodeNotRunning, UserError

if TYPE_CHECKING:
    from node.home import Home


def read_passphrase(args: argparse.Namespace, confirm: bool) -> str:
    """The backup passphrase: from --passphrase-file (the one reader of node/passphrase.py: mode 0600
    required, the whole file minus one trailing newline, as for key files), else asked on the terminal."""
    if args.passphrase_file:
        from node.passphrase import read_passphrase_file

        phrase = read_passphrase_file(Path(args.passphrase_file))
    else:
        from node.passphrase import prompt_secret

        phrase = prompt_secret("backup passphrase: ", flag="--passphrase-file", what="the backup passphrase", confirm=confirm)
    if len(phrase) < 8:
        raise UserError("the backup passphrase must be at least 8 characters")
    return phrase


def staging_dir(home: Home) -> Path:
    """A new private folder in ``<home>/backup-staging/`` (0700) for the snapshot: inside the home, the
    running node can write it even under the unit's PrivateTmp=yes (the CLI's /tmp is not the node's)."""
    from node.safe_files import check_private_dir

    staging = home.backup_staging
    try:
        staging.mkdir(mode=0o700, exist_ok=True)
        check_private_dir(staging, "backup staging folder")
        return Path(tempfile.mkdtemp(prefix="orgnode-backup-", dir=staging))
    except OSError as exc:
        raise UserError(f"cannot make a folder in {staging} for the snapshot: {exc.strerror}; run `orgnode backup` as "
                        "the node's user (the owner of the home)") from exc


def snapshot(args: argparse.Namespace, home: Home, dest: Path) -> bool:
    """Write a consistent copy of the database to ``dest``; True when the running node made it."""
    from storage.backup import copy_database_file

    try:
        admin(args).call("POST", "/backup", {"path": str(dest)}, timeout=600)
        return True
    except NodeNotRunning:
        if not home.db_path.exists():
            raise UserError(f"{home.db_path} does not exist: nothing to back up; give the home of an initialised node") from None
        copy_database_file(home.db_path, dest)
        return False


def cmd_backup(args: argparse.Namespace) -> int:
    from node.backup import pack, write_backup
    from node.home import Home

    home = Home(home_of(args))
    home.require()
    target = Path(args.file)
    passphrase = read_passphrase(args, confirm=True) if args.encrypt or args.passphrase_file else None
    work = staging_dir(home)
    try:
        live = snapshot(args, home, work / "orgnode.db")
        write_backup(target, pack(home, work / "orgnode.db"), passphrase)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(OSError):
            home.backup_staging.rmdir()  # only when empty: another backup may be running
    data: dict[str, Any] = {"file": str(target), "encrypted": passphrase is not None, "node_running": live}
    emit(args, data, f"Backed up {home.path} to {target}" + (" (encrypted)" if passphrase else " (NOT encrypted: it holds the keys; "
         "keep it safe, or use --encrypt)") + f"\nRestore with `orgnode restore {target} --home NEW_HOME`")
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from node.backup import restore
    from node.home import Home

    if not getattr(args, "home", None):  # never the default home: that may be a live node's
        raise UserError(f"give the new home explicitly: `orgnode restore {args.file} --home NEW` (a new or empty directory)")
    home = Home(Path(args.home).absolute())
    source = Path(args.file)
    try:
        blob = source.read_bytes()
    except OSError as exc:
        raise UserError(f"cannot read {source}: {exc.strerror}") from exc
    passphrase = None
    if blob.startswith(b"ORGNODE-BACKUP-ENC-1\n"):
        passphrase = read_passphrase(args, confirm=False)
    elif args.passphrase_file and blob.startswith(b"ORGNODE-BACKUP-1\n"):
        # Not refused (the restore is still right), but said: the admin may believe the file is protected.
        print(f"warning: {source} is not encrypted: --passphrase-file {args.passphrase_file} is not needed and was not used",
              file=sys.stderr)
    info = restore(blob, home, passphrase, int(time.time() * 1000))
    emit(args, {"home": str(home.path), "encrypted": info.encrypted, "files": list(info.files), "restored": True},
         f"Restored {source} into {home.path}.\nIt is marked restored: before it signs anything new it relearns its own "
         f"log from its partners (start it with `orgnode --home {home.path} run`).")
    return 0


def cmd_restore_done(args: argparse.Namespace) -> int:
    if not args.force:
        raise UserError("this ends the resync after a restore before every partner answered; a partner that still holds "
                        "newer records of ours will then see a fork (two histories of this node). If that partner is gone for good, add --force")
    data = admin(args).call("POST", "/restore/done", {"force": True})
    emit(args, data, "The node signs again (logged as an override)." if data["was_pending"]
         else "Nothing to do: this node was not waiting for a resync.")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    p = command(sub, common, "backup", cmd_backup,
                "write the node's database, keys and config to one file (consistent while the node runs)")
    p.add_argument("file", metavar="FILE", help="the backup file to write (mode 0600; replaced if it exists)")
    p.add_argument("--encrypt", action="store_true", help="encrypt the backup with a passphrase (asked twice on the terminal)")
    p.add_argument("--passphrase-file", metavar="FILE", help="read the backup passphrase from FILE (mode 0600; the whole file, one trailing newline dropped; implies --encrypt)")

    p = command(sub, common, "restore", cmd_restore,
                "restore a backup into a new, empty home given by --home (the restored node resyncs its own log before signing)")
    p.add_argument("file", metavar="FILE", help="a file written by `orgnode backup`")
    p.add_argument("--passphrase-file", metavar="FILE", help="read the backup passphrase from FILE (mode 0600; the whole file, one trailing newline dropped)")

    p = command(sub, common, "restore-done", cmd_restore_done,
                "let a restored node sign again before every partner answered its resync (logged)")
    p.add_argument("--force", action="store_true", help="required: confirm that the partners not yet heard from are gone for good")
