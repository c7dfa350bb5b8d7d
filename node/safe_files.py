"""The one way the CLI and the node write files a user names, and check homes they trust.

Exports (audit bundles, impact reports, JobPosting JSON-LD) hold personal or signed data. Writing with
``open(path, "w")`` follows a symlink another user planted and keeps an existing file's (wider) mode.
``write_private`` writes a temporary file created O_EXCL|O_NOFOLLOW at 0600 in the same folder and
renames it over the target, refusing a symlink target. ``check_private_dir`` refuses a directory
that other users could write into or that we do not own, with the command that fixes it.
"""

from __future__ import annotations

import os
import secrets
import stat
from pathlib import Path

from node.core.errors import UserError
from storage.errors import full_from_os_error


def write_private(path: Path | str, data: bytes, mode: int = 0o600) -> None:
    """Atomically replace ``path`` by ``data`` at mode 0600; refuse if ``path`` is a symlink.

    ``mode``: a wider mode for a file that holds no secret (a systemd unit), set on the open file
    before the rename, never by path afterwards (a path-based chmod follows a symlink swapped in)."""
    target = Path(path)
    if target.is_symlink():
        raise UserError(f"refusing to write {target}: it is a symbolic link (remove it or choose another file)")
    if target.exists() and not target.is_file():
        raise UserError(f"refusing to write {target}: it is not a regular file; give the path of a regular file")
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise UserError(f"cannot write {target}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), mode)  # whatever the umask
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        if full := full_from_os_error(exc, "a file", target):
            raise full from exc  # the disk-full message and exit code, naming this file's disk
        raise UserError(f"cannot write {target}: {exc.strerror}") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def unsafe_dir_reason(path: Path, owner: int | None = None) -> str | None:
    """Why ``path`` (an existing directory) is not private to us (or to ``owner``, a uid), with the fix; None when it is."""
    st = os.lstat(path)
    uid = os.geteuid() if owner is None else owner
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link; use the real directory ({path.resolve()}) instead"
    if not stat.S_ISDIR(st.st_mode):
        return f"{path} is not a directory: move it away, or choose another path"
    if st.st_uid != uid:
        return f"{path} belongs to another user (uid {st.st_uid}); run `chown {uid} {path}` as its owner or root"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        return f"{path} can be written by other users (mode {stat.S_IMODE(st.st_mode):o}); run `chmod 700 {path}`"
    return None


def check_private_dir(path: Path, what: str = "orgnode home", owner: int | None = None) -> None:
    """Refuse a home other local users could tamper with (swap keys, plant sockets or files).

    ``owner``: the uid the home must belong to, when it is not us (root preparing a service for the
    node's own user, ``orgnode service install``)."""
    reason = unsafe_dir_reason(path, owner)
    if reason:
        raise UserError(f"unsafe {what}: {reason}")


def others_can_write_dir(path: Path) -> str | None:
    """Why a user other than root could rename or replace entries of directory ``path``; None if none can.

    Used when root writes a file a user names (``service install --output``): a directory another
    user owns or may write into lets that user swap the file for a symlink between our steps."""
    st = os.stat(path)
    if st.st_uid != 0:
        return f"{path} belongs to another user (uid {st.st_uid})"
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        return f"{path} can be written by other users (mode {stat.S_IMODE(st.st_mode):o})"
    return None


def check_parent_for_create(path: Path) -> None:
    """Before creating ``path``: its nearest existing ancestor must not be writable by others.

    A sticky world-writable directory (like /tmp) is accepted: others cannot rename or remove what
    we create there, and the home itself is created 0700.
    """
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    st = os.stat(parent)
    if st.st_mode & stat.S_ISVTX:
        return
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UserError(f"unsafe place for an orgnode home: {parent} can be written by other users "
                        f"(mode {stat.S_IMODE(st.st_mode):o}); run `chmod go-w {parent}` or choose another --home")


def runtime_bases() -> list[Path]:
    """Where private socket folders may live, best first: ``$XDG_RUNTIME_DIR/orgnode``, then ``TMPDIR/orgnode-UID``."""
    import tempfile

    bases = []
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_absolute():
        bases.append(Path(xdg) / "orgnode")
    bases.append(Path(tempfile.gettempdir()) / f"orgnode-{os.geteuid()}")
    return bases


def private_runtime_dir(name: str, base: Path | None = None) -> Path:
    """A directory only we can use, for an admin socket whose path in the home is too long.

    ``BASE/NAME`` under the first of ``runtime_bases()`` unless ``base`` is given. Every level we rely
    on is created 0700 and then verified (ours, 0700, not a symlink), so another local user cannot
    pre-create it and bind the socket first.
    """
    base = base or runtime_bases()[0]
    for level in (base, base / name):
        try:
            os.mkdir(level, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise UserError(f"cannot create the private socket folder {level}: {exc.strerror}") from exc
        st = os.lstat(level)
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid() \
                or stat.S_IMODE(st.st_mode) != 0o700:
            raise UserError(f"unsafe socket folder {level}: it must be a directory owned by you with mode 700 "
                            f"(not a link); remove it (`rm -r {level}`) and try again")
    return base / name


def check_own_socket(path: Path) -> bool:
    """True if ``path`` is a socket of ours, False if nothing is there; refuse anything else.

    Connecting to a socket someone else bound would hand them every admin command; unlinking one
    they placed could remove their file. Both callers (the CLI client and the node at start) ask first.
    """
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return False
    if not stat.S_ISSOCK(st.st_mode):
        raise UserError(f"refusing to use {path} as the admin socket: it is not a socket; "
                        f"remove it if you placed it there (`rm {path}`)")
    if st.st_uid != os.geteuid():
        raise UserError(f"refusing to use the admin socket {path}: it belongs to another user (uid {st.st_uid}), "
                        "who could read every admin command; remove it as root and restart the node")
    return True
