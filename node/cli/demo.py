"""``orgnode demo``: a three-organization federation on loopback that tells its own story.

It creates homes in a temporary directory (or ``--dir``), runs every node in this process on
127.0.0.1 ports with real HTTP between them, and narrates each step with its evidence: ids,
fingerprints, what crossed the wire and what was verified. Exit status 0 means every step checked out.
"""

from __future__ import annotations

import asyncio
import shutil
import signal
import socket
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from node.core.clock import system_random
from node.core.errors import UserError
from node.core.matching import ask_peers
from node.core.pairing import accept_invite
from node.core.service import NodeService
from node.formats.referral_history import words
from node.home import Config, Home
from node.runtime import NodeRuntime
from node.safe_files import write_private
from protocol import audit
from protocol.card_bundle import verify_bundle
from protocol.identity import Identity
from protocol.jobs import Job
from protocol.statement import Envelope
from storage.talent_rows import Candidate

ORGS = [
    ("Youth Futures", "nonprofit"),
    ("Green Works Co-op", "social_enterprise"),
    ("Northwind Logistics", "company"),
]


@dataclass
class Narrator:
    step: int = 0

    def chapter(self, title: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {title}", flush=True)

    def say(self, text: str) -> None:
        print(f"   {text}", flush=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _until(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = check()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise UserError(f"demo: timed out waiting for {what}; the demo's three nodes run on this machine: check it "
                            "is not overloaded (or low on disk), then run `orgnode demo` once more")
        await asyncio.sleep(0.05)


def _covered(holder: NodeRuntime, other: NodeRuntime) -> bool:
    """``holder`` holds a checkpoint of ``other`` covering everything but that checkpoint itself."""
    found = holder.provenance.latest_checkpoint(other.service.node_id)
    return found is not None and found[1].size >= other.service.log.head(other.service.node_id).seq - 1


async def _start(root: Path, name: str, sector: str) -> NodeRuntime:
    port = _free_port()
    home = Home(root / name.split()[0].lower())
    home.create(Config(name, sector, "127.0.0.1", port, f"http://127.0.0.1:{port}", sync_interval=1.0, retry_base=0.5,
                       retry_cap=5.0, **_no_lan()), Identity.from_random(system_random), None)
    service = NodeService.open(home.path)
    service.publish_org_card()
    runtime = NodeRuntime(service)
    await runtime.start()
    return runtime


def _no_lan() -> dict[str, Any]:

    # The demo's nodes pair by invite on 127.0.0.1: no LAN pairing, no mDNS, loopback partners allowed.
    return {"lan_discovery": False, "allow_private_peers": True}


async def _pair(story: Narrator, inviter: NodeRuntime, invitee: NodeRuntime) -> None:
    token = inviter.federation.create_invite(600_000)
    verified = await accept_invite(invitee.federation, invitee.client, token.encode())
    story.say(f"{invitee.service.config.name} accepted {inviter.service.config.name}'s invite "
              f"(fingerprint {verified.node_id.hex()[:8]}… = {token.fingerprint}, at {verified.card.url}); "
              "both now trust each other")


async def _demo(root: Path, keep: bool) -> int:
    """The story, chapter by chapter; the nodes are stopped and closed however it ends."""
    story = Narrator()
    story.chapter("Three organizations each set up their own node (own keys, own SQLite, nothing central)")
    nodes = [await _start(root, name, sector) for name, sector in ORGS]
    youth, coop, corp = nodes
    try:
        await _cards(story, nodes)
        story.chapter("Admins pair their nodes with one-time invites (the trust list is allow-only)")
        await _pair(story, youth, coop)
        await _pair(story, coop, corp)
        await _pair(story, youth, corp)
        job = await _post_job(story, youth, coop, corp)
        amina = _record_candidates(story, youth)
        best = await _match(story, corp, job)
        rid = await _refer(story, corp, job, best)
        await _hire(story, youth, corp, job, rid)
        _evidence(story, nodes, youth, amina)
        await _audit(story, root, youth, coop, corp, rid)
        _impact(story, youth, corp)
        if keep:
            await _keep_running(story, nodes, corp)
    finally:
        for rt in nodes:
            await rt.stop()
            rt.service.close()
    story.chapter("Done: a good job found for a silver medalist, with consent, and every claim checked.")
    return 0


async def _cards(story: Narrator, nodes: list[NodeRuntime]) -> None:
    for rt in nodes:
        story.say(f"{rt.service.config.name:<22} {rt.service.config.sector:<18} {rt.service.config.url}  "
                  f"fingerprint {rt.service.identity.fingerprint}")

    story.chapter("Each serves a signed org card; anyone can verify it with the protocol code alone")
    async with aiohttp.ClientSession() as session:
        for rt in nodes:
            async with session.get(f"{rt.service.config.url}/.well-known/orgnode") as resp:
                verified = verify_bundle(await resp.read(), expected_node_id=rt.service.node_id)
            story.say(f"{verified.card.name:<22} card verified: node id {verified.node_id.hex()[:16]}… is the fingerprint of its first key")


async def _post_job(story: Narrator, youth: NodeRuntime, coop: NodeRuntime, corp: NodeRuntime) -> Job:
    story.chapter("Northwind posts a job; it travels signed and encrypted to its partners")
    job = corp.talent.post_job(title="Warehouse team lead", skills=["Forklift", "Team leadership", "Spreadsheets"],
                               description="Lead a team of six on the early shift.", hops=2)
    for rt in (youth, coop):
        store = rt.talent.store
        await _until(lambda store=store: store.job(job.job_id), "the job to arrive")  # type: ignore[misc]
        row = rt.talent.store.job(job.job_id)
        story.say(f"{rt.service.config.name} holds job {job.job_id.hex()[:8]}… from {corp.service.config.name}"
                  f" (author's signature checked; encrypted so only {rt.service.config.name} can read it"
                  f"{', re-shared via ' + (row.via.hex()[:8] if row and row.via else '') if row and row.via else ''})")
    return job


def _record_candidates(story: Narrator, youth: NodeRuntime) -> Candidate:
    story.chapter("Youth Futures records the people it interviewed but could not hire")
    amina, _ = youth.talent.add_candidate(
        name="Amina Diallo", email="amina@example.org", skills=["forklift", "team leadership", "first aid"], medal="silver",
        for_job="Youth centre coordinator", consent=["match", "refer"], consent_scope="all",
        consent_evidence="Signed consent form v3, 2026-11-01")
    youth.talent.add_candidate(name="Ben Okafor", email="ben@example.org", skills=["forklift", "spreadsheets"], medal="bronze")
    youth.talent.add_candidate(name="Chloe Martin", email="chloe@example.org", skills=["team leadership"], medal="bronze",
                               consent=["match", "refer"], consent_scope="sector:nonprofit", consent_evidence="Email 2026-10-12")
    story.say("Amina (silver): consent to be matched and referred to any organization (scope all: partners' partners too)")
    story.say("Ben (bronze): no consent recorded -> invisible to everyone")
    story.say("Chloe (bronze): consent limited to non-profits -> invisible to a company")
    return amina


async def _match(story: Narrator, corp: NodeRuntime, job: Job) -> dict[str, Any]:
    story.chapter("Northwind asks its partners who fits — answers carry pseudonyms and scores only")
    answer = await ask_peers(corp.talent, corp.client, job.job_id, deadline=5)
    for result in answer["results"]:
        story.say(f"{result['score']:>3}%  pseudonym {result['pseudonym'][:12]}…  at {result['holder_name']}  "
                  f"matched: {', '.join(result['matched'])}")
    for peer in answer["peers"]:
        story.say(f"{peer['name']}: {'answered' if peer['answered'] else 'no answer'}"
                  + (f" with {peer['offers']} offer(s)" if peer["answered"] else ""))
    best: dict[str, Any] = answer["results"][0]
    return best


async def _refer(story: Narrator, corp: NodeRuntime, job: Job, best: dict[str, Any]) -> bytes:
    story.chapter("Northwind requests the referral; the holder checks consent and releases the profile")
    asked = corp.talent.request_referral(job.job_id, bytes.fromhex(best["pseudonym"]))
    story.say(f"Northwind asked Youth Futures for referral {asked['id']} (pseudonym {best['pseudonym'][:12]}…)")
    await _until(lambda: [r for r in corp.talent.store.referrals() if r.status == "received"], "the referral")
    referral = corp.talent.list_referrals()[0]
    rid = bytes.fromhex(referral["id"])
    story.say(f"Northwind received referral {rid.hex()} from {referral['from_name']}: "
              f"{referral['candidate']['name']} <{referral['candidate']['email']}>")
    story.say("The profile was encrypted so only Northwind can read it (with encryption that stays safe against future quantum computers)")
    return rid


async def _hire(story: Narrator, youth: NodeRuntime, corp: NodeRuntime, job: Job, rid: bytes) -> None:
    story.chapter("Northwind interviews and hires; every step flows back to the referrer (closing the loop)")
    corp.talent.update_referral(rid, "in_process", "interview booked")
    corp.talent.update_referral(rid, "hired", "starts on Monday")
    corp.talent.close_job(job.job_id, filled_by=rid)
    await _until(lambda: getattr(youth.talent.store.referral(rid), "status", None) == "hired", "the hire to reach Youth Futures")
    await _until(lambda: getattr(youth.talent.store.job(job.job_id), "job", job).status == "filled", "the job to close")
    history = " -> ".join(words(e.status) for e in youth.talent.store.events(rid))  # in words, as `referral show`
    story.say(f"Youth Futures sees referral {rid.hex()}: {history}; job now 'filled', credited to this referral")


def _evidence(story: Narrator, nodes: list[NodeRuntime], youth: NodeRuntime, amina: Candidate) -> None:
    story.chapter("The evidence: every signed record checks out against its author's key")
    checked = 0
    for rt in nodes:
        for author in nodes:
            for statement in rt.service.log.statements(author.service.node_id):
                Envelope(statement.header_bytes, statement.signature, None).open_plain()
                checked += 1
    story.say(f"{checked} signed records re-checked across the three nodes; 0 failures")
    ledger = youth.talent.store.disclosures(amina.candidate_id)
    story.say(f"Youth Futures' disclosure ledger: Amina's profile went to {len(ledger)} organization(s), under consent "
              f"{ledger[0].consent_id.hex()[:8]}…")
    story.say("Ben's and Chloe's data never left Youth Futures' node")


async def _audit(story: Narrator, root: Path, youth: NodeRuntime, coop: NodeRuntime, corp: NodeRuntime, rid: bytes) -> None:
    story.chapter("An auditor checks the referral offline, from one file")
    for rt in (youth, coop, corp):
        rt.provenance.checkpoint(force=True)
    for other in (coop, corp):
        await _until(lambda other=other: _covered(youth, other), f"{other.service.config.name}'s checkpoint")  # type: ignore[misc]
    bundle_path = root / "referral-audit.bundle"
    write_private(bundle_path, youth.provenance.export_referral(rid, redact=True))
    report = audit.verify(bundle_path.read_bytes())
    story.say(f"Youth Futures exported referral {rid.hex()} as {bundle_path.name} ({bundle_path.stat().st_size} bytes, profile redacted); "
              f"`orgnode audit verify` says: {'VALID' if report.valid else 'INVALID'}")
    for fact in report.facts:
        story.say(f"  proven: {fact}")
    for note in report.notes:
        story.say(f"  noted (not a failure): {note}")


def _impact(story: Narrator, youth: NodeRuntime, corp: NodeRuntime) -> None:
    story.chapter("Impact, recomputable from the signed records")
    impact = youth.provenance.impact(0, 2**62)
    figures = impact.figures
    story.say(f"Youth Futures: {figures['referrals_sent']} referral sent, {figures['referrals_hired']} hired, "
              f"{figures['new_partnerships']} partnerships, {figures['statements_exchanged']} records exchanged")
    impact = corp.provenance.impact(0, 2**62)
    story.say(f"Northwind: {impact.figures['jobs_filled_via_referrals']} job filled via referrals, "
              f"{impact.figures['referrals_received']} referral received")


async def _keep_running(story: Narrator, nodes: list[NodeRuntime], corp: NodeRuntime) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):  # before saying so: a stop sent on reading it is handled
        loop.add_signal_handler(sig, stop.set)
    story.chapter("The nodes keep running (Ctrl-C to stop). Talk to them with:")
    for rt in nodes:
        story.say(f"orgnode --home {rt.service.home.path} status")
    story.say(f"orgnode --home {corp.service.home.path} referral list")
    await stop.wait()


async def _run(root: Path, keep: bool, body: Callable[[Path, bool], Awaitable[int]] = _demo) -> int:
    return await body(root, keep)


def run_demo(directory: Path | None, keep: bool) -> int:
    root = directory or Path(tempfile.mkdtemp(prefix="orgnode-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_run(root, keep))
    except KeyboardInterrupt:
        return 0
    finally:
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
