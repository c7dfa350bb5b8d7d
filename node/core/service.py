"""A node's state, opened from its home: identity, config, database and the log store.

The HTTP handlers, the admin API and the CLI's offline commands all go through this object, so
there is one implementation of every operation whichever surface asks for it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import sqlite_utils

from node.core.clock import Clock, RandomBytes, now_ms, system_random
from node.core.errors import UserError
from node.home import PASSPHRASE_ENV, Config, Home
from protocol.bodies import OrgCard
from protocol.card_bundle import encode_bundle
from protocol.identity import Identity
from protocol.statement import Statement
from protocol.versions import SUPPORTED, Versions
from storage.db import SchemaTooNew, connect
from storage.log_store import LogStore


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

    @classmethod
    def open(cls, home_path: Path, passphrase: str | None = None) -> NodeService:
        home = Home(home_path)
        config = home.load_config()
        identity = home.load_identity(passphrase)
        try:
            db = connect(home.db_path)
        except SchemaTooNew as exc:  # a newer orgnode wrote it: restoring a backup is not the advice
            raise UserError(f"cannot open the database {home.db_path}: {exc}") from exc
        except Exception as exc:  # sqlite3.DatabaseError and friends
            raise UserError(f"cannot open the database {home.db_path}: {exc}; restore it from a backup") from exc
        service = cls(home, config, identity, db, LogStore(db))
        service._finish_rotation(passphrase or os.environ.get(PASSPHRASE_ENV) or None)
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
            self.db.close()
            raise UserError("the log names a signing key this home does not hold: restore keys/ from the backup "
                            "taken after the last `orgnode key rotate`")

    def close(self) -> None:
        self.db.close()

    @property
    def node_id(self) -> bytes:
        return self.identity.node_id

    # --- own statements --------------------------------------------------------------------------

    def append(self, kind: str, body: object, *, private: bool, now: int | None = None) -> Statement:
        salt = self.random(32) if private else None
        return self.log.append_own(
            self.identity, kind=kind, body=body, now=now if now is not None else self.clock(), private=private, salt=salt
        )

    def org_card(self) -> OrgCard:
        return OrgCard(self.config.name, self.config.sector, self.config.url, self.identity.encryption_public)

    def publish_org_card(self) -> Statement:
        return self.append(OrgCard.KIND, self.org_card().to_value(), private=False)

    def card_statements(self) -> list[Statement]:
        """First statement, rotations and latest org card: what ``/.well-known/orgnode`` serves."""
        chosen = self.log.card_statements(self.node_id)
        if not chosen:
            raise UserError("this node has no org card yet: the home was not initialised completely")
        return chosen

    def card_bundle(self) -> bytes:
        return encode_bundle(self.card_statements())

    def own_statements(self) -> list[Statement]:
        return self.log.statements(self.node_id)
