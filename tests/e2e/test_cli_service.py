"""`orgnode service install` writes a hardened systemd unit that systemd parses as meant (issue 10 item 5).

The unit is read back with a small parser that follows systemd's quoting (and, where the machine has
it, checked with `systemd-analyze verify`); the homes are real ones made by `orgnode init`.
"""

from __future__ import annotations

import json
import os
import pwd
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from node.service_unit import ADDRESS_FAMILIES, HARDENING, UnitSpec, render_unit, under_home_roots
from tests.e2e.cli_helpers import orgnode

# The node's user: as root (a VM, CI containers) the unprivileged "nobody", who then owns the test homes,
# as a service's user owns its home; otherwise whoever runs the tests.
RUN_AS = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.getuid()).pw_name


def parse_unit(text: str) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value given (a key may repeat), as systemd's unit-file parser splits them."""
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        assert current is not None, f"a directive outside a section: {line!r}"
        key, sep, value = line.partition("=")
        assert sep and key.strip() == key and key.isidentifier(), f"not KEY=VALUE: {line!r}"
        current.setdefault(key, []).append(value)
    return sections


def words(value: str) -> list[str]:
    """One directive's words: double quotes and backslash escapes undone, then %% and $$."""
    return [w.replace("%%", "%").replace("$$", "$") for w in shlex.split(value, posix=True)]


def init(home: Path, *extra: str, env: dict[str, str] | None = None) -> None:
    orgnode("--home", str(home), "init", "--name", "Svc Org", "--sector", "company", "--listen", "127.0.0.1:8470", *extra,
            extra_env=env)
    if os.geteuid() == 0:
        entry = pwd.getpwnam(RUN_AS)
        for path in (home, *home.rglob("*")):
            os.chown(path, entry.pw_uid, entry.pw_gid)


