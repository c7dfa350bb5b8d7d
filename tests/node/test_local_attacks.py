"""Issue 8, items 16-18: attacks by another local user and by a partner's text on the terminal.

Real nodes (in-process runtimes on 127.0.0.1) and the real ``orgnode`` CLI in subprocesses.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import tempfile
import threading
from pathlib import Path

import pytest

from node.core.errors import UserError
from node.core.service import NodeService
from node.home import Home
from node.runtime import NodeRuntime
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import pair, wait_until

OTHER_UID = 54321
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="simulating another user's file needs root (os.chown)")


async def cli(home: Path, *args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(orgnode, "--home", str(home), *args, check=False)
    return result.returncode, result.stdout, result.stderr


# --- item 16: the admin socket ------------------------------------------------------------------


async def test_long_home_puts_socket_in_a_private_folder_not_a_shared_one(net, tmp_path):
    long_root = tmp_path / ("h" * 60) / ("o" * 60)
    long_root.mkdir(parents=True, mode=0o700)
    net.root = long_root
    node = await net.start("Longhome")
    sock = node.socket_path
    assert not str(sock).startswith(str(node.service.home.path.resolve())), "the path is too long for AF_UNIX"
    for folder in (sock.parent, sock.parent.parent):
        st = os.lstat(folder)
        assert stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()
        assert stat.S_IMODE(st.st_mode) == 0o700, f"{folder} must be private, not a shared temp dir"
    assert sock.parent != Path(tempfile.gettempdir())
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    # Positive control: the CLI reaches the node through that socket.
    rc, out, err = await cli(node.service.home.path, "status", "--json")
    assert rc == 0 and json.loads(out)["running"], err
    # A shell whose XDG_RUNTIME_DIR differs from the node's still finds the node's existing socket.
    xdg = tmp_path / "xdg"
    xdg.mkdir(mode=0o700)
    other = "XDG_RUNTIME_DIR" if not os.environ.get("XDG_RUNTIME_DIR") else "XDG_RUNTIME_DIR_UNUSED"
    result = await asyncio.to_thread(orgnode, "--home", str(node.service.home.path), "status", "--json",
                                     extra_env={other: str(xdg)})
    assert json.loads(result.stdout)["running"], result.stderr


class _Eavesdropper:
    """A Unix server another user bound at our socket path: records whatever a client sends."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received = b""
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(path))
        self.server.listen(4)
        self.server.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.server.accept()
            except TimeoutError:
                continue
            with conn:
                conn.settimeout(2)
                try:
                    self.received += conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 17\r\n\r\n{\"running\": true}")
                except OSError:
                    pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


@needs_root
async def test_cli_refuses_a_socket_owned_by_another_user(node_factory):
    service = node_factory("Victim")
    home = service.home
    spy = _Eavesdropper(home.admin_socket)
    try:
        os.chown(home.admin_socket, OTHER_UID, OTHER_UID)
        rc, _out, err = await cli(home.path, "trust", "list")
        assert rc != 0 and "belongs to another user" in err, err
        assert spy.received == b"", "the CLI sent an admin command to another user's socket"
        # Positive control: the same socket, owned by us, does receive the command.
        os.chown(home.admin_socket, os.geteuid(), os.getegid())
        await cli(home.path, "trust", "list")
        assert b"/peers" in spy.received or spy.received.startswith(b"GET") or spy.received.startswith(b"POST")
    finally:
        spy.close()


