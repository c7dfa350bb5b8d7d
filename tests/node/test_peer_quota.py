"""Per-peer quotas against amplification and disk exhaustion by a trusted peer (issue 8 item 12).

Real nodes over real sync: a peer past its stored-bytes quota has its data refused with
``over-quota`` and is flagged in ``trust list`` while another peer's data is still taken; held
(out-of-order) statements are capped per peer and dropped once older than the expiry on the node's clock.
"""

from __future__ import annotations

import dataclasses
import json

from node.cli.partners import _peer_lines
from node.core.clock import now_ms
from protocol.bodies import Note
from storage.quotas import DAY_MS
from tests.node.federation_helpers import FakeClock, Net, batch_of, head, next_notes, pair, signed_post, synced, wait_until
from tests.node.test_canary import admin_call

PUSH = "/federation/v1/push"


async def test_a_peer_over_its_stored_bytes_quota_is_refused_and_shown_and_others_are_unaffected(net: Net):
    holder = await net.start("Youth Futures")
    greedy = await net.start("Greedy Partner")
    other = await net.start("Other Partner")
    await pair(holder, greedy)
    await pair(holder, other)
    await synced(holder, greedy)
    await synced(holder, other)
    now = now_ms()
    used = max(holder.service.log.peer_usage(p.service.node_id, now).stored_bytes for p in (greedy, other))
    holder.service.log.quota = dataclasses.replace(holder.service.log.quota, stored_bytes=used + 4000)

    small = greedy.federation.append(Note.KIND, Note("below the quota", 1).to_value(), private=True)
    await wait_until(lambda: holder.service.log.get(small.id) is not None, what="the note below the quota")  # positive control
    big = greedy.federation.append(Note.KIND, Note("x" * 4000, 1).to_value(), private=True)
    await wait_until(lambda: holder.service.log.peer_usage(greedy.service.node_id, now_ms()).refused >= 1, what="refusal")
    assert holder.service.log.get(big.id) is None and head(holder, greedy) == small.seq

    fine = other.federation.append(Note.KIND, Note("y" * 2000, 1).to_value(), private=True)
    await wait_until(lambda: holder.service.log.get(fine.id) is not None, what="the other peer's note")

    status, raw = await admin_call(holder, "GET", "/trust")
    assert status == 200
    peers = {p["node_id"]: p for p in json.loads(raw)}
    flagged, unaffected = peers[greedy.service.node_id.hex()], peers[other.service.node_id.hex()]
    assert flagged["over_quota"] is True and flagged["usage"]["refused_over_quota"] >= 1
    assert flagged["usage"]["stored_bytes"] <= flagged["usage"]["stored_bytes_quota"]
    assert unaffected["over_quota"] is False and unaffected["usage"]["refused_over_quota"] == 0
    lines = _peer_lines(list(peers.values())).splitlines()
    assert any("Greedy Partner" in line and "OVER-QUOTA" in line for line in lines)
    assert not any("Other Partner" in line and "OVER-QUOTA" in line for line in lines)
    # The refusal was not counted as misbehaviour: the greedy peer is not throttled.
    assert flagged["throttled"] is False


async def test_held_statements_are_capped_per_peer_and_expire(net: Net):
    holder = await net.start("Youth Futures")
    peer = await net.start("Partner")
    await pair(holder, peer)
    await synced(holder, peer)
    clock = [now_ms()]
    holder.federation.clock = lambda: clock[0]
    holder.service.log.quota = dataclasses.replace(holder.service.log.quota, held=2)
    n1, n2, n3, n4, n5 = next_notes(peer, ["one", "two", "three", "four", "five"])
    identity = peer.service.identity

    # Out of order: n3 and n4 are held; a third held statement from this peer is over its quota.
    assert (await signed_post(holder, PUSH, batch_of(n3, n4, n5), identity)).results() == ["held", "held", "over-quota"]
    # A day and more later (on the node's clock), n3 and n4 are gone; n2 arriving now is held afresh.
    clock[0] += DAY_MS + 1
    assert (await signed_post(holder, PUSH, batch_of(n2), identity)).results() == ["held"]
    assert [bytes(r["id"]) for r in holder.service.db.query("SELECT id FROM held")] == [n2.id]
    # n1 fills the gap: n2 (held within the expiry) is released, the expired n3 and n4 are not.
    assert (await signed_post(holder, PUSH, batch_of(n1), identity)).results() == ["appended"]
    assert head(holder, peer) == n2.seq
    assert holder.service.log.get(n3.id) is None and holder.service.log.get(n4.id) is None