def install(home: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--output", str(out), *extra)


def check_verify(path: Path) -> None:
    """`systemd-analyze verify`, where installed: no directive it cannot parse (the nobody warning aside)."""
    if shutil.which("systemd-analyze") is None:
        return
    result = subprocess.run(["systemd-analyze", "verify", str(path)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (result.stdout + result.stderr).splitlines() if "Special user nobody" not in line]
    assert result.returncode == 0 and not problems, result.stdout + result.stderr


def test_unit_has_every_hardening_directive_and_absolute_paths(tmp_path: Path) -> None:
    home = tmp_path / "node"
    init(home)
    out = tmp_path / "orgnode.service"
    result = install(home, out)
    assert f"Wrote {out}" in result.stdout
    for step in ("systemctl daemon-reload", "systemctl enable --now orgnode", "journalctl -u orgnode"):
        assert step in result.stdout
    assert stat.S_IMODE(out.stat().st_mode) == 0o644
    unit = parse_unit(out.read_text())
    service = unit["Service"]
    for key, value in HARDENING:
        assert value in service.get(key, []), f"{key}={value} missing"
    # read-only when the program it runs lives under /home, /root or /run/user (a checkout there), else yes
    assert service["ProtectHome"] == (["read-only"] if under_home_roots(service["ExecStart"][0].split()[0]) else ["yes"])
    assert service["RestrictAddressFamilies"] == [ADDRESS_FAMILIES]
    assert service["User"] == [RUN_AS] and service["Group"][0] and service["Group"] != ["root"]
    assert service["Restart"] == ["on-failure"] and int(service["RestartSec"][0]) > 0
    assert service["KillSignal"] == ["SIGTERM"] and int(service["TimeoutStopSec"][0]) > 10  # beyond shutdown_grace
    assert service["CapabilityBoundingSet"] == [""]
    assert "LoadCredential" not in service  # the keys are not encrypted
    exec_start = words(service["ExecStart"][0])
    assert Path(exec_start[0]).is_absolute() and Path(exec_start[0]).exists()
    assert exec_start[-3:] == ["--home", str(home), "run"]
    assert words(service["ReadWritePaths"][0]) == [str(home)]
    assert unit["Install"]["WantedBy"] == ["multi-user.target"]
    check_verify(out)
    # An existing unit is not replaced without --force.
    again = orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--output", str(out), check=False)
    assert again.returncode == 1 and "--force" in again.stderr
    install(home, out, "--force")


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder: a home's admin socket path must stay under the AF_UNIX limit."""
    path = Path(tempfile.mkdtemp(prefix="svc", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_home_with_spaces_quotes_and_specifiers_is_escaped(tmp_path: Path, short_tmp: Path) -> None:
    home = short_tmp / 'our "org" 100% $HOME\\x'
    init(home)
    out = tmp_path / "orgnode.service"
    install(home, out)
    text = out.read_text()
    assert "100%%" in text and "$$HOME" in text  # specifier and variable escaped on ExecStart
    service = parse_unit(text)["Service"]
    assert words(service["ExecStart"][0])[-3:] == ["--home", str(home), "run"]
    assert words(service["ReadWritePaths"][0]) == [str(home)]
    check_verify(out)


def test_encrypted_keys_get_the_passphrase_credential(tmp_path: Path) -> None:
    home = tmp_path / "locked"
    init(home, env={"ORGNODE_PASSPHRASE": "correct horse battery staple"})
    out = tmp_path / "orgnode.service"
    result = install(home, out)
    assert parse_unit(out.read_text())["Service"]["LoadCredential"] == ["orgnode-passphrase:/etc/orgnode/passphrase"]
    assert "/etc/orgnode/passphrase" in result.stdout
    install(home, out, "--force", "--passphrase-credential", "/srv/secrets/orgnode.pass")
    assert parse_unit(out.read_text())["Service"]["LoadCredential"] == ["orgnode-passphrase:/srv/secrets/orgnode.pass"]
    check_verify(out)


def test_print_puts_only_the_unit_on_stdout(tmp_path: Path) -> None:
    home = tmp_path / "node"
    init(home)
    result = orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--print")
    assert result.stdout.startswith("# Written by `orgnode service install`")
    assert parse_unit(result.stdout)["Service"]["User"] == [RUN_AS]
    assert "systemctl enable --now orgnode" in result.stderr and "journalctl -u orgnode" in result.stderr


def test_refuses_root_and_unknown_users(tmp_path: Path) -> None:
    home = tmp_path / "node"
    init(home)
    out = tmp_path / "orgnode.service"
    for user in ("root", "no-such-user-orgnode"):
        result = orgnode("--home", str(home), "service", "install", "--user", user, "--output", str(out), check=False)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        assert ("refusing to run the node as root" if user == "root" else "no such user") in result.stderr
        assert not out.exists()
    install(home, out)  # positive control: an unprivileged user is accepted
    assert out.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs a home owned by another user")
def test_refuses_a_home_the_run_user_does_not_own(tmp_path: Path) -> None:
    home = tmp_path / "node"
    init(home)
    os.chown(home, 0, 0)
    out = tmp_path / "orgnode.service"
    result = orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--output", str(out), check=False)
    assert result.returncode == 1 and "belongs to another user" in result.stderr and not out.exists()


@pytest.mark.parametrize("home, protect", [("/home/org node/n", "read-only"), ("/var/lib/orgnode", "yes"),
                                           ("/root/n", "read-only")])
def test_home_under_home_dirs_is_read_only_plus_writable_home(home: str, protect: str) -> None:
    unit = parse_unit(render_unit(UnitSpec("orgnode", "orgnode", ("/usr/bin/orgnode",), home)))["Service"]
    assert unit["ProtectHome"] == [protect] and words(unit["ReadWritePaths"][0]) == [home]


def test_an_orgnode_installed_under_home_keeps_home_readable() -> None:
    unit = parse_unit(render_unit(UnitSpec("orgnode", "orgnode", ("/home/ops/venv/bin/orgnode",), "/var/lib/orgnode")))
    assert unit["Service"]["ProtectHome"] == ["read-only"]


def test_low_port_keeps_only_net_bind_service() -> None:
    unit = parse_unit(render_unit(UnitSpec("orgnode", "orgnode", ("/usr/bin/orgnode",), "/var/lib/orgnode", low_port=True)))
    assert unit["Service"]["CapabilityBoundingSet"] == ["CAP_NET_BIND_SERVICE"]
    assert unit["Service"]["AmbientCapabilities"] == ["CAP_NET_BIND_SERVICE"]


@pytest.mark.parametrize("home", ["relative/home", "/tmp/a\nb", "/tmp/../etc"])
def test_paths_a_unit_cannot_carry_are_refused(home: str) -> None:
    from node.core.errors import UserError

    with pytest.raises(UserError):
        render_unit(UnitSpec("orgnode", "orgnode", ("/usr/bin/orgnode",), home))


def test_print_hint_keeps_every_option_and_warns_about_tmp(tmp_path: Path) -> None:
    """acc10: the suggested `... --print | sudo tee` dropped --user (so it printed another unit, or was refused as root)."""
    home = tmp_path / "node"  # under /tmp (pytest's tmp_path): the PrivateTmp warning is expected
    init(home)
    result = orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--print",
                     "--passphrase-credential", "/etc/orgnode/pass")
    hint = [line for line in result.stderr.splitlines() if "sudo tee" in line]
    assert hint and f"--user {RUN_AS}" in hint[0] and "--passphrase-credential /etc/orgnode/pass" in hint[0], result.stderr
    assert f"--home {home}" in hint[0]
    assert "PrivateTmp=yes" in result.stderr and "warning" in result.stderr
    # The hint, followed, prints the very same unit.
    command = shlex.split(hint[0].split("`")[1].split(" | ")[0])
    again = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=60,
                           env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert again.returncode == 0 and again.stdout == result.stdout, again.stderr
    data = json.loads(orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--print", "--json").stdout)
    assert f"--user {RUN_AS}" in data["next"][0] and any("PrivateTmp" in w for w in data["warnings"])


def _outside_tmp() -> Path:
    """A writable directory not under /tmp or /var/tmp (the checkout itself may be under /tmp in CI)."""
    for candidate in (Path(__file__).resolve().parents[2], Path.home(), Path("/var/lib"), Path("/srv")):
        inside_tmp = any(candidate == p or p in candidate.parents for p in (Path("/tmp"), Path("/var/tmp")))
        if not inside_tmp and candidate.is_dir() and os.access(candidate, os.W_OK):
            return candidate
    pytest.skip("no writable directory outside /tmp and /var/tmp here")


def test_home_outside_tmp_gives_no_tmp_warning() -> None:
    """The control for the /tmp warning: a home elsewhere (beside the checkout, else in $HOME) gets none."""
    place = Path(tempfile.mkdtemp(prefix=".svc", dir=_outside_tmp()))
    try:
        home = place / "node"
        init(home)
        result = orgnode("--home", str(home), "service", "install", "--user", RUN_AS, "--print")
        assert "PrivateTmp=yes" not in result.stderr and "sudo tee" in result.stderr
    finally:
        shutil.rmtree(place, ignore_errors=True)


@pytest.mark.skipif(os.geteuid() != 0, reason="root's default run user is the home's owner")
def test_print_as_root_without_user_uses_the_home_owner(tmp_path: Path) -> None:
    home = tmp_path / "node"
    init(home)  # owned by RUN_AS (nobody)
    result = orgnode("--home", str(home), "service", "install", "--print")
    assert result.returncode == 0 and parse_unit(result.stdout)["Service"]["User"] == [RUN_AS], result.stderr
    os.chown(home, 0, 0)
    refused = orgnode("--home", str(home), "service", "install", "--print", check=False)
    assert refused.returncode == 1 and "as root, give --user USER" in refused.stderr
