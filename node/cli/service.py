"""``orgnode service install``: a hardened systemd unit for this node, and what to run next.

The unit itself (directives, quoting) is ``node/service_unit.py``; this command finds its inputs:
the run user (never root), the absolute path of this orgnode executable, the home, the shutdown
grace from its config, and whether the keys need the passphrase credential. As root, with
/etc/systemd/system writable, it writes the unit there; otherwise it prints it (or writes
``--output``) and says which commands to run as root.
"""

from __future__ import annotations

import argparse
import grp
import os
import pwd
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from node.cli.common import command, emit, group, home_of
from node.core.errors import UserError
from node.safe_files import others_can_write_dir, write_private
from node.service_unit import DEFAULT_CREDENTIAL_PATH, SYSTEM_UNIT_PATH, UnitSpec, check_run_user, render_unit

if TYPE_CHECKING:
    from node.home import Home


def orgnode_command() -> tuple[str, ...]:
    """This orgnode, as an absolute command: the ``orgnode`` script that runs, or ``python -m node.cli.main``.

    Paths are made absolute but symlinks are kept: a virtualenv's python must be run by its own path.
    """
    script = Path(sys.argv[0])
    if script.name == "orgnode" and script.exists():
        return (str(script.absolute()),)
    beside = Path(sys.executable).parent / "orgnode"
    if beside.exists():
        return (str(beside.absolute()),)
    return (str(Path(sys.executable).absolute()), "-m", "node.cli.main")


def run_user(name: str | None) -> tuple[str, str, int]:
    """The user, group and uid the node runs as: ``name`` (must exist, not root), else whoever runs this."""
    try:
        entry = pwd.getpwnam(name) if name else pwd.getpwuid(os.getuid())
    except KeyError:
        raise UserError(f"--user {name}: no such user; create one for the node, e.g. `useradd --system --home-dir "
                        f"/var/lib/orgnode --shell /usr/sbin/nologin {name}`") from None
    check_run_user(entry.pw_name, entry.pw_uid)
    try:
        group_name = grp.getgrgid(entry.pw_gid).gr_name
    except KeyError:
        group_name = str(entry.pw_gid)
    return entry.pw_name, group_name, entry.pw_uid


def default_user(home_path: Path) -> str | None:
    """The run user when --user is not given: as root, the home's owner (root only writes or prints the unit).

    Root is never the run user; root running ``--print`` or ``--output`` without --user means "the unit
    for this home", whose owner is the one user the node accepts. A home owned by root gives no answer:
    then ``check_run_user`` refuses and says to pass --user."""
    if os.geteuid() != 0:
        return None
    try:
        owner = home_path.stat().st_uid
        return pwd.getpwuid(owner).pw_name if owner != 0 else None
    except (OSError, KeyError):
        return None


def tmp_warning(home_path: Path) -> str | None:
    """A warning when the home is under /tmp or /var/tmp: the unit's PrivateTmp=yes gives the service an
    empty private /tmp, so the node would not find its home there (and /tmp is often wiped at boot)."""
    resolved = home_path.resolve()
    for tmp in (Path("/tmp"), Path("/var/tmp")):  # noqa: S108 (only compared with, never written to)
        if resolved == tmp or tmp in resolved.parents:
            return (f"warning: the home {home_path} is under {tmp}: the service runs with PrivateTmp=yes and would not see it "
                    f"(and {tmp} may be wiped at boot); move the home, e.g. to /var/lib/orgnode, before enabling the service")
    return None


def unit_for(args: argparse.Namespace) -> tuple[str, Home, UnitSpec]:
    from node.home import MAX_UNIX_PATH, Home  # here: `orgnode --help` loads no home code (bench.startup)

    home = Home(home_of(args).absolute())
    name = args.user or default_user(home.path)
    if name is None and os.geteuid() == 0:
        raise UserError(f"as root, give --user USER: the unit (also with --print) names the unprivileged user the node runs "
                        f"as, and the home {home.path} is owned by root, so it cannot be guessed; e.g. `useradd --system "
                        f"--home-dir /var/lib/orgnode --shell /usr/sbin/nologin orgnode`, `chown -R orgnode: {home.path}`, "
                        "then --user orgnode")
    user, group_name, uid = run_user(name)
    # The home must be the run user's own (root may write the unit for it): the node refuses any other.
    config = home.load_config(owner=uid)
    if len(str(home.path.resolve() / "admin.sock")) > MAX_UNIX_PATH:
        raise UserError(f"the home path {home.path} is too long for its admin socket (at most {MAX_UNIX_PATH - 10} "
                        "characters): under the service's private /tmp the CLI could not reach it; use a shorter home")
    credential = args.passphrase_credential or (DEFAULT_CREDENTIAL_PATH if home.keys_encrypted() else None)
    spec = UnitSpec(user=user, group=group_name, command=orgnode_command(), home=str(home.path),
                    shutdown_grace=config.shutdown_grace, credential=credential, low_port=0 < config.listen_port < 1024)
    return render_unit(spec), home, spec


