"""Issue 8 items 6 and 7 on real nodes: correcting a candidate, giving consent later, erasing a
candidate everywhere (holder, a direct recipient, a recipient reached through a relay), and the
subject-access report. Every call goes through the admin API as the CLI makes it (the node's Unix
socket); every erasure check reads the raw database files (main file + WAL)."""

from __future__ import annotations

import json
import secrets
from typing import Any

import aiohttp

from node.runtime import NodeRuntime
from protocol import audit
from tests.node.federation_helpers import Net, db_bytes, pair, wait_until


async def admin(node: NodeRuntime, path: str, body: Any = None, method: str = "POST") -> tuple[int, Any]:
    connector = aiohttp.UnixConnector(path=str(node.socket_path))
    async with aiohttp.ClientSession(connector=connector) as session:
        async with session.request(method, f"http://localhost{path}", json=body) as resp:
            return resp.status, json.loads(await resp.read())


def markers() -> dict[str, str]:
    return {f: f"erz{secrets.token_hex(6)}{f}" for f in ("name", "email", "phone", "location", "skill", "forjob", "notes", "evidence")}


def found(node: NodeRuntime, marks: dict[str, str]) -> list[str]:
    """Markers present in the node's raw database files, checkpointed first (as a reader with disk access sees them)."""
    node.service.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    blob = db_bytes(node.service.home.path).lower()
    return [m for m in marks.values() if m.encode() in blob or m.encode().hex().encode() in blob]


async def add_marked(node: NodeRuntime, marks: dict[str, str], consent: str = "match,refer,audit") -> str:
    status, data = await admin(node, "/candidates/add", {
        "name": f"{marks['name']} Person", "email": f"{marks['email']}@example.org", "phone": f"+1 555 {marks['phone']}",
        "location": f"{marks['location']}, Leeds", "skills": f"driving, forklift, {marks['skill']} welding",
        "medal": "silver", "for_job": f"{marks['forjob']} night shift", "notes": f"{marks['notes']} met at fair",
        "consent": consent, "consent_scope": "all", "consent_evidence": f"{marks['evidence']} paper form"})
    assert status == 200, data
    return str(data["id"])


async def export_when_covered(holder: NodeRuntime, partner: NodeRuntime, referral_id: bytes) -> bytes:
    """The holder's audit bundle of a referral, once it holds a checkpoint of ``partner`` covering it
    (the partner signs one on request; sync brings it over)."""
    from node.core.errors import UserError

    partner.provenance.checkpoint(force=True)

    def attempt() -> bytes | None:
        try:
            return holder.provenance.export_referral(referral_id, redact=False)
        except UserError:
            return None
    return bytes(await wait_until(attempt, 30, interval=0.5, what="a partner checkpoint covering the referral"))


