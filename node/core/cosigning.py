"""Witnessable checkpoints on a running node (docs/protocol.md 18.5 to 18.8).

Design: the node's latest ``checkpoint`` statement is also published as a C2SP checkpoint note
(``protocol/c2sp_note.py``), signed with the key that signed the statement, so that any
``c2sp.org/tlog-witness`` implementation configured with the node's vkey can cosign it. Partners
cosign each other: when ``Provenance`` has checked a partner's checkpoint against its own copy of
the partner's log (the roots match), it calls ``cosign``, which signs a ``cosignature/v1`` line
unless the checkpoint is smaller than, or a different tree of the same size as, the largest one it
already cosigned for that author (it never contradicts itself). The author collects the cosignatures
of its partners by asking each, after a pull, with a signed ``POST /federation/v1/cosignature``
(``fetch_from``), verifies them with the partner's current key and stores them; its checkpoint
note then carries them, as a witness network's checkpoints do, and its audit bundles can too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.core.federation import Federation
from node.logs import log_event
from protocol.c2sp_note import (
    COSIGNATURE_TYPE_ED25519,
    CheckpointText,
    SignedNote,
    checkpoint_text,
    cosign,
    key_id,
    origin_of,
    sign_note,
    verify_cosignature,
)
from protocol.errors import BAD_TIMESTAMP, MALFORMED, UNKNOWN_KEY, RemoteProtocolError
from protocol.merkle import tree_root
from protocol.provenance import Checkpoint
from protocol.statement import Statement
from storage.cosignatures import Cosignature, CosignatureStore
from storage.provenance import ProvenanceStore

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient

CHECKPOINT_PATH = "/federation/v1/checkpoint"
COSIGNATURE_PATH = "/federation/v1/cosignature"  # signed POST: the asker's checkpoint as we cosigned it
MAX_FUTURE_SECONDS = 3600  # a cosignature stamped further ahead of our clock is refused (bad-timestamp)


@dataclass
class Cosigning:
    federation: Federation

    @property
    def me(self) -> bytes:
        return self.federation.me

    @property
    def store(self) -> CosignatureStore:
        return CosignatureStore(self.federation.service.db)

    # --- the author's note -------------------------------------------------------------------

    def latest_own(self) -> tuple[Statement, Checkpoint] | None:
        found = ProvenanceStore(self.federation.service.db).latest_of_kind(self.me, Checkpoint.KIND)
        statement = self.federation.service.log.get(found) if found is not None else None
        if statement is None or statement.body is None:
            return None
        return statement, Checkpoint.from_value(statement.body_value())

    def own_note(self) -> bytes | None:
        """The latest own checkpoint as a signed note with the cosignatures held for it; None if there is
        no checkpoint yet, or the latest was signed by a key rotated away since (the caller signs a new one)."""
        latest = self.latest_own()
        identity = self.federation.service.identity
        if latest is None or latest[0].header.key != identity.signing_public:
            return None
        statement, checkpoint = latest
        text = checkpoint_text(self.me, checkpoint.size, checkpoint.root)
        line = sign_note(text, origin_of(self.me), identity.signing_public, identity.sign)
        cosignatures = [c.line for c in self.store.of_checkpoint(statement.id) if c.cosigner != self.me]
        return text + b"\n" + (line.encode() + "".join(cosignatures)).encode()

    # --- cosigning a partner's checkpoint ----------------------------------------------------

    def cosign(self, statement: Statement, checkpoint: Checkpoint) -> Cosignature | None:
        """Cosign ``statement`` (a partner's checkpoint whose root matched our copy of its log) unless it
        would contradict a cosignature we made: smaller than the largest cosigned, or the same size with
        another root, or a larger tree whose prefix is not the tree we cosigned (refused, logged)."""
        author = statement.author
        latest = self.store.latest_by(author, self.me)
        if latest is not None:
            if checkpoint.size < latest.size:
                return None  # not the largest tree seen: cosignature/v1 asserts the largest
            prefix = latest.root if checkpoint.size == latest.size else tree_root(
                ProvenanceStore(self.federation.service.db).ids_up_to(author, latest.size))
            if (checkpoint.size == latest.size and checkpoint.root != latest.root) or prefix != latest.root:
                log_event("cosign.refused", logging.WARNING, author=author, seq=statement.seq)
                return None
        identity = self.federation.service.identity
        text = checkpoint_text(author, checkpoint.size, checkpoint.root)
        timestamp = self.federation.clock() // 1000
        line = cosign(text, origin_of(self.me), identity.signing_public, timestamp, identity.sign)
        made = Cosignature(statement.id, author, checkpoint.size, checkpoint.root, self.me, timestamp, line.encode())
        self.store.add(made, self.federation.clock())
        return made

    def cosigned_note(self, author: bytes) -> bytes | None:
        """Our cosignature over ``author``'s largest checkpoint we cosigned, as a note signed by us alone."""
        latest = self.store.latest_by(author, self.me)
        if latest is None:
            return None
        return checkpoint_text(author, latest.size, latest.root) + b"\n" + latest.line.encode()

    # --- collecting partners' cosignatures of our checkpoints -----------------------------------

    def take_cosigned(self, peer: bytes, data: bytes) -> Cosignature | None:
        """Verify and store ``peer``'s cosignature note over one of our checkpoints.

        Refused (``RemoteProtocolError``, nothing stored): not a note (``malformed``), not one of our
        checkpoints (``malformed``), no line of the peer's current key (``unknown-key``), a line that
        does not verify (``bad-signature``), stamped more than an hour ahead (``bad-timestamp``).
        """
        note = SignedNote.decode(data)
        text = CheckpointText.decode(note.text)
        if text.origin != origin_of(self.me) or text.extensions:
            raise RemoteProtocolError(MALFORMED, "the note is not one of our checkpoints")
        statement = self._own_checkpoint(text.size, text.root)
        if statement is None:
            raise RemoteProtocolError(MALFORMED, "we signed no checkpoint of that size and root")
        history = self.federation.service.log.key_history(peer)
        if history is None:
            raise RemoteProtocolError(UNKNOWN_KEY, "no key history of the cosigner")
        name, key = origin_of(peer), history.current_key
        lines = note.lines_of(name, key_id(name, COSIGNATURE_TYPE_ED25519, key))
        if not lines:
            raise RemoteProtocolError(UNKNOWN_KEY, "no cosignature of the partner's current key")
        timestamp = verify_cosignature(note.text, lines[0], name, key)
        if timestamp > self.federation.clock() // 1000 + MAX_FUTURE_SECONDS:
            raise RemoteProtocolError(BAD_TIMESTAMP, "cosignature stamped in the future")
        got = Cosignature(statement.id, self.me, text.size, text.root, peer, timestamp, lines[0].encode())
        self.store.add(got, self.federation.clock())
        return got

    def _own_checkpoint(self, size: int, root: bytes) -> Statement | None:
        log = self.federation.service.log
        for statement_id in ProvenanceStore(self.federation.service.db).ids_of_kind(self.me, Checkpoint.KIND):
            statement = log.get(statement_id)
            if statement is not None and statement.body is not None:
                checkpoint = Checkpoint.from_value(statement.body_value())
                if checkpoint.size == size and checkpoint.root == root:
                    return statement
        return None

    async def fetch_from(self, client: FederationClient, peer: bytes, url: str) -> Cosignature | None:
        """Ask ``peer`` (at ``url``) for its cosignature over our latest checkpoint it cosigned; store it if it verifies.
        Failures are logged, never raised: a partner that cosigns nothing is no error."""
        try:
            answer = await client.post(url, COSIGNATURE_PATH, peer, b"")
            if answer.status != 200:
                return None  # 404: nothing of ours cosigned there yet; asked again after the next pull
            data = answer.body
            return self.take_cosigned(peer, data)
        except RemoteProtocolError as exc:
            log_event("cosignature.bad", logging.WARNING, peer=peer, code=exc.code)
        except Exception as exc:  # unreachable, or 404 (nothing cosigned yet): asked again after the next pull
            log_event("cosignature.unavailable", logging.DEBUG, peer=peer, error=type(exc).__name__)
        return None
