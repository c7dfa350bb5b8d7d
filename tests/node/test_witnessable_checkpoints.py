"""Issue 13 item 3: a running node's checkpoint note verifies with an independent C2SP verifier
(tests/protocol/c2sp_reference.py, no orgnode imports), its partners' cosignatures reach it and verify
too, and a tampered note or cosignature is refused and stores nothing."""

from __future__ import annotations

import aiohttp
import pytest
from cryptography.exceptions import InvalidSignature

from protocol.bodies import Note
from protocol.c2sp_note import SignatureLine, SignedNote, origin_of
from protocol.errors import BAD_SIGNATURE, RemoteProtocolError
from protocol.merkle import tree_root
from protocol.provenance import Checkpoint
from storage.cosignatures import CosignatureStore
from tests.node.federation_helpers import head, ids_from, pair, wait_until
from tests.protocol import c2sp_reference as ref


async def fetch_note(node) -> tuple[int, str, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{node.port}/federation/v1/checkpoint") as resp:
            return resp.status, resp.headers["Content-Type"], await resp.read()


async def test_a_running_nodes_note_verifies_and_carries_its_partners_cosignatures(net):
    alice = await net.start("Alice Works")
    bob = await net.start("Bob Corp", sector="company")
    carol = await net.start("Carol Co", sector="company")
    await pair(alice, bob)
    await pair(alice, carol)
    alice.federation.append(Note.KIND, Note("news").to_value(), private=True)
    cp = alice.provenance.checkpoint(force=True)
    size = Checkpoint.from_value(cp.body_value()).size
    for partner in (bob, carol):
        await wait_until(lambda p=partner: head(p, alice) >= cp.seq, what="the partner to hold the checkpoint")
        await wait_until(lambda p=partner: CosignatureStore(p.service.db).latest_by(alice.service.node_id, p.service.node_id),
                         what="the partner to cosign it")
    # The author asks each partner after its pulls (signed POST /federation/v1/cosignature): no manual step.
    await wait_until(lambda: len(CosignatureStore(alice.service.db).of_checkpoint(cp.id)) == 2,
                     what="the author to collect both cosignatures")
    status, ctype, note = await fetch_note(alice)
    assert status == 200 and ctype.startswith("text/plain") and "charset=utf-8" in ctype
    key = alice.service.identity.signing_public
    text = ref.verify_ed25519_note(note, origin_of(alice.service.node_id), key)
    origin, got_size, root = ref.checkpoint(text)
    assert origin == "orgnode/" + alice.service.node_id.hex() and got_size == size
    assert root == tree_root(ids_from(alice, alice)[:size]), "the note's root is the checkpoint statement's Merkle root"
    for partner in (bob, carol):
        ts = ref.verify_cosignature(note, origin_of(partner.service.node_id), partner.service.identity.signing_public)
        assert 0 < ts <= partner.federation.clock() // 1000
    # tampering: another size, and a cosignature with a flipped signature bit
    with pytest.raises(InvalidSignature):
        ref.verify_ed25519_note(note.replace(f"\n{size}\n".encode(), f"\n{size + 1}\n".encode()), origin_of(alice.service.node_id), key)
    parsed = SignedNote.decode(note)
    bob_line = next(s for s in parsed.signatures if s.name == origin_of(bob.service.node_id))
    bad = SignatureLine(bob_line.name, bob_line.key_id, bob_line.signature[:-1] + bytes([bob_line.signature[-1] ^ 1]))
    tampered = SignedNote(parsed.text, (bad,)).encode()
    with pytest.raises(InvalidSignature):
        ref.verify_cosignature(tampered, bob_line.name, bob.service.identity.signing_public)
    before = list(alice.service.db.query("SELECT * FROM cosignatures"))
    with pytest.raises(RemoteProtocolError) as err:
        alice.provenance.cosigning.take_cosigned(bob.service.node_id, tampered)
    assert err.value.code == BAD_SIGNATURE
    assert list(alice.service.db.query("SELECT * FROM cosignatures")) == before, "a refused cosignature stores nothing"
    assert len(CosignatureStore(alice.service.db).of_checkpoint(cp.id)) == 2, "positive control: both real ones are held"


async def test_a_partner_never_cosigns_a_checkpoint_that_contradicts_its_copy(net):
    alice = await net.start("Alice Works")
    liar = await net.start("Liar Ltd", sector="company")
    await pair(alice, liar)
    liar.federation.append(Note.KIND, Note("real").to_value(), private=True)
    good = liar.provenance.checkpoint(force=True)
    await wait_until(lambda: CosignatureStore(alice.service.db).latest_by(liar.service.node_id, alice.service.node_id),
                     what="the honest checkpoint to be cosigned (positive control)")
    bogus = liar.federation.append(Checkpoint.KIND, Checkpoint(head(liar, liar), b"\x42" * 32).to_value(), private=False)
    await wait_until(lambda: list(alice.service.db.query("SELECT * FROM forks")), what="the lie to be flagged")
    held = CosignatureStore(alice.service.db)
    assert held.of_checkpoint(bogus.id) == [] and held.latest_by(liar.service.node_id, alice.service.node_id).checkpoint == good.id


async def test_audit_bundles_carry_cosignatures_and_audit_verify_checks_them(net):
    from dataclasses import replace

    from protocol import audit
    from protocol.audit_bundle import AuditBundle

    alice = await net.start("Alice Works")
    bob = await net.start("Bob Corp", sector="company")
    await pair(alice, bob)
    bob.federation.append(Note.KIND, Note("news").to_value(), private=True)
    cp = bob.provenance.checkpoint(force=True)
    await wait_until(lambda: CosignatureStore(alice.service.db).of_checkpoint(cp.id), what="alice to cosign bob's checkpoint")
    data, _ = alice.provenance.export_impact(0, alice.federation.clock())
    bundle = AuditBundle.decode(data)
    assert [c.checkpoint for c in bundle.cosignatures] == [cp.id]
    report = audit.verify(data)
    assert report.valid and "cosignatures" in report.passed, report.failed
    assert any("cosignature(s) by partners over 1 signed summaries of a history verify" in fact for fact in report.facts)
    assert not any("cosignature" in fact for fact in report.facts if "verify" not in fact)
    item = bundle.cosignatures[0]
    flipped = item.line[:-3] + (b"A" if item.line[-3:-2] != b"A" else b"B") + item.line[-2:]
    bad = audit.verify(replace(bundle, cosignatures=(replace(item, line=flipped),)).encode())
    assert not bad.valid and bad.failed.check == "cosignatures" and bad.failed.statement == cp.id
    bare = audit.verify(replace(bundle, cosignatures=()).encode())
    assert bare.valid and any("carry no cosignature" in note for note in bare.notes), "absent cosignatures are reported, not failed"
    assert not any("cosignature" in fact for fact in bare.facts), "a note, never listed as proven"
