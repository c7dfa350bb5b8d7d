"""The stores issue 9 item 2 moved out of node/core/federation.py, on a real SQLite file: pending
reactions count attempts and come back oldest first, a root is re-shared once, and a peer's sealing
keys come from its recorded card."""

from __future__ import annotations

import pytest

from storage.cards import CardStore
from storage.db import connect
from storage.reactions import ReactionStore
from storage.reshares import ReshareStore

A, B, C = b"\x01" * 32, b"\x02" * 32, b"\x03" * 32


@pytest.fixture
def db(tmp_path):
    db = connect(tmp_path / "s.db")
    yield db
    db.close()


def test_pending_reactions_count_attempts_and_keep_order(db):
    reactions = ReactionStore(db)
    reactions.add(B, 20)
    reactions.add(A, 10)
    reactions.add(A, 30)  # a second add keeps the first time
    assert reactions.pending() == [A, B]
    assert reactions.attempts(A) == 0
    assert reactions.failed(A) == 1
    assert reactions.failed(A) == 2
    assert reactions.attempts(A) == 2 and reactions.attempts(B) == 0
    reactions.done(A)
    assert reactions.pending() == [B] and reactions.attempts(A) is None


def test_a_root_is_reshared_once(db):
    reshares = ReshareStore(db)
    assert not reshares.has(A)
    reshares.record(A, B, 1)
    assert reshares.has(A) and not reshares.has(C)


def test_encryption_keys_come_from_the_recorded_card(db):
    cards = CardStore(db)
    assert cards.encryption_keys(A) is None
    db.execute("INSERT INTO org_cards (node_id, statement_id, seq, name, sector, url, x25519, mlkem768, updated_at) "
               "VALUES (?, ?, 1, 'Org', 'nonprofit', '', ?, ?, 1)", [A, B, b"x" * 32, b"m" * 1184])
    keys = cards.encryption_keys(A)
    assert keys is not None and keys.x25519 == b"x" * 32 and keys.mlkem768 == b"m" * 1184