async def test_re_shared_volume_per_day_is_capped_per_peer_and_resets_the_next_day(net: Net):
    """A–B–H in a line: B re-shares A's jobs to H. Once B's re-shares of the day fill H's daily quota,
    the next one is refused with over-quota (the first, below the quota, was taken: positive
    control); on the next day of H's clock it is taken when H pulls from B again."""
    a = await net.start("Northwind", sector="company")
    b = await net.start("Green Works")
    h = await net.start("Youth Futures")
    await pair(a, b)
    await pair(b, h)
    await synced(h, b)
    clock = FakeClock(follow_wall=True)  # ticks (H's want waits for nearer offers), and jumps a day below
    h.federation.clock = clock
    first = a.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: h.talent.store.job(first.job_id) is not None, what="the first re-shared job")
    today = h.service.log.peer_usage(b.service.node_id, clock()).reshare_bytes_today
    assert today > 0
    h.service.log.quota = dataclasses.replace(h.service.log.quota, reshare_bytes_per_day=today + 50)
    second = a.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: h.service.log.peer_usage(b.service.node_id, clock()).refused >= 1, what="re-share refused")
    assert h.talent.store.job(second.job_id) is None
    clock.advance(DAY_MS)
    h.sync.timers_changed()  # a want waiting on H's clock is due now
    await wait_until(lambda: h.talent.store.job(second.job_id) is not None, what="the second re-shared job the next day")


def charged_bytes_on_disk(runtime, peer: bytes) -> int:
    """What ``peer`` makes ``runtime`` keep right now, from the rows themselves: its statements in the
    log (an erased body no longer counts) and the relayed statements kept and charged to it."""
    entries = next(runtime.service.db.query(
        "SELECT COALESCE(SUM(LENGTH(header) + LENGTH(signature) + COALESCE(LENGTH(salt), 0) + COALESCE(LENGTH(body), 0)), 0) "
        "AS n FROM entries WHERE received_from = ?", [peer]))["n"]
    foreign = next(runtime.service.db.query(
        "SELECT COALESCE(SUM(LENGTH(header) + LENGTH(signature) + COALESCE(LENGTH(salt), 0) + COALESCE(LENGTH(body), 0)), 0) "
        "AS n FROM foreign_statements WHERE charged_to = ?", [peer]))["n"]
    return int(entries + foreign)


async def test_relayed_statements_are_charged_to_the_delivering_peer_and_erasure_gives_the_bytes_back(net: Net):
    """A–B–C: C refers a candidate to A's job through B. The box B delivered is erased once opened, so
    B's quota at A stops counting it; the profile and referral it carried are kept at A and charged to
    B instead. When C withdraws, A erases the profile and B's usage drops by its bytes."""
    a = await net.start("Northwind", sector="company")
    b = await net.start("Green Works")
    c = await net.start("Youth Futures")
    await pair(a, b)
    await pair(b, c)
    job = a.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: c.talent.store.job(job.job_id) is not None, what="re-shared job at C")
    candidate, _ = c.talent.add_candidate(name="Relayed Person", email="rp@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    c.talent.refer(candidate.candidate_id, job.job_id, note="x" * 600)
    await wait_until(lambda: a.talent.store.referrals(), what="relayed referral at A")
    bid = b.service.node_id
    kept = list(a.service.db.query("SELECT id, charged_to FROM foreign_statements WHERE author = ?", [c.service.node_id]))
    assert kept and all(bytes(r["charged_to"]) == bid for r in kept)
    assert a.service.log.peer_usage(bid, a.federation.clock()).stored_bytes == charged_bytes_on_disk(a, bid)

    rid = a.talent.store.referrals()[0].referral_id
    profile_bytes = {bytes(r["id"]): int(r["n"]) for r in a.service.db.query(
        "SELECT id, LENGTH(body) + COALESCE(LENGTH(salt), 0) AS n FROM foreign_statements "
        "WHERE author = ? AND kind = 'referral_profile' AND charged_to = ?", [c.service.node_id, bid])}
    assert profile_bytes and all(n > 600 for n in profile_bytes.values())  # positive control: charged to B
    c.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: a.talent.store.profile(rid) is None, what="erasure at A")
    # Exactly what B makes A keep is counted (other statements of B's may have arrived meanwhile), and
    # the erased profile's body is no longer part of it: its bytes went back to B's quota.
    after = a.service.log.peer_usage(bid, a.federation.clock()).stored_bytes
    assert after == charged_bytes_on_disk(a, bid)
    erased = [r for r in a.service.db.query("SELECT id FROM foreign_statements WHERE body IS NULL AND charged_to = ?", [bid])]
    assert set(profile_bytes) <= {bytes(r["id"]) for r in erased}