@needs_root
@pytest.mark.parametrize("kind", ["socket", "file"])
async def test_node_refuses_to_unlink_a_planted_socket_or_file(node_factory, kind):
    service = node_factory("Victim")
    path = service.home.admin_socket
    if kind == "socket":
        planted = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        planted.bind(str(path))  # bound, never listening: looks stale
        planted.close()
        os.chown(path, OTHER_UID, OTHER_UID)
    else:
        path.write_bytes(b"not yours")
    before = os.lstat(path)
    runtime = NodeRuntime(service)
    with pytest.raises(UserError) as err:
        await runtime.start()
    assert "refusing to use" in str(err.value)
    after = os.lstat(path)
    assert (after.st_ino, after.st_uid) == (before.st_ino, before.st_uid), "the planted file must stay untouched"
    # Positive control: our own stale socket is replaced and the node starts.
    path.unlink()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(path))
    stale.close()
    runtime = NodeRuntime(service)
    await runtime.start()
    try:
        assert stat.S_ISSOCK(os.lstat(path).st_mode) and os.lstat(path).st_uid == os.geteuid()
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.connect(str(path))  # the node listens on it now
    finally:
        await runtime.stop()


# --- item 17: homes and exported files ----------------------------------------------------------


async def test_init_refuses_a_world_writable_home_with_the_fix(tmp_path):
    home = tmp_path / "shared"
    home.mkdir()
    os.chmod(home, 0o777)
    rc, _out, err = await cli(home, "init", "--name", "Org", "--sector", "nonprofit", "--listen", "127.0.0.1:0")
    assert rc != 0 and f"chmod 700 {home}" in err, err
    assert not (home / "config.toml").exists() and stat.S_IMODE(home.stat().st_mode) == 0o777
    # Creating into a non-sticky world-writable parent is refused as well.
    rc, _out, err = await cli(home / "inner", "init", "--name", "Org", "--sector", "nonprofit", "--listen", "127.0.0.1:0")
    assert rc != 0 and f"chmod go-w {home}" in err, err
    # Positive control: after the fix, init works; a home that becomes group-writable is refused on open.
    os.chmod(home, 0o700)
    rc, _out, err = await cli(home, "init", "--name", "Org", "--sector", "nonprofit", "--listen", "127.0.0.1:0")
    assert rc == 0, err
    os.chmod(home, 0o770)
    rc, _out, err = await cli(home, "status")
    assert rc != 0 and f"chmod 700 {home}" in err, err
    with pytest.raises(UserError):
        NodeService.open(home)


async def test_exports_refuse_symlinks_and_write_0600(net, tmp_path):
    node = await net.start("Exporter")
    job = node.talent.post_job(title="Baker", skills=["baking"])
    home = node.service.home.path
    secret = tmp_path / "victim.txt"
    secret.write_text("precious\n")
    for args in (["job", "export", job.job_id.hex(), "--output"], ["impact", "--export"]):
        link = tmp_path / f"link-{args[0]}"
        link.symlink_to(secret)
        rc, _out, err = await cli(home, *args, str(link))
        assert rc != 0 and "symbolic link" in err, err
        assert secret.read_text() == "precious\n" and link.is_symlink()
        # An existing 0644 file is replaced by a private one (positive control: the export happened).
        plain = tmp_path / f"plain-{args[0]}"
        plain.write_text("old")
        os.chmod(plain, 0o644)
        rc, _out, err = await cli(home, *args, str(plain))
        assert rc == 0, err
        assert plain.read_bytes() != b"old" and stat.S_IMODE(plain.stat().st_mode) == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temp file left behind"


def test_home_socket_stays_in_home_when_short(tmp_path):
    assert Home(tmp_path / "h").admin_socket == (tmp_path / "h").resolve() / "admin.sock"


# --- item 18: terminal escapes in partners' text ---------------------------------------------------

EVIL = "\x1b]0;pwned\x07\x1b[2J\u202eEvil\x9b31m\x7f"
RAW = ("\x1b", "\x07", "\u202e", "\x9b", "\x7f")


