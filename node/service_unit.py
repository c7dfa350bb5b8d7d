"""The hardened systemd unit ``orgnode service install`` writes (issue 10 item 5).

Rendering is pure: ``UnitSpec`` says who runs what where, ``render_unit`` returns the text. The
unit runs the node as an unprivileged user (never root) with a read-only system (``ProtectSystem=
strict``), the home as the one writable path (``ReadWritePaths=``), no new privileges, a private
/tmp and /dev, no kernel tunables, modules, logs or cgroups, and only the address families a node
uses: AF_INET/AF_INET6 (federation, and zeroconf's UDP multicast, which needs nothing more),
AF_UNIX (the admin socket) and AF_NETLINK (zeroconf's interface list, ``getifaddrs``).
``MemoryDenyWriteExecute=yes`` holds for CPython 3.11, cryptography (Rust, no cffi callbacks),
aiohttp and msgpack (C extensions without JIT) and zeroconf/ifaddr (ctypes calls, no callbacks).

Quoting follows systemd.syntax(7) and systemd.service(5): a word with a space, a quote or a
backslash is written in double quotes with ``\\`` and ``"`` escaped; ``%`` (a specifier) is written
``%%`` and, in ``ExecStart=``, ``$`` (a variable) ``$$``. A path with a control character cannot be
written in a unit at all and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from node.core.errors import UserError

UNIT_NAME = "orgnode.service"
SYSTEM_UNIT_PATH = "/etc/systemd/system/" + UNIT_NAME
DEFAULT_CREDENTIAL_PATH = "/etc/orgnode/passphrase"
CREDENTIAL_NAME = "orgnode-passphrase"  # node/passphrase.py reads $CREDENTIALS_DIRECTORY/<this>
HOME_ROOTS = ("/home", "/root", "/run/user")  # what ProtectHome= hides
RESTART_SEC = 5
STOP_MARGIN_S = 15  # TimeoutStopSec = shutdown_grace + this: systemd never SIGKILLs a node still draining
PLAIN_WORD = re.compile(r"^[A-Za-z0-9/._+\-=:@,]+$")
ADDRESS_FAMILIES = "AF_INET AF_INET6 AF_UNIX AF_NETLINK"

# Every hardening directive of the unit, in the order written (tests check each one is there).
HARDENING: tuple[tuple[str, str], ...] = (
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("PrivateTmp", "yes"),
    ("LimitCORE", "0"),  # no core file can hold the unlocked keys or the passphrase
    ("PrivateDevices", "yes"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectClock", "yes"),
    ("ProtectHostname", "yes"),
    ("RestrictAddressFamilies", ADDRESS_FAMILIES),
    ("RestrictNamespaces", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources"),
    ("SystemCallErrorNumber", "EPERM"),
    ("ProtectProc", "invisible"),
    ("PrivateMounts", "yes"),
    ("RemoveIPC", "yes"),
    ("DevicePolicy", "closed"),
    ("UMask", "0077"),
)


@dataclass(frozen=True)
class UnitSpec:
    """What the unit runs: as whom, which command, which home, and where the passphrase comes from."""

    user: str
    group: str
    command: tuple[str, ...]  # the orgnode executable (absolute), or an absolute python and "-m node.cli.main"
    home: str  # absolute
    shutdown_grace: float = 10.0
    credential: str | None = None  # the passphrase file LoadCredential= reads, when the keys are encrypted
    low_port: bool = False  # the node listens below 1024: it keeps CAP_NET_BIND_SERVICE and nothing else


def _check_path(path: str, what: str) -> str:
    if not path.startswith("/"):
        raise UserError(f"{what} must be an absolute path, got {path!r}")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        raise UserError(f"{what} {path!r} holds a control character: a systemd unit cannot name it; choose another path")
    if str(PurePosixPath(path)) != path.rstrip("/") or "/../" in path + "/" or "/./" in path + "/":
        raise UserError(f"{what} {path!r} must be a normalised absolute path (no '.', '..' or '//')")
    return path


def quote(word: str, exec_line: bool = False) -> str:
    """``word`` as one systemd word: specifiers (``%``) and, on an exec line, variables (``$``) escaped."""
    word = word.replace("%", "%%")
    if exec_line:
        word = word.replace("$", "$$")
    if PLAIN_WORD.match(word):
        return word
    return '"' + word.replace("\\", "\\\\").replace('"', '\\"') + '"'


def under_home_roots(path: str) -> bool:
    return any(path == root or path.startswith(root + "/") for root in HOME_ROOTS)


def check_run_user(user: str, uid: int) -> None:
    if uid == 0 or user == "root":
        raise UserError("refusing to run the node as root: give an unprivileged user, e.g. create one with "
                        "`useradd --system --home-dir /var/lib/orgnode --shell /usr/sbin/nologin orgnode` "
                        "and pass --user orgnode")


def render_unit(spec: UnitSpec) -> str:
    """The unit text for ``spec`` (see the module docstring for what each part is for)."""
    home = _check_path(spec.home, "the node home")
    command = [_check_path(spec.command[0], "the orgnode executable"), *spec.command[1:], "--home", home, "run"]
    for word in command:
        if any(ord(c) < 32 or ord(c) == 127 for c in word):
            raise UserError(f"{word!r} holds a control character: a systemd unit cannot carry it; give a value without it")
    exec_start = " ".join(quote(w, exec_line=True) for w in command)
    # ProtectHome=yes hides /home, /root and /run/user entirely; a home (or an orgnode installed) there
    # needs them readable, with the home itself made writable again by ReadWritePaths=.
    protect_home = "read-only" if under_home_roots(home) or under_home_roots(spec.command[0]) else "yes"
    lines = [
        f"# Written by `orgnode service install` for the node home {home}.",
        "# Enable: systemctl daemon-reload && systemctl enable --now orgnode; logs: journalctl -u orgnode",
        "[Unit]",
        "Description=orgnode federated talent-referral node",
        "Documentation=https://github.com/orgnode/orgnode/blob/main/docs/deploy.md",
        "Wants=network-online.target",
        "After=network-online.target",
        "",
        "[Service]",
        "Type=simple",
        f"User={spec.user}",
        f"Group={spec.group}",
        f"ExecStart={exec_start}",
        "Restart=on-failure",
        f"RestartSec={RESTART_SEC}",
        "KillSignal=SIGTERM",
        f"TimeoutStopSec={int(spec.shutdown_grace) + STOP_MARGIN_S}",
    ]
    if spec.credential is not None:
        credential = _check_path(spec.credential, "--passphrase-credential")
        if not PLAIN_WORD.match(credential):
            raise UserError(f"--passphrase-credential {credential!r}: use a path of letters, digits and /._-+ only "
                            f"(e.g. {DEFAULT_CREDENTIAL_PATH})")
        lines.append(f"LoadCredential={CREDENTIAL_NAME}:{credential}")
    lines += [f"{key}={value}" for key, value in HARDENING[:2]]
    lines.append(f"ProtectHome={protect_home}")
    lines.append(f"ReadWritePaths={quote(home)}")
    lines += [f"{key}={value}" for key, value in HARDENING[2:]]
    caps = "CAP_NET_BIND_SERVICE" if spec.low_port else ""
    lines += [f"CapabilityBoundingSet={caps}", f"AmbientCapabilities={caps}", "",
              "[Install]", "WantedBy=multi-user.target", ""]
    return "\n".join(lines)
