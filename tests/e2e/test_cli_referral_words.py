"""Issue 12: the human output of `orgnode match` and `orgnode referral list`, run as a user runs them
against two real paired nodes. `match` ends with the next command ready to copy (this job's id and
the best offer's pseudonym filled in, not ``JOB_ID PSEUDONYM``), and running that very command works;
`referral list` names the job by its title (a partner's text, escaped for the terminal) and keeps the
id in ``--json``."""

from __future__ import annotations

import asyncio
import json
import re

from node.cli.referrals import _referral_lines
from node.terminal import safe_text
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import Net, pair, wait_until


def run(node, *args: str) -> str:
    return orgnode("--home", str(node.service.home.path), *args).stdout


async def test_match_suggests_the_real_command_and_referral_list_names_the_job(net: Net):
    holder = await net.start("Youth Futures", sector="nonprofit")
    company = await net.start("Northwind", sector="company")
    await pair(holder, company)
    job = company.talent.post_job(title="Warehouse team lead", skills=["Forklift"], hops=1)
    await wait_until(lambda: holder.talent.store.job(job.job_id) is not None, what="the job at the holder")

    # No candidate yet: the hint is the same match, with the job's id, to run again later.
    empty = await asyncio.to_thread(run, company, "match", job.job_id.hex()[:8])
    assert f"`orgnode match {job.job_id.hex()}`" in empty and "JOB_ID" not in empty, empty

    holder.talent.add_candidate(name="Amina Diallo", email="amina@example.org", skills=["forklift"],
                                consent=["match", "refer"], consent_scope="all", consent_evidence="form")
    out = await asyncio.to_thread(run, company, "match", job.job_id.hex()[:8])
    assert "JOB_ID" not in out and "PSEUDONYM" not in out, out
    suggested = re.search(r"`orgnode (referral request [0-9a-f]{32} [0-9a-f]{32})`", out)
    assert suggested, out
    _, _, job_hex, pseudonym = suggested.group(1).split()
    assert job_hex == job.job_id.hex() and f"pseudonym {pseudonym}" in out
    # The suggested command is the one that works.
    requested = await asyncio.to_thread(run, company, *suggested.group(1).split(), "--json")
    rid = json.loads(requested)["request_id"]  # the id that names the referral at every step
    await wait_until(lambda: company.talent.store.referral(bytes.fromhex(rid)) is not None, what="the referral")

    for node in (company, holder):
        listed = await asyncio.to_thread(run, node, "referral", "list")
        assert f"{rid}  'Warehouse team lead'  Youth Futures → Northwind" in listed, listed
        assert job.job_id.hex()[:8] not in listed  # the title, not the id
        as_json = json.loads(await asyncio.to_thread(run, node, "referral", "list", "--json"))
        assert [(r["referral_id"], r["job_id"], r["job_title"]) for r in as_json] == [(rid, job.job_id.hex(), "Warehouse team lead")]


def _listed(title: str | None) -> str:
    return safe_text(_referral_lines([{"id": "e950e95e9b1eacec29f9b4e589b77e06", "job_id": "cc1bb6fb" * 4, "job_title": title,
                                       "from_name": "Build Co", "from": "15" * 32, "to_name": "Youth Futures", "to": "14" * 32,
                                       "status": "received", "reason": "", "candidate": None}]))


def test_a_partners_title_cannot_drive_the_terminal_and_an_unknown_job_says_so():
    text = _listed("Lead\x1b]0;pwned\x07 \u202eexe.png")
    assert "\x1b" not in text and "\u202e" not in text and "\x07" not in text
    assert "Lead" in text and "exe.png" in text
    assert "a job no longer held here (cc1bb6fb…)" in _listed(None)  # not held: the id prefix, said in words


def test_discover_fills_in_the_one_node_found():
    from node.cli.partners import discover_lines

    node = {"name": "Green Works", "fingerprint": "SNEH-BWOD-K4GM-ZPJS-QAII", "node_id": "db" * 32, "url": "http://10.0.0.3:8443"}
    assert f"`orgnode trust request {'db' * 32}`" in discover_lines([node], 3)
    two = discover_lines([node, {**node, "node_id": "ab" * 32}], 3)
    assert "`orgnode trust request NODE_ID`" in two  # which one is the admin's choice: no id made up
