"""A node's state, opened from its home: identity, config, database and the log store.

The HTTP handlers, the admin API and the CLI's offline commands all go through this object, so
there is one implementation of every operation whichever surface asks for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from node.core.clock import Clock, RandomBytes, now_ms, system_random
from node.core.disk import DiskWatch
from node.core.errors import UserError
from node.core.restore import offline_refused, raise_high_water, rollback_known
from node.home import Config, Home
from node.passphrase import Passphrase
from protocol.bodies import OrgCard
from protocol.card_bundle import encode_bundle
from protocol.identity import Identity
from protocol.statement import Statement
from protocol.versions import SUPPORTED, Versions
from storage.db import SchemaTooNew, connect, is_locked, watch_disk
from storage.errors import StorageFull, full_at_open
from storage.log_store import LogStore


def open_database(home: Home) -> sqlite_utils.Database:
    """Open and migrate the home's database; each way it can fail says what to do (nothing is left open)."""
    try:
        return connect(home.db_path)
    except StorageFull:
        raise  # the CLI and `orgnode run` print the disk-full message
    except SchemaTooNew as exc:  # a newer orgnode wrote it: restoring a backup is not the advice
        raise UserError(f"cannot open the database {home.db_path}: {exc}; upgrade orgnode to the release that wrote it") from exc
    except Exception as exc:  # sqlite3.DatabaseError and friends
        if full := full_at_open(exc, home.path):
            raise full from exc  # "disk I/O error" on a full disk: the disk-full message, not "restore a backup"
        if is_locked(exc):
            raise UserError(f"the database {home.db_path} is locked by another process (another orgnode, or a "
                            "tool holding it open): stop that process, then start again") from exc
        raise UserError(f"cannot open the database {home.db_path}: {exc}; if the file is damaged, restore the "
                        "home from a backup (`orgnode restore FILE --home NEW`)") from exc


@dataclass
class NodeService:
    home: Home
    config: Config
    identity: Identity
    db: sqlite_utils.Database
    log: LogStore
    # The node's one clock (ms) and one random source: every use case in node/core takes time and
    # random bytes from here (via ``Federation.clock``/``Federation.random``); tests give fake ones.
    clock: Clock = field(default=now_ms)
    random: RandomBytes = field(default=system_random)
    # The protocol versions (message sets) this node speaks and advertises (protocol/versions.py);
    # tests give a registry with a second version to run a newer node against an older one.
    versions: Versions = field(default=SUPPORTED)
    # The features (``OrgNode-Features``) each peer's last federation answer named, learnt by the
    # sync engine's negotiation; in memory, so one answer after a restart relearns them.
    peer_features: dict[bytes, frozenset[str]] = field(default_factory=dict)
    # The passphrase that opened the keys (None: they are not encrypted): a key written later (a
    # staged rotation key) is encrypted with the same one, wherever it came from (node/passphrase.py).
    passphrase: Passphrase | None = field(default=None, repr=False)
    # Whether the disk is full now: one warning per episode, whichever surface met it (issue 10 item 7).
    disk: DiskWatch = field(default_factory=lambda: DiskWatch(Path(".")))

    @classmethod
    def open(cls, home_path: Path, passphrase: Passphrase | str | None = None,
             passphrase_file: Path | None = None) -> NodeService:
        """Open a home; the key passphrase is ``passphrase``, else found by node/passphrase.py's order."""
        home = Home(home_path)
        config = home.load_config()
        if isinstance(passphrase, str):
            passphrase = Passphrase(passphrase, "the passphrase given")
        unlocked = passphrase or home.unlock(passphrase_file)
        identity = home.load_identity(unlocked)
        db = open_database(home)
        disk = DiskWatch(home.path)
        watch_disk(db, disk.refused, disk.recovered)
        service = cls(home, config, identity, db, LogStore(db), passphrase=unlocked, disk=disk)
        try:
            service._finish_rotation(unlocked.text if unlocked else None)
        except BaseException:
            db.close()  # a failed open leaves nothing open (issue 10 item 7)
            raise
        return service

    def _finish_rotation(self, passphrase: str | None) -> None:
        """Make the key files agree with the log after a rotation that a crash interrupted.

        ``rotate_key`` stages the new key, logs the rotation, then promotes the staged key. If the log
        names the staged key as current, promote it now; a staged key the log never adopted is dropped.
        """
        history = self.log.key_history(self.node_id)
        if history is None:
            return
        current = history.current_key
        staged = self.home.staged_signing_key(passphrase)
        if staged is not None and staged.public_key().public_bytes_raw() == current:
            self.home.promote_staged_key()
            self.identity = self.identity.with_signing_key(staged)
        elif staged is not None:
            self.home.next_signing_path.unlink()
        if self.identity.signing_public != current:
            raise UserError("the log names a signing key this home does not hold: restore keys/ from the backup "
                            "taken after the last `orgnode key rotate`")

    def close(self) -> None:
        self.db.close()

    @property
    def node_id(self) -> bytes:
        return self.identity.node_id

    # --- own statements --------------------------------------------------------------------------

    def append(self, kind: str, body: object, *, private: bool, now: int | None = None) -> Statement:
        """An own append outside the running node's gates (an offline `set-url`, `init`): refused when a
        rollback is known, since no partner is asked here (node/core/restore.py)."""
        self.refuse_if_rolled_back()
        salt = self.random(32) if private else None
        return self.log.append_own(
            self.identity, kind=kind, body=body, now=now if now is not None else self.clock(), private=private, salt=salt
        )

    def refuse_if_rolled_back(self) -> None:
        if rollback_known(self.home, self.log.head(self.node_id)):
            raise UserError(offline_refused(self.home))

    def note_high_water(self) -> None:
        """After an own append has committed: the high-water mark outside the database (node/core/restore.py)."""
        raise_high_water(self.home, self.log.head(self.node_id))

    def org_card(self) -> OrgCard:
        return OrgCard(self.config.name, self.config.sector, self.config.url, self.identity.encryption_public)

    def publish_org_card(self) -> Statement:
        return self.append(OrgCard.KIND, self.org_card().to_value(), private=False)

    def card_statements(self) -> list[Statement]:
        """First statement, rotations and latest org card: what ``/.well-known/orgnode`` serves."""
        chosen = self.log.card_statements(self.node_id)
        if not chosen:
            raise UserError("this node has no org card yet: the home was not initialised completely; make a fresh home with `orgnode init`")
        return chosen

    def card_bundle(self) -> bytes:
        return encode_bundle(self.card_statements())

    def own_statements(self) -> list[Statement]:
        return self.log.statements(self.node_id)
