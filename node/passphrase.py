"""Where the key passphrase comes from: one rule for every command that unlocks the node's keys.

The keys in ``<home>/keys/`` may be encrypted with a passphrase (``orgnode init --passphrase-file``,
``orgnode key passphrase``). A node started by hand, by systemd or in a container needs it from
different places, so it is looked for in this order, the first one present winning:

1. ``--passphrase-file FILE`` of the command (``init``, ``run``, ``status``, ``log``, ``set-url``,
   ``key passphrase``): the file's text with its trailing newline removed. The file must not be
   readable by group or others: it is refused with the ``chmod`` that fixes it.
2. ``$CREDENTIALS_DIRECTORY/orgnode-passphrase``: a systemd credential (``LoadCredential=`` in the unit
   ``orgnode service install`` writes); systemd keeps that directory private to the service.
3. ``ORGNODE_PASSPHRASE`` in the environment (containers).
4. A prompt on the terminal, when standard input is one.

With none of them the command fails and names the three non-interactive ways. Only a home whose key
files are encrypted asks at all.
"""

from __future__ import annotations

import getpass
import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from node.core.errors import UserError

PASSPHRASE_ENV = "ORGNODE_PASSPHRASE"
CREDENTIAL_NAME = "orgnode-passphrase"
CREDENTIALS_ENV = "CREDENTIALS_DIRECTORY"
MAX_PASSPHRASE_BYTES = 1024


@dataclass(frozen=True)
class Passphrase:
    """A passphrase and where it came from, so a wrong one is reported as "the one in FILE"."""

    text: str
    source: str

    def __repr__(self) -> str:  # never print the secret itself
        return f"Passphrase(source={self.source!r})"


def read_passphrase_file(path: Path, flag: str = "--passphrase-file") -> str:
    """The passphrase in ``path``: refused when group/world-readable, trailing newline stripped."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise UserError(f"{flag} {path} is readable by other users (mode {mode:04o}): run `chmod 600 {path}` "
                            "(and keep it owned by the node's user)")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise UserError(f"{flag} {path} does not exist: write the passphrase into it (mode 0600)") from exc
    except PermissionError as exc:
        raise UserError(f"cannot read {flag} {path}: permission denied (run as the node's user)") from exc
    except IsADirectoryError as exc:
        raise UserError(f"{flag} {path} is a directory: give the file holding the passphrase") from exc
    return _text(data, f"{flag} {path}")


def _text(data: bytes, source: str) -> str:
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise UserError(f"{source} is not a passphrase (over {MAX_PASSPHRASE_BYTES} bytes): give the file that holds only it")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(f"{source} is not UTF-8 text: write the passphrase as plain text") from exc
    text = text.removesuffix("\n").removesuffix("\r")
    if not text:
        raise UserError(f"{source} is empty: write the passphrase into it")
    return text


def credential_path() -> Path | None:
    """``$CREDENTIALS_DIRECTORY/orgnode-passphrase`` when systemd passed that credential."""
    directory = os.environ.get(CREDENTIALS_ENV)
    if not directory:
        return None
    path = Path(directory) / CREDENTIAL_NAME
    return path if path.exists() else None


def on_terminal() -> bool:
    """Whether a prompt can be shown: standard input is a terminal (not /dev/null, a pipe or a file).

    ``getpass`` would otherwise fall back to reading standard input with a ``GetPassWarning`` and
    crash with ``EOFError`` at its end: every prompt checks this first and fails with the flag to use."""
    return sys.stdin is not None and sys.stdin.isatty()


def prompt_secret(prompt: str, *, flag: str, what: str, confirm: bool = False) -> str:
    """``what`` typed on the terminal (twice when ``confirm``); without a terminal a one-line error naming ``flag``."""
    if not on_terminal():
        raise UserError(f"no terminal to ask for {what}: give it with {flag} FILE (mode 0600)")
    text = getpass.getpass(prompt)
    if confirm and getpass.getpass("again: ") != text:
        raise UserError("the two passphrases differ: run the command again")
    return text


def find_passphrase(file: Path | None, *, prompt: str = "key passphrase: ") -> Passphrase:
    """The key passphrase from the first source present (see the module docstring); else a clear error."""
    if file is not None:
        return Passphrase(read_passphrase_file(file), f"--passphrase-file {file}")
    credential = credential_path()
    if credential is not None:
        try:
            data = credential.read_bytes()
        except OSError as exc:
            raise UserError(f"cannot read the systemd credential {credential}: {exc.strerror}") from exc
        return Passphrase(_text(data, f"the systemd credential {credential}"), f"the systemd credential {credential}")
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return Passphrase(env, f"${PASSPHRASE_ENV}")
    if on_terminal():
        text = getpass.getpass(prompt)
        if not text:
            raise UserError("no passphrase typed: run the command again and type the key passphrase")
        return Passphrase(text, "the passphrase typed")
    raise UserError(f"the keys are protected by a passphrase and none was given: pass --passphrase-file FILE (mode 0600), "
                    f"run under systemd with LoadCredential={CREDENTIAL_NAME}:FILE, or set {PASSPHRASE_ENV}")


def init_passphrase(file: Path | None) -> Passphrase | None:
    """The passphrase a new home's keys get (``orgnode init``): ``file``, else ``ORGNODE_PASSPHRASE``, else none.

    No prompt: keys without a passphrase are a valid choice at init, and ``orgnode key passphrase``
    adds one later."""
    if file is not None:
        text = read_passphrase_file(file)
        if len(text) < 8:
            raise UserError("the key passphrase must be at least 8 characters")
        return Passphrase(text, f"--passphrase-file {file}")
    env = os.environ.get(PASSPHRASE_ENV)
    return Passphrase(env, f"${PASSPHRASE_ENV}") if env else None


def new_passphrase(file: Path | None) -> str:
    """A new passphrase for the keys: from ``file``, else typed twice on the terminal."""
    if file is not None:
        text = read_passphrase_file(file, "--new-passphrase-file")
    else:
        text = prompt_secret("new key passphrase: ", flag="--new-passphrase-file", what="the new key passphrase", confirm=True)
    if len(text) < 8:
        raise UserError("the key passphrase must be at least 8 characters")
    return text
