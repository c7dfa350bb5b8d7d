"""CLI commands for this node's own keys: rotating the signing key (through the running node, which
signs the rotation) and changing the key files' passphrase (offline: it rewrites the key files, so it
refuses while the node runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from node.cli.common import admin, command, emit, group, home_of, passphrase_file, passphrase_option
from node.core.errors import NodeNotRunning, UserError


def cmd_key_rotate(args: argparse.Namespace) -> int:
    data = admin(args).call("POST", "/key/rotate", {})
    emit(args, data, f"Signing key changed (log entry #{data['seq']}); new key {data['new_key'][:16]}…\n"
                         "Partners accept records signed with the new key once they have this change; "
                         "older records still verify under the old key.")
    return 0


def cmd_key_passphrase(args: argparse.Namespace) -> int:
    """Re-encrypt every private key file (all or nothing: ``Home.change_passphrase``) with the node stopped."""
    from node.home import Home  # imported here: `orgnode --help` loads no home code (bench.startup)
    from node.passphrase import new_passphrase

    home = Home(home_of(args))
    home.require()
    try:
        admin(args).call("GET", "/status", timeout=3.0)
    except NodeNotRunning:
        pass
    else:
        raise UserError("the node is running and holds the keys: stop the node first (`systemctl stop orgnode`, or Ctrl-C "
                        "the `orgnode run`), change the passphrase, then start it again")
    old = home.unlock(passphrase_file(args))
    new_file = Path(args.new_passphrase_file) if args.new_passphrase_file else None
    if args.remove and new_file is not None:
        raise UserError("give either --remove or --new-passphrase-file, not both")
    new = None if args.remove else new_passphrase(new_file)
    paths = home.change_passphrase(old, new)
    data = {"files": [str(p) for p in paths], "encrypted": new is not None}
    how = ("with the new passphrase: give it to the node the way you gave the old one (--passphrase-file, the systemd "
           "credential, or ORGNODE_PASSPHRASE)" if new else "WITHOUT a passphrase: anyone who can read them can act as this node")
    emit(args, data, f"Re-encrypted {len(paths)} key file(s) in {home.keys_dir} {how}.")
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ksub = group(sub, common, "key", "manage this node's keys")
    command(ksub, common, "rotate", cmd_key_rotate, "replace the signing key (peers follow via a signed rotation)",
            description="replace the signing key")
    q = command(ksub, common, "passphrase", cmd_key_passphrase,
                "change, set or remove the passphrase of the key files (the node must be stopped)")
    q.add_argument("--new-passphrase-file", metavar="FILE", help="read the new passphrase from FILE (mode 0600); default: asked twice")
    q.add_argument("--remove", action="store_true", help="store the keys without a passphrase")
    passphrase_option(q)
