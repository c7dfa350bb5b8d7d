"""The trust list in a real SQLite file: a blocked peer stays blocked, invites are single use,
the outbox is cleared when trust ends, scores graylist."""

from __future__ import annotations

import pytest

from protocol.errors import UNTRUSTED_SENDER, RemoteProtocolError
from storage.db import connect
from storage.peers import BLOCKED, REMOVED, TRUSTED, PeerStore

PEER = b"\x01" * 32


@pytest.fixture
def peers(tmp_path):
    db = connect(tmp_path / "p.db")
    yield PeerStore(db)
    db.close()


def test_blocked_peer_cannot_be_trusted_again_by_any_pairing_path(peers):
    peers.upsert(PEER, "http://127.0.0.1:1", TRUSTED, "invite", 1)
    peers.set_state(PEER, BLOCKED, 2)
    with pytest.raises(RemoteProtocolError) as info:
        peers.upsert(PEER, "http://127.0.0.1:1", TRUSTED, "lan", 3)
    assert info.value.code == UNTRUSTED_SENDER
    assert peers.get(PEER).state == BLOCKED
    # An admin's remove lifts the block; pairing again then works.
    peers.set_state(PEER, REMOVED, 4)
    assert peers.upsert(PEER, "http://127.0.0.1:1", TRUSTED, "invite", 5).state == TRUSTED


def test_invite_is_single_use(peers):
    peers.add_invite(b"i" * 16, b"s" * 32, 1, 100)
    assert peers.use_invite(b"i" * 16, PEER, 2) is True
    assert peers.use_invite(b"i" * 16, b"\x02" * 32, 3) is False
    assert peers.use_invite(b"j" * 16, PEER, 3) is False


def test_ending_trust_clears_the_outbox(peers):
    peers.upsert(PEER, "http://127.0.0.1:1", TRUSTED, "invite", 1)
    peers.enqueue(b"a" * 32, 1, [PEER], 1)
    peers.enqueue(b"b" * 32, 2, [PEER], 1)
    assert peers.outbox_batch(PEER, 10) == [b"a" * 32, b"b" * 32]
    peers.acknowledge(PEER, [b"a" * 32])
    assert peers.outbox_size(PEER) == 1
    peers.set_state(PEER, REMOVED, 2)
    assert peers.outbox_size(PEER) == 0


def test_invalid_data_graylists(peers):
    peers.upsert(PEER, "http://127.0.0.1:1", TRUSTED, "invite", 1)
    peer = None
    for _ in range(6):
        peer = peers.record(PEER, valid=0, invalid=1, now=1000, graylist_ms=60_000)
    assert peer is not None and peer.throttled_until == 61_000 and peer.invalid_count == 6
