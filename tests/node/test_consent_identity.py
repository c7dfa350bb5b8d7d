"""Issue 8 items 1, 2 and 19: the sector (and name) consent is judged against, pairing that confirms
who the partner is, and managing invites. Real nodes on 127.0.0.1, real pairing over HTTP, and the
real ``orgnode`` CLI (in subprocesses) against their admin sockets.

Rule under test: the sector used for consent is only one an admin of this node confirmed (invite
accept, LAN approval) or the one a trusted partner vouched for at first sight. Nothing an untrusted
sender supplies (a LAN pairing request, a newer card in its re-shared log) changes it; a changed card
is shown in `orgnode trust list`, never used silently.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from node.core.errors import UserError
from node.lan.discovery import Found
from node.runtime import NodeRuntime
from protocol.bodies import OrgCard
from protocol.invite import TOKEN_PREFIX, InviteToken
from protocol.lan_pairing import LanAnnouncement
from storage import peers as P
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import Net, pair, wait_until


async def cli(node: NodeRuntime, *args: str) -> tuple[int, str, str]:
    result = await asyncio.to_thread(orgnode, "--home", str(node.service.home.path), *args, check=False)
    return result.returncode, result.stdout, result.stderr


async def cli_json(node: NodeRuntime, *args: str) -> Any:
    rc, out, err = await cli(node, *args, "--json")
    assert rc == 0, err
    return json.loads(out)


def announced_as(*nodes: NodeRuntime) -> Any:
    """A stand-in for mDNS browsing (as in test_discovery.py): what ``nodes`` announce."""

    def found(a: LanAnnouncement) -> Found:
        return Found(a, a.to_txt(), f"orgnode-{a.node_id.hex()[:16]}._orgnode._tcp.local.", ())

    async def browse(seconds: float, stop_when: Any = None) -> list[Found]:
        return [found(n.lan.discovery.announcement()) for n in nodes]

    return browse


def relabel(node: NodeRuntime, sector: str, name: str | None = None) -> Any:
    """The node publishes a new org card in its own log (a validly signed claim about itself)."""
    card = OrgCard(name or node.service.config.name, sector, node.service.config.url, node.service.identity.encryption_public)
    return node.federation.append(OrgCard.KIND, card.to_value(), private=False)


def nonprofit_only_candidate(holder: NodeRuntime) -> bytes:
    candidate, _ = holder.talent.add_candidate(name="Ilse Varga", email="ilse.varga@example.org", skills=["driving"],
                                               consent=["match", "refer"], consent_scope="sector:nonprofit",
                                               consent_evidence="signed form: non-profits only")
    return candidate.candidate_id


def refused(holder: NodeRuntime, candidate_id: bytes, job_id: bytes) -> bool:
    with pytest.raises(UserError, match="consent does not cover"):
        holder.talent.refer(candidate_id, job_id)
    return True


async def line(net: Net) -> tuple[NodeRuntime, NodeRuntime, NodeRuntime, Any]:
    """corp (company) – hub – holder (nonprofit): corp is not the holder's partner; its job (hops 2)
    reaches the holder only through the hub's re-share, with corp's card as the hub vouches for it."""
    corp = await net.start("Northwind Corp", sector="company")
    hub = await net.start("Green Works", sector="social_enterprise")
    holder = await net.start("Youth Futures", sector="nonprofit")
    await pair(corp, hub)
    await pair(hub, holder)
    job = corp.talent.post_job(title="Driver", skills=["driving"], hops=2)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="re-shared job at the holder")
    return corp, hub, holder, job


# --- item 1 --------------------------------------------------------------------------------------


async def test_item1_a_non_partner_cannot_make_itself_a_nonprofit(net):
    corp, hub, holder, job = await line(net)
    corp_id = corp.service.node_id
    candidate_id = nonprofit_only_candidate(holder)
    assert refused(holder, candidate_id, job.job_id)  # a company: "non-profits only" does not cover it

    # 1. Through its own log: corp declares itself a non-profit; the hub (its partner) replicates the
    #    card and flags it, and no longer re-shares corp's jobs (it would carry the new card, which the
    #    holder would vouch for): the holder keeps judging corp as the company the hub vouched for.
    card = relabel(corp, "nonprofit")
    await wait_until(lambda: hub.service.log.get(card.id) is not None, what="new card at the hub")
    job2 = corp.talent.post_job(title="Driver (nights)", skills=["driving"], hops=2)
    await wait_until(lambda: hub.talent.store.job(job2.job_id) is not None and not list(
        hub.service.db.query("SELECT 1 FROM pending_reactions")), what="second job taken in and reacted to at the hub")
    # Positive control: the hub's own next job reaches the holder (after anything queued before it).
    control = hub.talent.post_job(title="Driver (weekends)", skills=["driving"], hops=1)
    await wait_until(lambda: holder.talent.store.job(control.job_id) is not None, what="the hub's job at the holder")
    assert holder.talent.store.job(job2.job_id) is None
    assert refused(holder, candidate_id, job.job_id)
    assert holder.federation.peers.consent_identity(corp_id) == P.OrgIdentity("Northwind Corp", "company", "vouched")
    rc, out, err = await cli(hub, "trust", "list")
    assert rc == 0, err
    row = next(line for line in out.splitlines() if line.startswith(corp_id.hex()[:16]))
    assert "company (confirmed)" in row and "NOW-CLAIMS-NONPROFIT" in row
    # The hub's admin re-confirms corp with its new card (pairing again): corp's jobs are re-shared
    # again, with that card; the holder records it but still judges corp as vouched at first sight.
    await pair(hub, corp)
    assert hub.federation.peers.consent_identity(corp_id) == P.OrgIdentity("Northwind Corp", "nonprofit", "confirmed")
    job2 = corp.talent.post_job(title="Driver (nights, again)", skills=["driving"], hops=2)
    await wait_until(lambda: holder.talent.store.job(job2.job_id) is not None, what="re-shared job after the re-confirmation")
    assert refused(holder, candidate_id, job2.job_id)
    changed = await cli_json(holder, "trust", "changed")
    assert [(c["node_id"], c["consent_sector"], c["declared_sector"], c["vouched_by_node_id"]) for c in changed] == [
        (corp_id.hex(), "company", "nonprofit", hub.service.node_id.hex())]

    # 2. Through a LAN pairing request: corp asks the holder to pair, enclosing its (nonprofit) card.
    corp.lan.discovery.browse = announced_as(holder)  # type: ignore[method-assign]
    await corp.lan.request(holder.service.node_id.hex(), 1.0)
    assert holder.federation.peers.get(corp_id).state == P.PENDING_IN
    assert refused(holder, candidate_id, job.job_id)
    pending = await cli_json(holder, "trust", "pending")
    assert [(p["node_id"], p["consent_sector"], p["consent_basis"], p["declared_sector"]) for p in pending] == [
        (corp_id.hex(), "company", "vouched", "nonprofit")]
    rc, out, err = await cli(holder, "trust", "list")
    row = next(line for line in out.splitlines() if line.startswith(corp_id.hex()[:16]))
    assert "pending_in" in row and "company (vouched)" in row and "NOW-CLAIMS-NONPROFIT" in row
    assert holder.service.log.get(card.id) is None  # never replicated: only its pairing request brought the card

    # Positive control: a partner this node's admin confirmed as a non-profit gets the referral.
    partner = await net.start("Open Hands", sector="nonprofit")
    await pair(partner, holder)
    job3 = partner.talent.post_job(title="Driver (days)", skills=["driving"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job3.job_id) is not None, what="partner's job at the holder")
    holder.talent.refer(candidate_id, job3.job_id)
    await wait_until(lambda: partner.talent.store.referrals(), what="referral at the confirmed non-profit partner")

    # The holder's admin approving the request is a confirmation: from then on corp is judged as the
    # card the admin approved (here the non-profit one it saw in `trust pending`).
    await holder.lan.approve(corp_id.hex())
    assert holder.federation.peers.consent_identity(corp_id) == P.OrgIdentity("Northwind Corp", "nonprofit", "confirmed")
    # (the holder now releases; corp's own node still judges by its configured sector, a separate check)
    assert holder.talent.refer(candidate_id, job.job_id)["status"] == "sent"


async def test_item1_approval_confirms_only_the_card_the_admin_saw(net):
    corp, _hub, holder, job = await line(net)
    corp_id = corp.service.node_id
    candidate_id = nonprofit_only_candidate(holder)
    corp.lan.discovery.browse = announced_as(holder)  # type: ignore[method-assign]
    await corp.lan.request(holder.service.node_id.hex(), 1.0)  # with its company card
    relabel(corp, "nonprofit")  # and then, before the admin approves, a different card
    with pytest.raises(UserError, match=r"card changed since it asked.*nothing was trusted"):
        await holder.lan.approve(corp_id.hex())
    assert holder.federation.peers.get(corp_id).state == P.PENDING_IN
    assert refused(holder, candidate_id, job.job_id)
    pending = await cli_json(holder, "trust", "pending")
    assert pending[0]["declared_sector"] == "nonprofit"  # now shown for review
    # Approving again, having seen it, confirms it.
    view = await holder.lan.approve(corp_id.hex())
    assert view["state"] == P.TRUSTED and view["consent_sector"] == "nonprofit" and view["consent_basis"] == "confirmed"


async def test_item1_a_confirm_with_another_card_than_the_one_asked_for_is_refused(net):
    """The holder's admin asked corp to pair having seen its company card; corp then relabels itself
    and approves: the holder does not trust it on the new card, and corp's admin is told why."""
    corp, _hub, holder, job = await line(net)
    corp_id = corp.service.node_id
    candidate_id = nonprofit_only_candidate(holder)
    holder.lan.discovery.browse = announced_as(corp)  # type: ignore[method-assign]
    await holder.lan.request(corp_id.hex(), 1.0)
    relabel(corp, "nonprofit")
    with pytest.raises(UserError, match="org card changed since it asked to pair"):
        await corp.lan.approve(holder.service.node_id.hex())
    assert holder.federation.peers.get(corp_id).state == P.PENDING_OUT
    assert not corp.federation.peers.is_trusted(holder.service.node_id)
    assert refused(holder, candidate_id, job.job_id)
    # Positive control: asking again (the admin now sees the new card) and approving pairs them.
    holder.federation.peers.set_state(corp_id, P.REMOVED, 0)
    await holder.lan.request(corp_id.hex(), 1.0)
    await corp.lan.approve(holder.service.node_id.hex())
    await wait_until(lambda: holder.federation.peers.is_trusted(corp_id), what="trusted after asking again")
    assert holder.federation.peers.consent_identity(corp_id) == P.OrgIdentity("Northwind Corp", "nonprofit", "confirmed")