async def test_erase_removes_every_copy_at_holder_and_recipients_and_the_audit_still_verifies(net: Net):
    youth = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind", sector="company")
    far = await net.start("Far Haulage", sector="company")
    await pair(youth, corp)
    await pair(corp, far)
    direct_job = corp.talent.post_job(title="Warehouse lead", skills=["forklift"])
    relayed_job = far.talent.post_job(title="Night driver", skills=["driving"], hops=2)
    await wait_until(lambda: youth.talent.store.job(direct_job.job_id) and youth.talent.store.job(relayed_job.job_id),
                     15, what="both jobs at the holder (one re-shared by corp)")
    marks = markers()
    cid = await add_marked(youth, marks)
    for job in (direct_job, relayed_job):
        status, data = await admin(youth, "/refer", {"candidate_id": cid, "job_id": job.job_id.hex()})
        assert status == 200, data
    await wait_until(lambda: corp.talent.store.referrals() and far.talent.store.referrals(), 15, what="both referrals received")
    direct_rid = corp.talent.store.referrals()[0].referral_id
    await wait_until(lambda: {r.status for r in youth.talent.store.referrals()} == {"received"}, 15,
                     what="both recipients' 'received' back at the holder")

    # Positive controls: the person's data is in every node's raw files that should hold it.
    assert sorted(found(youth, marks)) == sorted(marks.values())
    assert found(corp, marks) and found(far, marks)
    bundle_before = await export_when_covered(youth, corp, direct_rid)
    assert marks["name"].encode() in bundle_before  # the candidate consented to audit disclosure
    status, before = await admin(youth, "/candidates/report", {"id": cid[:10]})
    assert status == 200
    assert before["data_held"]["name"] == f"{marks['name']} Person" and not before["erased"]
    assert {d["recipient_name"] for d in before["disclosures"]} == {"Northwind", "Far Haulage"}
    assert all(d["consent_purposes"] == ["match", "refer", "audit"] and d["erasure_receipt"] is None for d in before["disclosures"])

    status, erased = await admin(youth, "/candidates/erase", {"id": cid})
    assert status == 200, erased
    assert erased["statement_bodies_erased"] == 2 and erased["recipients_waiting_for_a_path"] == []
    assert sorted(erased["recipients_notified"]) == sorted([corp.service.node_id.hex(), far.service.node_id.hex()])
    named = dict(zip(erased["recipients_notified"], erased["notified_names"], strict=True))
    assert named == {corp.service.node_id.hex(): "Northwind", far.service.node_id.hex(): "Far Haulage"}
    await wait_until(lambda: all(d.acked_at is not None for d in youth.talent.store.disclosures(bytes.fromhex(cid))), 15,
                     what="erasure receipts from both recipients (one through the relay)")

    # Gone from every raw file: the holder's, the direct recipient's (also the relay), the relayed recipient's.
    for node in (youth, corp, far):
        assert found(node, marks) == [], node.service.config.name
    # The log still verifies: the bundle exported before, and a new one (profile now only a commitment).
    assert audit.verify(bundle_before).valid
    bundle_after = await export_when_covered(youth, corp, direct_rid)
    report = audit.verify(bundle_after)
    assert report.valid, report.to_json()
    assert any("only a fingerprint of it is kept" in fact for fact in report.facts)
    assert not [m for m in marks.values() if m.encode() in bundle_after]
    status, exported = await admin(youth, "/audit/export", {"id": direct_rid.hex()})
    assert status == 200 and exported["profile_erased"] is True

    # The subject-access report after erasure: nothing personal, every disclosure and receipt.
    status, after = await admin(youth, "/candidates/report", {"id": cid})
    assert status == 200
    assert after["erased"] and after["data_held"] == {} and after["erased_at"] == erased["erased_at"]
    assert len(after["disclosures"]) == 2 and all(d["withdrawal"] and d["erasure_receipt"] for d in after["disclosures"])
    assert {e["from_name"] for e in after["erasure_receipts"]} == {"Northwind", "Far Haulage"}
    assert [h["note"] for h in after["consents"][0]["history"]] == ["", "erased at the candidate's request"]
    assert after["consents"][0]["evidence"] == ""
    assert not [m for m in marks.values() if m in json.dumps(after)]
    from node.cli.candidates import report_text

    text = report_text(after)
    corp_id, far_id = corp.service.node_id.hex()[:16], far.service.node_id.hex()[:16]
    assert f"to Northwind (node {corp_id}…) for the job 'Warehouse lead' under consent" in text
    assert f"to Far Haulage (node {far_id}…) for the job 'Night driver' under consent" in text
    assert text.count("erasure receipt received") == 2 and "none: the candidate was erased on" in text
    assert f"from Northwind (node {corp_id}…)" in text and "now withdrawn" in text
    before_text = report_text(before)
    assert f"name: {marks['name']} Person" in before_text and "now in force" in before_text
    assert "no erasure receipt yet" not in before_text and "asked to erase" not in before_text
    # An erased candidate can be reported, not changed; erasing again only retries (nobody left to tell).
    for path, body in (("/candidates/update", {"id": cid, "name": "New Name"}),
                       ("/consent/give", {"id": cid, "consent": "match", "consent_scope": "all", "consent_evidence": "x"})):
        status, data = await admin(youth, path, body)
        assert status == 400 and "erased" in data["detail"], data
    status, again = await admin(youth, "/candidates/erase", {"id": cid})
    assert status == 200 and again["already_erased"] and again["recipients_notified"] == []
    status, listed = await admin(youth, "/candidates", method="GET")
    assert status == 200 and listed == []