def print_command(args: argparse.Namespace, spec: UnitSpec, home: Home) -> str:
    """This very command with --print, every option the admin gave kept (and --user made explicit), so
    following the hint prints the same unit: the absolute orgnode, as it may not be on root's PATH."""
    words = [*spec.command, "--home", str(home.path), "service", "install", "--user", spec.user]
    if args.passphrase_credential:
        words += ["--passphrase-credential", args.passphrase_credential]
    return " ".join(shlex.quote(w) for w in [*words, "--print"])


def next_steps(target: str | None, spec: UnitSpec, home: Home, args: argparse.Namespace) -> list[str]:
    """The commands to run next, each ready to paste (paths shell-quoted)."""
    q = shlex.quote
    steps = []
    if target is None:
        steps.append(f"save this unit as {SYSTEM_UNIT_PATH} (e.g. `{print_command(args, spec, home)} | "
                     f"sudo tee {SYSTEM_UNIT_PATH}`)")
    elif target != SYSTEM_UNIT_PATH:
        steps.append(f"sudo install -m 0644 {q(target)} {SYSTEM_UNIT_PATH}")
    if spec.credential:
        steps.append(f"put the key passphrase in {spec.credential}, readable by root only: sudo install -d -m 0700 "
                     f"{Path(spec.credential).parent} && sudo sh -c 'umask 077; cat > {spec.credential}'")
    steps += ["sudo systemctl daemon-reload", "sudo systemctl enable --now orgnode",
              "sudo systemctl status orgnode", "journalctl -u orgnode -f"]
    return steps


def cmd_service_install(args: argparse.Namespace) -> int:
    unit, home, spec = unit_for(args)
    target: str | None = args.output
    if target is None and not args.print and os.geteuid() == 0 and os.access(Path(SYSTEM_UNIT_PATH).parent, os.W_OK):
        target = SYSTEM_UNIT_PATH
    if target is not None:
        path = Path(target)
        if path.exists() and not args.force:
            raise UserError(f"{path} already exists: pass --force to replace it (or --output elsewhere)")
        if os.geteuid() == 0 and (reason := others_can_write_dir(path.absolute().parent)):
            raise UserError(f"refusing to write the unit as root into {path.absolute().parent}: {reason}, who could "
                            "redirect the file; write it into a directory only root can change (e.g. /etc/systemd/system)")
        try:
            # units are read by systemd and `systemctl cat` (no secret): 0644, set on the open file before the rename
            write_private(path, unit.encode(), mode=0o644)
        except OSError as exc:
            raise UserError(f"cannot write {path}: {exc.strerror}; run as root, or use --print / --output FILE") from exc
    steps = next_steps(target, spec, home, args)
    warning = tmp_warning(home.path)
    data: dict[str, Any] = {"unit": unit, "file": target, "user": spec.user, "home": spec.home,
                            "exec_start": list(spec.command), "credential": spec.credential, "next": steps,
                            "warnings": [warning] if warning else []}
    if warning:
        print(warning, file=sys.stderr)
    if getattr(args, "json", False):
        emit(args, data, "")
        return 0
    if target is None:
        sys.stdout.write(unit)  # the unit alone on stdout, so it can be redirected; the advice on stderr
        print("\n".join(["orgnode: this is the unit for the node (not written: not root, or --print). Next, as root:",
                         *(f"  {s}" for s in steps)]), file=sys.stderr)
    else:
        print("\n".join([f"Wrote {target} (runs the node as {spec.user}, home {spec.home}). Next:", *(f"  {s}" for s in steps)]))
    return 0


def register(sub: Any, common: argparse.ArgumentParser) -> None:
    ssub = group(sub, common, "service", "run the node as a systemd service")
    p = command(ssub, common, "install", cmd_service_install,
                "write a hardened systemd unit for this node (as root: /etc/systemd/system/orgnode.service) "
                "and say how to enable it")
    p.add_argument("--user", metavar="USER", help="the unprivileged user the node runs as (default: you; as root, the home's owner; never root)")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--output", metavar="FILE", help="write the unit to FILE instead")
    where.add_argument("--print", action="store_true", help="print the unit on stdout instead of writing it")
    p.add_argument("--force", action="store_true", help="replace an existing unit file")
    p.add_argument("--passphrase-credential", metavar="FILE",
                   help=f"the root-only file systemd passes as the key passphrase (LoadCredential=; default "
                        f"{DEFAULT_CREDENTIAL_PATH} when the keys are encrypted)")