async def test_erasing_a_partners_profile_gives_its_bytes_back(net: Net):
    """A direct partner's referral profile is in the log, charged to it; erased on withdrawal, its
    body's bytes are no longer counted against the partner's quota."""
    a = await net.start("Northwind", sector="company")
    b = await net.start("Green Works")
    await pair(a, b)
    job = a.talent.post_job(title="Driver", skills=["driving"], hops=1)
    await wait_until(lambda: b.talent.store.job(job.job_id) is not None, what="job at B")
    candidate, _ = b.talent.add_candidate(name="Direct Person", email="dp@example.org", skills=["driving"],
                                          consent=["refer"], consent_scope="all", consent_evidence="form")
    b.talent.refer(candidate.candidate_id, job.job_id, note="y" * 800)
    await wait_until(lambda: a.talent.store.referrals(), what="referral at A")
    rid = a.talent.store.referrals()[0].referral_id
    bid = b.service.node_id
    assert a.service.log.peer_usage(bid, a.federation.clock()).stored_bytes == charged_bytes_on_disk(a, bid)
    b.talent.withdraw_consent(candidate.candidate_id)
    await wait_until(lambda: a.talent.store.profile(rid) is None, what="erasure at A")
    await synced(a, b)
    assert a.service.log.peer_usage(bid, a.federation.clock()).stored_bytes == charged_bytes_on_disk(a, bid)


async def test_held_statements_expire_on_the_timer_without_another_arriving(net: Net):
    """Out-of-order statements are dropped once older than the expiry on the node's clock by the
    node's own timer, even if the peer never sends anything again."""
    holder = await net.start("Holder")
    peer = await net.start("Partner")
    await pair(holder, peer)
    await synced(holder, peer)
    await net.halt(peer)  # nothing more comes from the peer, not even by sync
    clock = [now_ms()]
    holder.federation.clock = lambda: clock[0]
    _, n2, n3 = next_notes(peer, ["one", "two", "three"])
    assert (await signed_post(holder, PUSH, batch_of(n2, n3), peer.service.identity)).results() == ["held", "held"]
    assert holder.service.log.peer_usage(peer.service.node_id, clock[0]).held == 2
    clock[0] += DAY_MS // 2  # half the expiry: still held after the timer has run
    holder.sync.run_timers()
    assert next(holder.service.db.query("SELECT COUNT(*) AS n FROM held"))["n"] == 2
    clock[0] += DAY_MS // 2 + 1
    await wait_until(lambda: next(holder.service.db.query("SELECT COUNT(*) AS n FROM held"))["n"] == 0,
                     what="held statements expired by the timer")


async def test_over_quota_flag_follows_the_nodes_clock(net: Net):
    """``over_quota`` in ``trust list`` lasts a day of the node's (injected) clock, not of the wall clock."""
    holder = await net.start("Holder")
    peer = await net.start("Partner")
    await pair(holder, peer)
    await synced(holder, peer)
    clock = [now_ms()]
    holder.federation.clock = lambda: clock[0]
    holder.service.log.quota = dataclasses.replace(holder.service.log.quota, held=1)
    _, n2, n3 = next_notes(peer, ["one", "two", "three"])
    assert (await signed_post(holder, PUSH, batch_of(n2, n3), peer.service.identity)).results() == ["held", "over-quota"]

    async def flagged() -> bool:
        status, raw = await admin_call(holder, "GET", "/trust")
        assert status == 200
        return {p["node_id"]: p for p in json.loads(raw)}[peer.service.node_id.hex()]["over_quota"]

    assert await flagged() is True
    clock[0] += DAY_MS + 1
    assert await flagged() is False