async def test_update_and_consent_give_are_validated_and_take_effect(net: Net):
    youth = await net.start("Youth Futures", sector="nonprofit")
    corp = await net.start("Northwind", sector="company")
    await pair(youth, corp)
    job = corp.talent.post_job(title="Warehouse lead", skills=["forklift"])
    await wait_until(lambda: youth.talent.store.job(job.job_id), 10, what="job at youth")
    status, first = await admin(youth, "/candidates/add", {"name": "Ada Quist", "email": "ada@example.org", "skills": "excel"})
    assert status == 200
    status, other = await admin(youth, "/candidates/add", {"name": "Bo Lind", "email": "bo@example.org", "skills": "excel"})
    assert status == 200
    cid = first["id"]

    def held() -> dict[str, Any]:
        return youth.talent.candidate_view(youth.talent.store.candidate(bytes.fromhex(cid)))

    unchanged = held()
    for body, words in ((({"id": cid, "email": "not-an-address"}), "email address is not valid"),
                        ({"id": cid, "email": "BO@example.org"}, f"another candidate already has this email address (candidate {other['id']})"),
                        ({"id": cid, "name": "  "}, "name is empty"),
                        ({"id": cid, "skills": " , "}, "skills"),
                        ({"id": cid, "medal": "gold"}, "silver or bronze"),
                        ({"id": cid}, "nothing to change"),
                        ({"id": "00" * 16, "name": "X"}, "no such candidate")):
        status, data = await admin(youth, "/candidates/update", body)
        assert status == 400 and words in data["detail"], (body, data)
        assert held() == unchanged
    # Adding the same address again names the candidate who has it (without echoing the address).
    status, data = await admin(youth, "/candidates/add", {"name": "Ada Again", "email": "ADA@example.org", "skills": "excel"})
    assert status == 400 and f"already recorded here (candidate {cid}): update that one" in data["detail"], data
    assert "ada@example.org" not in data["detail"].lower()
    # Not yet consented: the partner's match finds nobody (the control for what follows).
    from node.core.matching import ask_peers

    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    assert answer["results"] == []

    status, data = await admin(youth, "/candidates/update", {"id": cid[:8], "skills": "forklift, excel", "phone": "+44 1",
                                                            "medal": "bronze", "notes": "strong on safety"})
    assert status == 200 and data["changed"] == ["medal", "notes", "phone", "skills"], data
    now = held()
    assert now["skills"] == ["forklift", "excel"] and now["phone"] == "+44 1" and now["medal"] == "bronze"
    assert now["notes"] == "strong on safety" and now["name"] == "Ada Quist"
    status, data = await admin(youth, "/candidates/update", {"id": cid, "phone": "", "medal": "none"})
    assert status == 200 and held()["phone"] is None and held()["medal"] is None

    for body, words in (({"id": cid, "consent": "", "consent_evidence": "form"}, "agreed to"),
                        ({"id": cid, "consent": "match", "consent_scope": "all", "consent_evidence": ""}, "consent_evidence"),
                        ({"id": cid, "consent": "match", "consent_evidence": "form"}, "consent_scope"),  # no default scope
                        ({"id": cid, "consent": "match", "consent_scope": "sector:pirates", "consent_evidence": "form"}, "scope"),
                        ({"id": cid, "consent": "sell", "consent_scope": "all", "consent_evidence": "form"}, "purposes"),
                        ({"id": cid, "consent": "match", "consent_scope": "all", "consent_expires": "2001-01-01", "consent_evidence": "form"},
                         "past")):
        status, data = await admin(youth, "/consent/give", body)
        assert status == 400 and words in data["detail"], (body, data)
    assert youth.talent.store.consents(bytes.fromhex(cid)) == []
    status, given = await admin(youth, "/consent/give", {"id": cid, "consent": "match,refer", "consent_scope": "sector:company",
                                                        "consent_expires": "2099-12-31", "consent_evidence": "email of today"})
    assert status == 200 and given["purposes"] == ["match", "refer"] and given["scope"] == ["sector:company"], given
    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    assert len(answer["results"]) == 1 and answer["results"][0]["holder"] == youth.service.node_id.hex()
    status, report = await admin(youth, "/candidates/report", {"id": cid})
    assert status == 200 and report["consents"][0]["evidence"] == "email of today"
    assert report["match_offers"][0]["to_name"] == "Northwind" and report["match_offers"][0]["job_title"] == "Warehouse lead"
    assert other["id"] not in json.dumps(report)


async def test_erasure_is_local_at_once_even_without_a_path_and_the_withdrawal_goes_once_a_path_appears(net: Net):
    """No trust path to a recipient (the only partner on it was removed): the holder's erasure still
    happens at once and the recipient is reported as waiting for a path; once the path is back, the
    kept withdrawal goes out by itself (the node's timer), and the recipient erases and receipts."""
    holder = await net.start("Youth Futures", sector="nonprofit")
    relay = await net.start("Green Works", sector="social_enterprise")
    far = await net.start("Far Haulage", sector="company")
    await pair(holder, relay)
    await pair(relay, far)
    job = far.talent.post_job(title="Night driver", skills=["driving"], hops=2)
    await wait_until(lambda: holder.talent.store.job(job.job_id), 15, what="the re-shared job at the holder")
    marks = markers()
    cid = await add_marked(holder, marks)
    status, sent = await admin(holder, "/refer", {"candidate_id": cid, "job_id": job.job_id.hex()})
    assert status == 200, sent
    await wait_until(lambda: getattr(holder.talent.store.referral(bytes.fromhex(sent["id"])), "status", None) == "received", 15,
                     what="the referral received at the far recipient")
    assert found(far, marks)

    holder.federation.set_state(relay.service.node_id, "removed")
    status, erased = await admin(holder, "/candidates/erase", {"id": cid})
    assert status == 200, erased
    assert erased["recipients_waiting_for_a_path"] == [far.service.node_id.hex()], erased
    assert found(holder, marks) == []  # the local erasure did not wait for the network
    assert found(far, marks)  # the control: the recipient still holds it, nobody could tell it yet

    await pair(holder, relay)
    holder.sync.run_timers()  # the node's timer sends what waited for a path (the sync loop runs it every interval)
    await wait_until(lambda: holder.talent.store.disclosure(bytes.fromhex(sent["id"])).acked_at is not None, 45,
                     what="the far recipient's erasure receipt")
    assert found(far, marks) == [] and found(relay, marks) == [] and found(holder, marks) == []
