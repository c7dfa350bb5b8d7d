"""The talent CLI as a user runs it: real `orgnode run` processes, every step a real `orgnode` command.

One scenario over three homes (a non-profit, a social enterprise, a company) reusing the same
nodes: pairing by invite, jobs (post, list, export as schema.org JSON-LD, import Google's example),
candidates (CSV import with good and bad rows, add with consent), match, referral request, list,
status updates, hire, job filled, consent withdrawal acknowledged by the recipient, impact, and
audit export/verify with its exit codes. Errors are one line on stderr, without a traceback.
"""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path
from typing import Any

from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import REPO, orgnode, start_node
from tests.e2e.cli_helpers import wait_for as poll_until

JOB_LIST_FIELDS = {"job_id", "title", "author_node_id", "author_name", "via_node_id", "hops", "status"}
REFERRAL_FIELDS = {"referral_id", "job_id", "from_node_id", "to_node_id", "status", "candidate"}

CSV = """name,email,phone,location,skills,consent,consent_scope,consent_evidence
Kofi Mensah-Boateng,kofi.mb@example.org,+44 20 7946 0011,Leeds,"forklift; excel",match;refer,all,paper form v2
Secret Quillfeather,not-an-email,+44 20 7946 0012,York,forklift,,,
Lena Fischer,lena.f@example.org,,,team leadership,,,

Hidden Ovaltine,hidden.o@example.org,call me maybe!!,Hull,,match,,
Kofi Again,KOFI.MB@example.org,,,excel,,,
"""
# Row numbers as a spreadsheet shows them (header = 1, the blank line counts): 3 bad email, 6 bad phone +
# no skills + consent without evidence, 7 same email as row 2.
BAD_ROWS = (3, 6, 7)
PERSONAL = ("Secret Quillfeather", "Quillfeather", "not-an-email", "7946 0012", "York", "Hidden Ovaltine", "Ovaltine",
            "hidden.o@", "call me maybe", "Hull", "Kofi Again")


