"""A node's home directory: config, key files, database and admin socket paths.

Layout (docs/operations.md): ``config.toml`` (docs/config.md), ``keys/`` (PKCS#8 PEM files, mode 0600, encrypted with
a passphrase when one was set: node/passphrase.py says where it is read from), ``orgnode.db`` (SQLite) and
``admin.sock`` (the local admin API, mode 0600). Every failure becomes a ``UserError`` that says
which file is wrong and what to do about it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import stat
import tomllib
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, mlkem, x25519

from node.config import Config as Config  # re-exported: callers import the config with the home
from node.config import env_overrides
from node.core.errors import UserError
from node.logs import log_event
from node.passphrase import PASSPHRASE_ENV as PASSPHRASE_ENV  # re-exported: older callers import it from here
from node.passphrase import Passphrase, find_passphrase
from node.safe_files import check_parent_for_create, check_private_dir, private_runtime_dir, runtime_bases, write_private
from protocol.identity import Identity

HOME_ENV = "ORGNODE_HOME"
KEY_FILES = {"signing": "signing.pem", "genesis": "genesis.pub", "x25519": "x25519.pem", "mlkem768": "mlkem768.pem"}
PRIVATE_KEYS = ("signing", "x25519", "mlkem768")  # the encrypted ones; genesis.pub is public
REKEY_SUFFIX = ".rekey"  # a key file re-encrypted by `orgnode key passphrase`, not yet in place
REKEY_COMMIT = "rekey.commit"  # present: every .rekey file is complete and they replace the old files
MAX_UNIX_PATH = 100


def default_home() -> Path:
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "orgnode"


def parse_listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise UserError(f"--listen must look like HOST:PORT (e.g. 127.0.0.1:8470), got {text!r}")
    return host.strip("[]"), int(port)


class Home:
    def __init__(self, path: Path) -> None:
        # Absolute (``..`` folded, links kept): the CLI and the node may run in different working
        # directories, and both must name the same files (the backup snapshot, the admin socket).
        self.path = Path(os.path.abspath(path))

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def legacy_config_path(self) -> Path:
        """Where homes made before config.toml keep their settings; migrated on first open."""
        return self.path / "config.json"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def db_path(self) -> Path:
        return self.path / "orgnode.db"

    @property
    def backup_staging(self) -> Path:
        """``backup-staging/``: where the running node writes a database snapshot for `orgnode backup` (the
        one folder both it and the CLI can reach under the unit's PrivateTmp=yes and ProtectSystem=strict)."""
        return self.path / "backup-staging"

    @property
    def restored_path(self) -> Path:
        """``restored.json``: this home came from a backup and has not yet relearned its own log from its
        partners, so it must not sign (it could reuse a sequence number it already used: a fork)."""
        return self.path / "restored.json"

    @property
    def pid_path(self) -> Path:
        return self.path / "node.pid"

    @property
    def admin_socket(self) -> Path:
        """``admin.sock`` in the home, or in a private per-user folder when the path is too long for AF_UNIX.

        Never a predictable name in a shared directory: another local user could bind it first and
        read every admin command (node/safe_files.py ``private_runtime_dir``).
        """
        wanted = self.path.resolve() / "admin.sock"
        if len(str(wanted)) <= MAX_UNIX_PATH:
            return wanted
        digest = hashlib.sha256(str(wanted).encode()).hexdigest()[:20]
        # A node started as a service may lack the shell's XDG_RUNTIME_DIR: use a socket that exists.
        base = next((b for b in runtime_bases() if os.path.lexists(b / digest / "admin.sock")), None)
        return private_runtime_dir(digest, base) / "admin.sock"

    def exists(self) -> bool:
        return self.config_path.exists() or self.legacy_config_path.exists()

    def require(self, owner: int | None = None) -> None:
        """An existing, private orgnode home (of ``owner``, a uid, when given; else ours)."""
        if not self.path.exists():
            raise UserError(f"no orgnode home at {self.path}: run `orgnode init` first, or pass --home / set {HOME_ENV}")
        if not os.access(self.path, os.R_OK | os.X_OK):
            raise UserError(f"cannot read the orgnode home {self.path}: check its permissions")
        if not self.exists():
            raise UserError(f"{self.path} is not an orgnode home (no config.toml): run `orgnode init --home {self.path}`")
        check_private_dir(self.path, owner=owner)

    # --- config ----------------------------------------------------------------------------------

    def load_config(self, owner: int | None = None) -> Config:
        """The settings file, migrated from config.json if needed, with ``ORGNODE_<KEY>`` overrides on top."""
        self.require(owner)
        self._migrate_legacy_config()
        data = self._read_toml()
        overrides = env_overrides()  # a bad variable is refused naming it, before the file is judged
        try:
            return Config.from_mapping({**data, **overrides})
        except UserError as exc:  # a key unknown, missing or out of range: say which, not "corrupt"
            raise UserError(f"{self.config_path}: {exc}", field=exc.field) from exc

    def _read_toml(self) -> dict[str, object]:
        try:
            return tomllib.loads(self.config_path.read_text())
        except PermissionError as exc:
            raise UserError(f"cannot read {self.config_path}: permission denied") from exc
        except tomllib.TOMLDecodeError as exc:  # its message names the line and column
            raise UserError(f"{self.config_path} is not valid TOML ({exc}); fix that line "
                            "(docs/config.md shows the form)") from exc
        except (UnicodeDecodeError, OSError) as exc:
            raise UserError(f"cannot read {self.config_path} ({exc}); rewrite it (docs/config.md)") from exc

    def _migrate_legacy_config(self) -> None:
        """Turn a home's config.json into config.toml once, keeping the old file as config.json.migrated.

        Exactly one settings file is ever active. Both present with the same settings is a migration
        that a crash or a concurrent command (``run`` and ``status`` at once) left half done: finish
        it. Both present with different settings means someone put an old file back, and guessing
        which one the admin meant would silently change the node's settings: refuse.
        """
        legacy = self.legacy_config_path
        if not legacy.exists():
            return
        config = self._read_legacy_config()
        if self.config_path.exists():
            if config is None or self._toml_config_or_none() != config:
                raise UserError(f"{self.path} holds both config.toml and config.json; only config.toml is read: "
                                f"move config.json away (e.g. `mv {legacy} {legacy}.old`) after checking its settings")
        else:
            if config is None:
                self._read_legacy_config(strict=True)
            assert config is not None
            self.save_config(config)
        kept = legacy.with_name("config.json.migrated")
        try:
            legacy.rename(kept)
        except FileNotFoundError:  # a concurrent open finished the migration first
            return
        log_event("config.migrated", source=str(legacy), target=str(self.config_path), kept_as=str(kept))

    def _read_legacy_config(self, strict: bool = False) -> Config | None:
        """The settings of config.json; None when it is bad, unless ``strict`` (then say why)."""
        legacy = self.legacy_config_path
        try:
            data = json.loads(legacy.read_text())
        except FileNotFoundError:
            return None
        except PermissionError as exc:
            raise UserError(f"cannot read {legacy}: permission denied") from exc
        except (ValueError, TypeError) as exc:
            if not strict:
                return None
            raise UserError(f"{legacy} is corrupt ({exc}); fix it or write config.toml (docs/config.md)") from exc
        try:
            return Config.from_mapping(data, legacy.name)
        except UserError as exc:
            if not strict:
                return None
            raise UserError(f"{legacy}: {exc}", field=exc.field) from exc

    def _toml_config_or_none(self) -> Config | None:
        try:
            return Config.from_mapping(self._read_toml())
        except UserError:
            return None

    def save_config(self, config: Config) -> None:
        _write_private(self.config_path, config.to_toml())

    # --- keys ------------------------------------------------------------------------------------

    def create(self, config: Config, identity: Identity, passphrase: str | None) -> None:
        if self.exists() or (self.keys_dir / KEY_FILES["signing"]).exists():
            raise UserError(f"{self.path} already holds an orgnode home; refusing to overwrite it (choose another --home)")
        if self.path.exists():
            check_private_dir(self.path)  # init must not adopt a folder other users can write into
        else:
            check_parent_for_create(self.path)
        try:
            self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.keys_dir.mkdir(exist_ok=True, mode=0o700)
        except OSError as exc:
            raise UserError(f"cannot create {self.path}: {exc.strerror}") from exc
        self.save_keys(identity, passphrase)
        self.save_config(config)

    def save_keys(self, identity: Identity, passphrase: str | None) -> None:
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
        )

        def pem(key: ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | mlkem.MLKEM768PrivateKey) -> bytes:
            return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)

        _write_private(self.keys_dir / KEY_FILES["signing"], pem(identity.signing_key))
        _write_private(self.keys_dir / KEY_FILES["x25519"], pem(identity.x25519_key))
        _write_private(self.keys_dir / KEY_FILES["mlkem768"], pem(identity.mlkem_key))
        _write_private(self.keys_dir / KEY_FILES["genesis"], identity.genesis_public.hex().encode() + b"\n")

    @property
    def next_signing_path(self) -> Path:
        return self.keys_dir / "signing.next.pem"

    def stage_signing_key(self, key: ed25519.Ed25519PrivateKey, passphrase: str | None) -> None:
        """Write a new signing key beside the current one (durably) before a rotation is logged."""
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
        )
        _write_private(self.next_signing_path,
                       key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption))

    def promote_staged_key(self) -> None:
        """The logged rotation is durable: the staged key becomes the signing key."""
        os.replace(self.next_signing_path, self.keys_dir / KEY_FILES["signing"])

    def staged_signing_key(self, passphrase: str | None) -> ed25519.Ed25519PrivateKey | None:
        if not self.next_signing_path.exists():
            return None
        data = self.next_signing_path.read_bytes()
        try:
            key = serialization.load_pem_private_key(data, passphrase.encode() if passphrase and b"ENCRYPTED" in data else None)
        except (ValueError, TypeError) as exc:
            raise UserError(f"{self.next_signing_path} is corrupt; restore the keys/ folder from a backup") from exc
        return key if isinstance(key, ed25519.Ed25519PrivateKey) else None

    def keys_encrypted(self) -> bool:
        """Whether the signing key file is passphrase-protected (then every private key file is)."""
        try:
            with open(self.keys_dir / KEY_FILES["signing"], "rb") as handle:
                return b"ENCRYPTED" in handle.readline()
        except OSError:
            return False  # missing or unreadable: load_identity says which and what to do

    def unlock(self, passphrase_file: Path | None = None) -> Passphrase | None:
        """The passphrase that opens this home's keys, looked for only when they are encrypted."""
        self.require()
        self.finish_rekey()
        return find_passphrase(passphrase_file) if self.keys_encrypted() else None

    def load_identity(self, passphrase: Passphrase | str | None = None) -> Identity:
        self.require()
        self.finish_rekey()
        if isinstance(passphrase, str):
            passphrase = Passphrase(passphrase, "the passphrase given")
        if passphrase is None and self.keys_encrypted():
            passphrase = find_passphrase(None)
        signing = self._load_key("signing", passphrase)
        x_key = self._load_key("x25519", passphrase)
        m_key = self._load_key("mlkem768", passphrase)
        if not isinstance(signing, ed25519.Ed25519PrivateKey) or not isinstance(x_key, x25519.X25519PrivateKey) \
                or not isinstance(m_key, mlkem.MLKEM768PrivateKey):
            raise UserError(f"the key files in {self.keys_dir} hold the wrong kinds of keys; restore them from a backup")
        genesis_path = self.keys_dir / KEY_FILES["genesis"]
        try:
            genesis = bytes.fromhex(genesis_path.read_text().strip())
        except (OSError, ValueError) as exc:
            raise UserError(f"{genesis_path} is missing or corrupt; restore it from a backup") from exc
        if len(genesis) != 32:
            raise UserError(f"{genesis_path} is corrupt (not a 32-byte public key); restore it from a backup")
        return Identity(signing, x_key, m_key, genesis)

    def _load_key(self, which: str, passphrase: Passphrase | None, path: Path | None = None) -> object:
        path = path or self.keys_dir / KEY_FILES[which]
        try:
            data = path.read_bytes()
        except FileNotFoundError as exc:
            raise UserError(f"key file {path} is missing; restore the keys/ folder from a backup") from exc
        except PermissionError as exc:
            raise UserError(f"cannot read key file {path}: permission denied (run as the node's user)") from exc
        encrypted = b"ENCRYPTED" in data.split(b"\n", 1)[0]
        if encrypted and not passphrase:
            raise UserError(f"the keys are protected by a passphrase: give --passphrase-file FILE or set {PASSPHRASE_ENV} "
                            "to unlock them")
        try:
            return serialization.load_pem_private_key(data, passphrase.text.encode() if encrypted and passphrase else None)
        except ValueError as exc:
            if encrypted:
                source = passphrase.source if passphrase else "?"
                raise UserError(f"cannot unlock {path}: wrong passphrase (from {source}), or the file is corrupt; give the passphrase set at `orgnode init` (or the one changed to since)") from exc
            raise UserError(f"key file {path} is corrupt; restore it from a backup") from exc
        except TypeError as exc:
            raise UserError(f"key file {path} is corrupt; restore it from a backup") from exc

    # --- changing the passphrase (``orgnode key passphrase``) ------------------------------------

    def private_key_paths(self) -> list[Path]:
        """Every private key file of this home: the three keys and a staged signing key, if any."""
        paths = [self.keys_dir / KEY_FILES[which] for which in PRIVATE_KEYS]
        return paths + ([self.next_signing_path] if self.next_signing_path.exists() else [])

    def change_passphrase(self, old: Passphrase | None, new: str | None) -> list[Path]:
        """Re-encrypt every private key file with ``new`` (None: no passphrase), all or nothing.

        Each file is decrypted with ``old`` and written re-encrypted beside it as ``NAME.rekey``
        (fsynced); only when all are written is ``rekey.commit`` written, and only then are they
        renamed over the old files. A failure or crash before the commit leaves every old file in
        place (the ``.rekey`` files are removed); after it, ``finish_rekey`` completes the renames on
        the next open, so the keys are always all old or all new.
        """
        self.finish_rekey()
        paths = self.private_key_paths()
        keys = [self._load_key("staged" if p == self.next_signing_path else p.stem, old, p) for p in paths]
        encryption: serialization.KeySerializationEncryption = (
            serialization.BestAvailableEncryption(new.encode()) if new else serialization.NoEncryption())
        written: list[Path] = []
        try:
            for path, key in zip(paths, keys, strict=True):
                assert isinstance(key, ed25519.Ed25519PrivateKey | x25519.X25519PrivateKey | mlkem.MLKEM768PrivateKey)
                target = path.with_name(path.name + REKEY_SUFFIX)
                written.append(target)
                _write_private(target, key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                         encryption))
            _write_private(self.keys_dir / REKEY_COMMIT, "\n".join(p.name for p in paths).encode() + b"\n")
        except (OSError, UserError) as exc:
            for target in written:
                with _suppress_oserror():
                    if target.is_file():
                        target.unlink()
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise UserError(f"cannot write the re-encrypted key {target} ({reason}); nothing was changed "
                            f"(the old passphrase still opens every key); free space or fix {self.keys_dir} and retry") from exc
        self.finish_rekey()
        log_event("keys.passphrase-changed", files=len(paths), encrypted=bool(new))
        return paths

    def finish_rekey(self) -> None:
        """Complete or undo a passphrase change a crash interrupted (see ``change_passphrase``)."""
        if not self.keys_dir.is_dir():
            return
        commit = self.keys_dir / REKEY_COMMIT
        if commit.exists():
            for name in commit.read_text().split():
                staged = self.keys_dir / (name + REKEY_SUFFIX)
                if staged.is_file():
                    os.replace(staged, self.keys_dir / name)
            _fsync_dir(self.keys_dir)
            commit.unlink()
            _fsync_dir(self.keys_dir)
            return
        for leftover in self.keys_dir.glob("*" + REKEY_SUFFIX):
            if leftover.is_file():  # an uncommitted change: the old files are the keys
                leftover.unlink()

    def key_file_modes(self) -> dict[str, int]:
        return {name: stat.S_IMODE((self.keys_dir / f).stat().st_mode) for name, f in KEY_FILES.items()}


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _suppress_oserror() -> contextlib.AbstractContextManager[None]:
    return contextlib.suppress(OSError)


def _write_private(path: Path, data: bytes) -> None:
    """Write ``data`` atomically to ``path`` with mode 0600 from the first byte on (the shared safe writer)."""
    write_private(path, data)