async def test_item1_a_confirmed_partner_relabelling_itself_is_flagged_not_used(net):
    holder = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind Corp", sector="company")
    await pair(holder, corp)
    candidate_id = nonprofit_only_candidate(holder)
    job = corp.talent.post_job(title="Driver", skills=["driving"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None)
    card = relabel(corp, "nonprofit", name="Northwind Foundation")
    await wait_until(lambda: holder.service.log.get(card.id) is not None, what="new card at the holder")
    assert refused(holder, candidate_id, job.job_id)
    rc, out, _ = await cli(holder, "trust", "list")
    row = next(line for line in out.splitlines() if line.startswith(corp.service.node_id.hex()[:16]))
    assert "Northwind Corp" in row and "company (confirmed)" in row
    assert "NOW-CLAIMS-NONPROFIT" in row and "NOW-CALLS-ITSELF-'Northwind Foundation'" in row


# --- item 2 --------------------------------------------------------------------------------------


async def test_item2_invite_for_a_named_nonprofit_refuses_another_card_with_the_reason(net):
    inviter = await net.start("Youth Futures", sector="nonprofit")
    impostor = await net.start("Northwind Corp", sector="company")
    partner = await net.start("Open Hands", sector="nonprofit")
    rc, out, err = await cli(inviter, "invite", "--name", "Open Hands", "--sector", "nonprofit")
    assert rc == 0, err
    token = next(line.strip() for line in out.splitlines() if line.startswith(TOKEN_PREFIX))
    assert "Only Open Hands (nonprofit) can use it" in out and inviter.service.identity.fingerprint in out

    # The wrong organization is refused, with the reason, on its side ...
    rc, out, err = await cli(impostor, "trust", "accept", token)
    assert rc != 0
    assert "sector 'company', but the invite is for sector 'nonprofit'" in err and "name 'Northwind Corp'" in err
    assert not inviter.federation.peers.get(impostor.service.node_id) and not impostor.federation.peers.trusted()
    # ... and on the inviter's (the invite stays open for the organization it is for).
    [listed] = await cli_json(inviter, "invite", "list")
    assert listed["status"] == "open" and "sector 'company'" in listed["last_refusal"]
    rc, out, _ = await cli(inviter, "invite", "list")
    assert "last refused: the accepting node's org card says name 'Northwind Corp'" in out

    # The organization it is for is accepted; both sides see name, sector and fingerprint.
    rc, out, err = await cli(partner, "trust", "accept", token)
    assert rc == 0, err
    assert "Youth Futures (nonprofit)" in out and inviter.service.identity.fingerprint in out
    assert inviter.federation.peers.is_trusted(partner.service.node_id)
    rc, out, _ = await cli(inviter, "invite", "list")
    assert "used" in out and f"by Open Hands (nonprofit) {partner.service.identity.fingerprint}" in out
    rc, out, _ = await cli(inviter, "trust", "list")
    row = next(line for line in out.splitlines() if line.startswith(partner.service.node_id.hex()[:16]))
    assert "Open Hands" in row and "nonprofit (confirmed)" in row and partner.service.identity.fingerprint in row


async def test_item2_invite_options_are_checked(net):
    inviter = await net.start("Youth Futures", sector="nonprofit")
    rc, _, err = await cli(inviter, "invite", "--sector", "charity")
    assert rc != 0 and "invalid choice" in err
    rc, _, err = await cli(inviter, "invite", "--name", "   ")
    assert rc != 0 and "--name" in err and "empty" in err
    assert await cli_json(inviter, "invite", "list") == []


async def test_invite_without_a_sector_warns_that_the_redeemer_confirms_its_own_sector(net):
    inviter = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind Corp", sector="company")
    rc, out, err = await cli(inviter, "invite")
    assert rc == 0, err
    assert "WARNING: this invite does not say which organization it is for" in out and "--sector" in out
    token = next(line.strip() for line in out.splitlines() if line.startswith(TOKEN_PREFIX))
    # What the warning says is what happens: the redeemer is confirmed with its own declared sector.
    rc, _, err = await cli(corp, "trust", "accept", token)
    assert rc == 0, err
    assert inviter.federation.peers.consent_identity(corp.service.node_id) == P.OrgIdentity(
        "Northwind Corp", "company", "confirmed")
    made = await cli_json(inviter, "invite")
    assert "--sector" in made["warning"]
    assert "--name" in (await cli_json(inviter, "invite", "--sector", "nonprofit"))["warning"]
    # Positive control: an invite naming both carries no warning.
    rc, out, _ = await cli(inviter, "invite", "--name", "Open Hands", "--sector", "nonprofit")
    assert rc == 0 and "WARNING" not in out
    assert (await cli_json(inviter, "invite", "--name", "Open Hands", "--sector", "nonprofit"))["warning"] is None


# --- item 19 -------------------------------------------------------------------------------------


async def test_item19_invite_list_and_revoke(net):
    inviter = await net.start("Youth Futures", sector="nonprofit")
    friend = await net.start("Open Hands", sector="nonprofit")
    other = await net.start("Green Works", sector="social_enterprise")
    made = [await cli_json(inviter, "invite", "--expires", "2d") for _ in range(2)]
    tokens = [InviteToken.decode(m["token"]) for m in made]
    listed = await cli_json(inviter, "invite", "list")
    assert [(i["invite_id"], i["status"]) for i in listed] == [(m["invite_id"], "open") for m in made]
    rc, human, _ = await cli(inviter, "invite", "list")
    for m, t in zip(made, tokens, strict=True):  # the token (and its secret) is shown once, when made
        for text in (json.dumps(listed), human):
            assert m["token"] not in text and t.secret.hex() not in text

    # Revoke the first by a prefix of its id: accepting it is then refused with a clear error.
    rc, out, err = await cli(inviter, "invite", "revoke", made[0]["invite_id"][:12])
    assert rc == 0 and "revoked" in out, err
    rc, _, err = await cli(other, "trust", "accept", made[0]["token"])
    assert rc != 0 and "revoked by the inviting node's admin: ask for a new one" in err
    assert inviter.federation.peers.get(other.service.node_id) is None
    # Positive control: the other invite still works; a used invite shows who used it.
    await cli_json(friend, "trust", "accept", made[1]["token"])
    by_id = {i["invite_id"]: i for i in await cli_json(inviter, "invite", "list")}
    assert by_id[made[0]["invite_id"]]["status"] == "revoked" and by_id[made[0]["invite_id"]]["used_by"] is None
    used = by_id[made[1]["invite_id"]]
    assert used["status"] == "used" and used["used_by"]["node_id"] == friend.service.node_id.hex()
    assert used["used_by"]["name"] == "Open Hands" and used["used_by"]["fingerprint"] == friend.service.identity.fingerprint

    # Errors say what went wrong and what to do; nothing changes.
    rc, _, err = await cli(inviter, "invite", "revoke", made[1]["invite_id"])
    assert rc != 0 and "already used" in err and "trust remove" in err
    rc, _, err = await cli(inviter, "invite", "revoke", made[0]["invite_id"])
    assert rc != 0 and "already revoked" in err
    rc, _, err = await cli(inviter, "invite", "revoke", "00000000")
    assert rc != 0 and "no invite 00000000" in err
    rc, _, err = await cli(inviter, "invite", "revoke")
    assert rc != 0 and "required: invite_id" in err
    assert inviter.federation.peers.is_trusted(friend.service.node_id)