def _strings(value: object) -> list[str]:
    """Every string inside a JSON value (to find a partner's exact text in --json output)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _clean(text: str) -> bool:
    return not any(ch in text for ch in RAW)


async def test_partner_text_cannot_drive_the_terminal(net):
    victim = await net.start("Victim")
    evil = await net.start("Org" + EVIL)
    await pair(victim, evil)
    job = evil.talent.post_job(title="Job" + EVIL, skills=["forklift"], hops=1)
    await wait_until(lambda: victim.talent.store.job(job.job_id) is not None, what="job delivered")
    evil.talent.add_candidate(name="Amina", email="a@example.org", skills=["forklift"], consent=["match", "refer"],
                              consent_scope="all", consent_evidence="form")
    own = victim.talent.post_job(title="Forklift driver", skills=["forklift"], hops=1)
    await wait_until(lambda: evil.talent.store.job(own.job_id) is not None, what="own job delivered")
    home = victim.service.home.path
    escaped = "\\x1b]0;pwned\\x07\\x1b[2J\\u202eEvil"  # visible (columns may cut the rest)
    for args, text in ((["job", "list"], "Job" + EVIL), (["trust", "list"], "Org" + EVIL),
                       (["match", own.job_id.hex(), "--deadline", "5"], "Org" + EVIL)):
        rc, out, err = await cli(home, *args)
        assert rc == 0, err
        assert _clean(out) and _clean(err), f"raw control characters in `{' '.join(args)}`"
        assert escaped in out, f"`{' '.join(args)}` must show the text escaped:\n{out}"
        rc, out, err = await cli(home, *args, "--json")
        assert rc == 0, err
        assert text in _strings(json.loads(out)), "--json carries the exact text"
    # JSON-LD on stdout stays exactly equal JSON, yet has no raw controls either.
    rc, out, err = await cli(home, "job", "export", job.job_id.hex())
    assert rc == 0, err
    assert _clean(out) and "Job" + EVIL in _strings(json.loads(out))


def test_safe_text_escapes_the_whole_class_and_keeps_tab_and_newline():
    from node.terminal import safe_json_text, safe_text

    raw = "a\tb\nc\x00\r\x1b[31m\x7f\x85\x9b\u202a\u202e\u2066\u2069é✓"
    assert safe_text(raw) == "a\tb\nc\\x00\\x0d\\x1b[31m\\x7f\\x85\\x9b\\u202a\\u202e\\u2066\\u2069é✓"
    assert safe_text("x\ny", multiline=False) == "x\\ny"
    doc = json.dumps({"t": raw}, ensure_ascii=False)
    assert json.loads(safe_json_text(doc)) == {"t": raw} and _clean(safe_json_text(doc))


def test_every_bidi_control_invisible_format_character_and_line_break_is_escaped():
    """Item 18: the whole Bidi_Control class (U+061C, U+200E/200F were missed), the invisible format
    characters that hide or join text, and every line break in a value; ordinary text is untouched."""
    import unicodedata

    from node.terminal import one_line, one_line_values, safe_text

    bidi = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    hiding = "\u00ad\u034f\u180e\u200b\u200c\u200d\u2060\u2061\u2062\u2063\u2064\u206a\u206f\ufeff\ufff9\ufffb\U000e0001\U000e0041"
    breaks = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    for ch in bidi + hiding + breaks[1:]:
        assert ch not in safe_text(f"a{ch}b"), f"U+{ord(ch):04X} {unicodedata.name(ch, '?')} is shown raw"
    assert safe_text("a\u200fb") == "a\\u200fb" and safe_text("a\U000e0041b") == "a\\U000e0041b"
    for ch in breaks:
        assert ch not in one_line(f"a{ch}b") and "\n" not in safe_text(one_line(f"a{ch}b"))
    assert one_line("Welder\nfake row") == "Welder\\nfake row"
    # Positive control: letters, accents, CJK, emoji, tabs and layout newlines stay as they are.
    plain = "Zoë Ångström 李 ✓ 👍\tx"
    assert safe_text(plain + "\n" + plain) == plain + "\n" + plain and one_line(plain) == plain
    assert one_line_values({"k\n": ["a\nb", 1, None, {"x": "\u2028"}]}) == {"k\\n": ["a\\nb", 1, None, {"x": "\\u2028"}]}
