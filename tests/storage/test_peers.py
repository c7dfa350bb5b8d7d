"""The trust list in a real SQLite file: a blocked peer stays blocked, invites are single use,
the outbox is cleared when trust ends, scores graylist."""

from __future__ import annotations

import os

import pytest

from protocol.errors import UNTRUSTED_SENDER, RemoteProtocolError
from storage.db import connect
from storage.peers import BLOCKED, REMOVED, TRUSTED, OrgIdentity, PeerStore

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


# --- issue 8 item 1: the identity consent is judged against -----------------------------------------


def _card(identity, name: str, sector: str, seq: int, prev):
    from protocol.bodies import OrgCard
    from protocol.statement import sign_statement

    body = OrgCard(name, sector, "http://127.0.0.1:9", identity.encryption_public).to_value()
    return sign_statement(identity, kind=OrgCard.KIND, seq=seq, prev=prev, now=1_000 + seq, body=body, private=False)


def test_item1_only_a_vouched_first_sight_or_a_confirmation_sets_the_consent_identity(tmp_path):
    from protocol.card_bundle import encode_bundle, verify_bundle
    from protocol.identity import Identity
    from storage.log_store import LogStore

    db = connect(tmp_path / "c.db")
    store, peers = LogStore(db), PeerStore(db)
    org, partner = Identity.from_random(os.urandom), b"\x02" * 32
    first = _card(org, "Northwind Corp", "company", 1, None)
    newer = _card(org, "Northwind Corp", "nonprofit", 2, first.id)
    bundle_first = verify_bundle(encode_bundle([first]))
    bundle_newer = verify_bundle(encode_bundle([first, newer]))
    keep = {"via": partner, "via_statement": b"\x03" * 32, "distance": 1, "now": 5}
    # The organization's own card in a relayed box: recorded (declared), never an identity for consent.
    store.keep_foreign([first], card=bundle_newer, vouched=False, **keep)
    assert peers.consent_identity(org.node_id) is None
    assert peers.declared_card(org.node_id) == ("Northwind Corp", "nonprofit")
    # A partner's re-share at first sight vouches; a later, newer bundle does not replace it ...
    store.keep_foreign([first], card=bundle_first, **keep)
    store.keep_foreign([first], card=bundle_newer, **keep)
    assert peers.consent_identity(org.node_id).sector == "company"
    # ... but is shown as a changed card.
    [changed] = peers.changed_cards()
    assert (changed.identity.sector, changed.declared_sector, changed.vouched_by) == ("company", "nonprofit", partner)
    # A LAN request makes it pending with its own card: still not confirmed.
    peers.upsert(org.node_id, "http://127.0.0.1:9", "pending_in", "lan", 6, sector="nonprofit", name="Northwind Corp")
    assert peers.consent_identity(org.node_id).source == "vouched" and peers.changed_cards() == []
    # An admin trusting it confirms the card it trusted.
    peers.upsert(org.node_id, "http://127.0.0.1:9", TRUSTED, "lan", 7, sector="nonprofit", name="Northwind Corp")
    assert peers.consent_identity(org.node_id) == OrgIdentity("Northwind Corp", "nonprofit", "confirmed")
    db.close()


def test_item1_migration_008_unpins_unconfirmed_lan_requests_and_backfills_vouched_cards(tmp_path):
    """006 pinned a sector for every peer, pending LAN strangers included; 008 undoes that for them
    and records re-share-only organizations' first cards as vouched."""
    import sqlite3

    import sqlite_utils

    from storage.db import MIGRATIONS, migrate

    db = sqlite_utils.Database(sqlite3.connect(str(tmp_path / "old.db"), isolation_level=None))
    migrate(db, [m for m in MIGRATIONS if m[0] != "008_confirmed_orgs"])
    stranger, partner, reshared, via = b"\x11" * 32, b"\x12" * 32, b"\x13" * 32, b"\x14" * 32
    for node_id, state, how in ((stranger, "pending_in", "lan"), (partner, "trusted", "invite")):
        db.execute("INSERT INTO peers (node_id, url, state, via, added_at, updated_at, sector) VALUES (?, 'http://x', ?, ?, 1, 1, ?)",
                   [node_id, state, how, "nonprofit"])
    for node_id in (stranger, partner, reshared):
        db.execute("INSERT INTO org_cards (node_id, statement_id, seq, name, sector, url, x25519, mlkem768, updated_at) "
                   "VALUES (?, ?, 1, 'Org', 'nonprofit', 'http://x', x'00', x'00', 1)", [node_id, node_id])
    db.execute("INSERT INTO foreign_statements (id, author, seq, kind, header, signature, via, via_statement, distance, received_at) "
               "VALUES (?, ?, 1, 'job', x'00', x'00', ?, ?, 1, 1)", [b"\x15" * 32, reshared, via, b"\x16" * 32])
    assert migrate(db) == ["008_confirmed_orgs"]
    peers = PeerStore(db)
    assert peers.consent_identity(stranger) is None
    assert peers.consent_identity(partner) == OrgIdentity("Org", "nonprofit", "confirmed")
    assert peers.consent_identity(reshared) == OrgIdentity("Org", "nonprofit", "vouched")
    db.close()
