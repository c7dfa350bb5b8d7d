"""The canary's raw-file scan (main database file + WAL, after a checkpoint) extended to the two
places issue 8 names: (a) a relay node's files, after a referral went through the trust path
A–B–C with B relaying, and (b) an erased holder's files after `orgnode candidate erase`.

Markers as in tests/node/test_canary.py (unique strings in every field, found also hex-encoded).
Positive controls in the same test: before the erasure the holder's and the recipient's files do
hold the referred candidate's markers (so the scan sees what a leak would look like), and after it
the holder's files still hold the markers of another candidate it keeps (so the scan of the very
same files still works)."""

from __future__ import annotations

from node.runtime import NodeRuntime
from tests.node.federation_helpers import Net, db_bytes, pair, wait_until
from tests.node.test_canary import JOB_SKILLS, MARKED_FIELDS, Canary, hits
from tests.node.test_candidate_erasure import admin


def raw_files(node: NodeRuntime) -> bytes:
    """Every byte of the node's database files as someone with disk access reads them, after folding the WAL in."""
    node.service.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return db_bytes(node.service.home.path)


async def add_referable(canary: Canary, node: NodeRuntime) -> str:
    """A consented candidate with a marker in every field, staff notes and consent evidence included."""
    me = node.service.node_id
    m = {f: canary.marker(me, f) for f in (*MARKED_FIELDS, "notes", "evidence")}
    status, data = await admin(node, "/candidates/add", {
        "name": f"{m['name']} Referred", "email": f"{m['email']}@example.org", "phone": f"+1 555 {m['phone']}",
        "location": f"{m['location']}, Springfield", "skills": ", ".join([*JOB_SKILLS, f"{m['skill']} welding"]),
        "medal": "silver", "for_job": f"{m['forjob']} night supervisor", "notes": f"{m['notes']} met at the fair",
        "consent": "match,refer", "consent_scope": "all", "consent_evidence": f"{m['evidence']} signed form"})
    assert status == 200, data
    return str(data["id"])


async def test_relay_and_erased_holder_raw_files_hold_no_marker(net: Net):
    holder = await net.start("Youth Futures", sector="nonprofit")
    relay = await net.start("Green Works", sector="social_enterprise")
    recipient = await net.start("Northwind", sector="company")
    await pair(holder, relay)
    await pair(relay, recipient)
    job = recipient.talent.post_job(title="Team lead", skills=JOB_SKILLS, hops=2)
    await wait_until(lambda: holder.talent.store.job(job.job_id), 15, what="the job at the holder, re-shared by the relay")
    assert holder.talent.store.job(job.job_id).via == relay.service.node_id

    referred_canary, kept_canary = Canary(), Canary()
    cid = await add_referable(referred_canary, holder)
    kept_canary.add(holder, "kept, no consent")
    referred, kept = referred_canary.all(), kept_canary.all()
    status, data = await admin(holder, "/refer", {"candidate_id": cid, "job_id": job.job_id.hex()})
    assert status == 200, data
    await wait_until(lambda: [r for r in recipient.talent.store.referrals() if r.status == "sent" or r.status == "received"], 15,
                     what="the referral at the recipient, through the relay")
    await wait_until(lambda: getattr(holder.talent.store.referral(bytes.fromhex(data["id"])), "status", None) == "received", 15,
                     what="the recipient's 'received' back at the holder, through the relay")

    # Positive controls: the profile really went through B and is held where it should be.
    assert sorted(hits(raw_files(holder), referred)) == sorted(referred)
    assert hits(raw_files(recipient), referred), "the recipient holds the referred profile"
    assert list(relay.service.db.query("SELECT 1 FROM relay_seen")), "B relayed boxes"
    assert not recipient.federation.peers.is_trusted(holder.service.node_id)
    # (a) The relay carried it all and holds none of it.
    assert hits(raw_files(relay), referred + kept) == []

    status, erased = await admin(holder, "/candidates/erase", {"id": cid})
    assert status == 200 and erased["recipients_notified"] == [recipient.service.node_id.hex()], erased
    # Straight after the command, without any checkpoint by this test: the node folded its WAL itself.
    assert hits(db_bytes(holder.service.home.path), referred) == []
    await wait_until(lambda: all(d.acked_at is not None for d in holder.talent.store.disclosures(bytes.fromhex(cid))), 15,
                     what="the recipient's erasure receipt, back through the relay")

    # (b) The erased holder's files: zero hits of the erased candidate; the kept one is still found.
    holder_files = raw_files(holder)
    assert hits(holder_files, referred) == []
    assert sorted(hits(holder_files, kept)) == sorted(kept)
    assert hits(raw_files(recipient), referred + kept) == []
    assert hits(raw_files(relay), referred + kept) == []