def run(home: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return orgnode("--home", str(home), *args, check=check)


def js(home: Path, *args: str) -> Any:
    return json.loads(run(home, *args, "--json").stdout)


def fails(home: Path, *args: str, code: int = 1) -> str:
    """Run a command that must fail: exit ``code``, one line on stderr, no traceback; returns that line."""
    result = run(home, *args, check=False)
    assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("orgnode: error: "), result.stderr
    return lines[0]


def wait_for(cond: Any, what: str, timeout: float = 20.0) -> Any:
    return poll_until(cond, timeout, what)


def init(home: Path, name: str, sector: str) -> str:
    port = free_port()
    data = js(home, "init", "--name", name, "--sector", sector, "--listen", f"127.0.0.1:{port}")
    update_config(home, sync_interval=0.5, retry_base=0.3, retry_cap=2.0, checkpoint_interval=1.0,
                  lan_discovery=False, allow_private_peers=True)
    return str(data["node_id"])


def pair(inviter: Path, invitee: Path, inviter_id: str) -> None:
    token = js(inviter, "invite", "--expires", "1h")["token"]
    peer = js(invitee, "trust", "accept", token)
    assert peer["node_id"] == inviter_id and peer["state"] == "trusted"


def test_talent_cli_end_to_end(tmp_path):
    youth, coop, corp = tmp_path / "youth", tmp_path / "coop", tmp_path / "corp"
    ids = {youth: init(youth, "Youth Futures", "nonprofit"), coop: init(coop, "Green Works", "social_enterprise"),
           corp: init(corp, "Northwind", "company")}
    procs = [start_node(home) for home in (youth, coop, corp)]
    try:
        pair(corp, youth, ids[corp])
        pair(corp, coop, ids[corp])
        assert {p["node_id"] for p in js(corp, "trust", "list")} == {ids[youth], ids[coop]}
        # Acceptance: the CONSENT SECTOR column fits "social_enterprise (confirmed)", so columns stay aligned.
        table = run(corp, "trust", "list").stdout.splitlines()
        at = table[0].index("FINGERPRINT")
        fingerprints = {p["fingerprint"] for p in js(corp, "trust", "list")}
        assert "social_enterprise (confirmed)" in "\n".join(table)
        assert {row[at:].split(" ")[0] for row in table[1:3]} == fingerprints
        # Acceptance: an invite's expected name is stored whitespace-normalised.
        invite = js(corp, "invite", "--name", "  acme   LOGISTICS ", "--expires", "1h")
        assert invite["expected_name"] == "acme LOGISTICS"
        assert [i["expected_name"] for i in js(corp, "invite", "list") if i["invite_id"] == invite["invite_id"]] == ["acme LOGISTICS"]

        # --- jobs ---------------------------------------------------------------------------------
        posted = js(corp, "job", "post", "--title", "Warehouse team lead", "--skills", "forklift, team leadership, excel",
                    "--location", "Leeds, England, GB", "--employment-type", "FULL_TIME", "--salary", "GBP 30000-36000/YEAR",
                    "--valid-through", "2099-12-31")
        assert set(posted) == {"job_id"} and len(posted["job_id"]) == 32
        job_id = posted["job_id"]
        human = run(corp, "job", "post", "--title", "Night driver", "--skills", "driving").stdout
        assert human.startswith("Posted job ") and "only (they do not pass it on)" in human and "hops=" not in human

        seen = wait_for(lambda: [j for j in js(youth, "job", "list") if j["job_id"] == job_id], "the job at the partner")
        job = seen[0]
        assert JOB_LIST_FIELDS <= set(job)
        assert job["title"] == "Warehouse team lead" and job["author_node_id"] == ids[corp] and job["author_name"] == "Northwind"
        assert job["via_node_id"] == ids[corp] or job["via_node_id"] is None
        assert job["hops"] == 1 and job["status"] == "open"
        assert "Warehouse team lead" in run(youth, "job", "list").stdout

        exported = json.loads(run(youth, "job", "export", job_id).stdout)
        assert exported["@context"].startswith("https://schema.org") and exported["@type"] == "JobPosting"
        assert exported["title"] == "Warehouse team lead"
        assert exported["hiringOrganization"]["name"] == "Northwind"
        assert exported["employmentType"] in ("FULL_TIME", ["FULL_TIME"])
        out_file = tmp_path / "job.jsonld"
        run(youth, "job", "export", job_id, "-o", str(out_file))
        assert json.loads(out_file.read_text()) == exported

        google_file = REPO / "tests" / "data" / "google_jobposting.json"
        google = json.loads(google_file.read_text())
        assert "validThrough: is in the past" in fails(corp, "job", "import", str(google_file), "--skills", "java")  # 2017
        current = tmp_path / "google-2099.html"  # the example as a careers page shows it, still open
        posting = google | {"validThrough": "2099-03-18T00:00"}
        current.write_text(f'<html><head><script type="application/ld+json">{json.dumps(posting)}</script></head></html>')
        line = fails(corp, "job", "import", str(current))
        assert "no skills" in line and "--skills" in line  # refused with the way to add them
        imported = js(corp, "job", "import", str(current), "--skills", "software engineering")
        assert imported["title"] == "Software Engineer" and len(imported["job_id"]) == 32
        assert imported["kept"] == ["hiringOrganization", "identifier"] and imported["ignored"] == []
        line = fails(corp, "job", "import", str(current), "--skills", "java")  # the same posting again: no second job
        assert f"already posted here as job {imported['job_id']}" in line and "--update" in line
        human = run(corp, "job", "import", str(current), "--skills", "java", "--update").stdout
        assert f"Updated job {imported['job_id']} from the posting (now version 2)" in human
        assert "kept but not used for matching: hiringOrganization, identifier" in human
        roundtrip = json.loads(run(corp, "job", "export", imported["job_id"]).stdout)
        assert {k: v for k, v in roundtrip.items() if k != "skills"} == posting  # every property back

        line = fails(youth, "job", "export", "ab" * 16)
        assert "no such job" in line
        assert "hex" in fails(youth, "job", "export", "not-an-id")

        # --- candidates ---------------------------------------------------------------------------
        csv_file = tmp_path / "candidates.csv"
        csv_file.write_text(CSV)
        result = run(youth, "candidate", "import", str(csv_file), check=False)
        assert result.returncode == 1, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        assert "Imported 2 of 5 candidate row(s); 3 row(s) refused:" in result.stdout
        for row in BAD_ROWS:
            assert f"row {row}" in result.stdout
        assert "row 3 (email)" in result.stdout and "row 6 (phone)" in result.stdout and "row 6 (skills)" in result.stdout
        assert "row 7 (email): same email address as row 2" in result.stdout
        assert "2/2 valid row(s) sent, 2 imported" in result.stderr  # progress goes to stderr
        for text in PERSONAL:
            assert text not in result.stdout and text not in result.stderr, text
        small = tmp_path / "more.csv"
        small.write_text("Name;Email;Skills\r\nOla Nordmann;ola@example.org;excel\r\nPrivate Zanzibar;zanzibar@;excel\r\n")
        more = run(youth, "candidate", "import", str(small), "--json", check=False)
        assert more.returncode == 1 and more.stderr == ""  # no progress lines in --json mode
        report = json.loads(more.stdout)
        assert (report["imported"], report["refused"], report["total"]) == (1, 1, 2) and len(report["candidate_ids"]) == 1
        assert report["errors"] == [{"row": 3, "column": "Email", "field": "email", "error": "is not a valid address"}]
        assert "Zanzibar" not in more.stdout
        candidates = {c["name"]: c for c in js(youth, "candidate", "list")}
        assert set(candidates) == {"Kofi Mensah-Boateng", "Lena Fischer", "Ola Nordmann"}
        assert not set(PERSONAL) & set(candidates)

        added = js(youth, "candidate", "add", "--name", "Amina Diallo", "--email", "amina@example.org", "--phone", "+44 20 7946 0958",
                   "--skills", "forklift, team leadership", "--medal", "silver", "--consent", "match,refer,audit",
                   "--consent-scope", "all", "--consent-evidence", "signed form v3, 2026-11-01")
        assert len(added["candidate_id"]) == 32 and added["consent_id"]
        amina = added["candidate_id"]
        assert "--consent-evidence" in fails(youth, "candidate", "add", "--name", "X", "--email", "x@example.org",
                                             "--skills", "excel", "--consent", "match", "--consent-scope", "all")

        # --- match and referral -------------------------------------------------------------------
        # Acceptance: a partner's job, a bad --deadline, an unknown job: a specific error and no progress line first.
        partner_match = run(youth, "match", job_id, check=False)
        assert partner_match.returncode == 1 and "that job is a partner's" in partner_match.stderr
        assert "job match-candidate" in partner_match.stderr and "change it" not in partner_match.stderr
        assert f"`orgnode refer CANDIDATE_ID {job_id}`" in partner_match.stderr  # the job's id filled in
        assert "Asking" not in partner_match.stderr
        for bad in ("-1", "0", "nan", "inf", "1e9"):
            refused = run(corp, "match", job_id, "--deadline", bad, check=False)
            assert refused.returncode == 2 and "--deadline" in refused.stderr and "Asking" not in refused.stderr, bad
        unknown = run(corp, "match", "ab" * 16, check=False)
        assert unknown.returncode == 1 and "Asking" not in unknown.stderr
        assert "Asking trusted partners" in run(corp, "match", job_id, "--deadline", "5").stderr  # positive control
        matched = js(corp, "match", job_id, "--deadline", "5")
        assert matched["partial"] is False and matched["job_id"] == job_id
        assert {p["node_id"] for p in matched["peers"] if p["answered"]} == {ids[youth], ids[coop]}
        from_youth = [r for r in matched["results"] if r["holder_node_id"] == ids[youth]]
        assert len(from_youth) == 2  # Amina and Kofi consented; Lena did not
        for offer in from_youth:
            assert set(offer) == {"pseudonym", "holder_node_id", "holder_name", "score", "matched", "via"}
            assert offer["via"] == []  # a partner's own offer (issue 13: offers from beyond a partner name it)
            assert set(offer["matched"]) <= {"forklift", "team leadership", "excel"} | {"Forklift", "Team leadership", "Excel"}
            requested = js(corp, "referral", "request", job_id, offer["pseudonym"])
            assert requested["status"] == "requested" and requested["to_node_id"] == ids[youth]
        assert f"run `orgnode match {job_id}` first" in fails(corp, "referral", "request", job_id, "cd" * 16)

        def received() -> list[dict[str, Any]]:
            return [r for r in js(corp, "referral", "list") if r["status"] == "received" and r["candidate"]]

        referrals = wait_for(lambda: len(received()) == 2 and received(), "two referrals received by the company")
        for r in referrals:
            assert REFERRAL_FIELDS <= set(r)
            assert r["job_id"] == job_id and r["from_node_id"] == ids[youth] and r["to_node_id"] == ids[corp]
        ref = next(r for r in referrals if r["candidate"]["name"] == "Amina Diallo")
        assert ref["candidate"]["email"] == "amina@example.org"
        rid = ref["referral_id"]
        at_youth = wait_for(lambda: [r for r in js(youth, "referral", "list") if r["referral_id"] == rid and r["status"] == "received"],
                            "status back at the referrer")
        assert at_youth[0]["candidate"]["name"] == "Amina Diallo"

        assert js(corp, "referral", "update", rid, "--status", "in_process")["status"] == "in_process"
        staged = js(corp, "referral", "update", rid, "--status", "interview", "--reason", "Tuesday 10:00")
        assert (staged["status"], staged["referral_id"]) == ("interview", rid)
        assert "moved to “offer”" in run(corp, "referral", "update", rid, "--status", "offer").stdout
        assert "cannot go from offer to interview" in fails(corp, "referral", "update", rid, "--status", "interview")
        wait_for(lambda: [r for r in js(youth, "referral", "list") if r["referral_id"] == rid and r["status"] == "offer"],
                 "the offer at the referrer")
        assert "moved to “hired”" in run(corp, "referral", "update", rid, "--status", "hired", "--reason", "starts Monday").stdout
        line = fails(corp, "referral", "update", rid, "--status", "in_process")
        assert "cannot go from hired to in_process" in line
        assert "no such referral" in fails(corp, "referral", "update", "ef" * 16, "--status", "hired")
        closed = js(corp, "job", "close", job_id, "--filled-by", rid)
        assert closed["status"] == "filled" and closed["job_id"] == job_id
        assert js(corp, "impact")["jobs_filled_via_referrals"] == 1
        # Acceptance finding: a plain `job close` on a filled job must not un-fill it (and drop the hire
        # from impact): it is refused, or the job stays filled.
        versions = [j["version"] for j in js(corp, "job", "list", "--mine") if j["job_id"] == job_id]
        assert "already filled" in fails(corp, "job", "close", job_id)
        again = js(corp, "job", "close", job_id, "--filled-by", rid)  # a retry: succeeds, changes nothing
        assert again["already_closed"] is True and again["status"] == "filled"
        assert js(corp, "impact")["jobs_filled_via_referrals"] == 1
        assert [j["version"] for j in js(corp, "job", "list", "--mine") if j["job_id"] == job_id] == versions
        assert [j["status"] for j in js(corp, "job", "list", "--mine") if j["job_id"] == job_id] == ["filled"]
        assert "another organization" in fails(youth, "job", "close", job_id)
        # Issue 12 item 4: closing a closed job twice is one version, and the second says so (exit 0).
        first = js(corp, "job", "close", imported["job_id"])
        assert first["status"] == "closed" and first["already_closed"] is False
        again = js(corp, "job", "close", imported["job_id"])
        assert again["already_closed"] is True and again["version"] == first["version"]
        assert "already closed" in run(corp, "job", "close", imported["job_id"]).stdout
        wait_for(lambda: [j for j in js(youth, "job", "list") if j["job_id"] == job_id and j["status"] == "filled"], "filled at partner")
        wait_for(lambda: [r for r in js(youth, "referral", "list") if r["referral_id"] == rid and r["status"] == "hired"], "hire at referrer")
        # Issue 12 item 4: a mistaken outcome is corrected; both stay in the history and the lifecycle continues.
        out = run(corp, "referral", "correct", rid, "--status", "offer", "--reason", "she has not signed yet").stdout
        assert "corrected: its outcome is now “offer”" in out and "now closed, not filled" in out
        assert "already offer" in fails(corp, "referral", "correct", rid, "--status", "offer", "--reason", "again")
        assert "only the job's organization can correct" in fails(youth, "referral", "correct", rid, "--status", "not_hired",
                                                                    "--reason", "x")
        wait_for(lambda: [r for r in js(youth, "referral", "list") if r["referral_id"] == rid and r["status"] == "offer"],
                 "the correction at the referrer")
        shown = run(youth, "referral", "show", rid).stdout
        assert "Northwind set it to “hired”: “starts Monday” — corrected below" in shown, shown
        assert "Northwind corrected “hired” to “offer”: “she has not signed yet”" in shown, shown
        assert "moved to “hired”" in run(corp, "referral", "update", rid, "--status", "hired").stdout  # forward from the correction
        assert js(corp, "job", "close", job_id, "--filled-by", rid)["status"] == "filled"
        wait_for(lambda: [j for j in js(youth, "job", "list") if j["job_id"] == job_id and j["status"] == "filled"], "filled again")
        wait_for(lambda: [r for r in js(youth, "referral", "list") if r["referral_id"] == rid and r["status"] == "hired"], "hire again")

        # --- withdrawal and erasure ---------------------------------------------------------------
        withdrawn = run(youth, "consent", "withdraw", amina).stdout
        assert "Consent withdrawn; asked Northwind to erase the candidate's data" in withdrawn, withdrawn  # by name

        def acknowledged() -> bool:
            view = next(c for c in js(youth, "candidate", "list") if c["candidate_id"] == amina)
            return bool(view["disclosures"]) and all(d["acknowledged"] for d in view["disclosures"])

        wait_for(acknowledged, "erasure acknowledged")
        view = next(c for c in js(youth, "candidate", "list") if c["candidate_id"] == amina)
        assert view["consents"][0]["state"] == "withdrawn" and view["disclosures"][0]["recipient_node_id"] == ids[corp]
        assert "erasure acknowledged" in run(youth, "candidate", "list").stdout
        erased = next(r for r in js(corp, "referral", "list") if r["referral_id"] == rid)
        assert not erased["candidate"] and "Amina" not in json.dumps(erased)
        assert "no consent in force" in fails(youth, "consent", "withdraw", amina)

        # --- impact and audit ---------------------------------------------------------------------
        impact = js(youth, "impact")
        assert impact["organization"] == "Youth Futures"
        assert impact["referrals_sent"] == 2 and impact["referrals_hired"] == 1
        assert impact["consent_withdrawals"] == 1 and impact["erasures_acknowledged"] == 1
        assert js(corp, "impact")["jobs_filled_via_referrals"] == 1
        impact_file = tmp_path / "impact.bundle"
        exported_impact = js(youth, "impact", "--export", str(impact_file))
        assert exported_impact["referrals_sent"] == 2 and impact_file.stat().st_size > 0
        assert run(youth, "audit", "verify", str(impact_file)).returncode == 0

        bundle = tmp_path / "referral.bundle"

        def exported_bundle() -> bool:
            run(youth, "sync")
            return run(youth, "audit", "export", rid, "-o", str(bundle), check=False).returncode == 0

        wait_for(exported_bundle, "the company's checkpoint covering the referral to reach the referrer")
        verified = run(youth, "audit", "verify", str(bundle))
        assert "VALID" in verified.stdout and "INVALID" not in verified.stdout
        assert json.loads(run(youth, "audit", "verify", str(bundle), "--json").stdout)["valid"] is True

        data = bundle.read_bytes()
        assert b"Warehouse team lead" in data
        tampered = tmp_path / "tampered.bundle"
        tampered.write_bytes(data.replace(b"Warehouse team lead", b"Warehouse team LEAD", 1))
        bad = run(youth, "audit", "verify", str(tampered), check=False)
        assert bad.returncode == 1 and "INVALID" in bad.stdout and "Traceback" not in bad.stderr
        garbage = tmp_path / "garbage.bundle"
        garbage.write_bytes(b"this is not a bundle\x00\xff")
        assert fails(youth, "audit", "verify", str(garbage), code=2)
        assert fails(youth, "audit", "verify", str(tmp_path / "missing.bundle"), code=2)
        assert "no such referral" in fails(corp, "audit", "export", "ab" * 16, "-o", str(tmp_path / "x.bundle"))

        # Acceptance: erasing after a withdrawal, and erasing again, say truthfully when the recipient was told.
        first_erase = run(youth, "candidate", "erase", amina, "--yes").stdout
        assert first_erase.startswith("Erased candidate")
        assert "1 recipient(s) had already been asked to erase it when the consent was withdrawn" in first_erase
        again = run(youth, "candidate", "erase", amina, "--yes").stdout
        assert again.startswith("Erasure retried for candidate")
        assert "1 recipient(s) had already been asked to erase it (by the consent withdrawal or an earlier erasure)" in again
        assert "when the consent was withdrawn" not in again
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                assert proc.wait(timeout=20) == 0
            except subprocess.TimeoutExpired:
                proc.kill()
                raise
