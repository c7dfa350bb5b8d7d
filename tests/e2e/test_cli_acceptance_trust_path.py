"""Acceptance pass (issue 13 items 1-2) as three admins run it: nodes in a line A-B-C (A and C not
partners). C posts a hops=2 job, A holds a consented candidate; C's `match` sees the offer came
through B, C requests the referral, A approves, C hires; A's `audit export` verifies offline, and
A's `impact --export` says which figures its signed report can prove and what its own records
count beyond them — it used to print the signed figures alone as "Impact of A", a known hire
shown as "hired 0". Real `orgnode run` processes, every step a real `orgnode` command."""

from __future__ import annotations

import signal
import subprocess

from tests.e2e.cli_helpers import REPO, env, start_node
from tests.e2e.test_cli_talent import init, js, pair, run, wait_for


def test_a_referral_along_the_trust_path_and_its_impact(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    ids = {a: init(a, "Alpha Youth", "nonprofit"), b: init(b, "Bridge Works", "nonprofit"), c: init(c, "Cedar Hiring", "company")}
    procs = [start_node(home) for home in (a, b, c)]
    try:
        pair(b, a, ids[b])
        pair(b, c, ids[b])
        job_id = js(c, "job", "post", "--title", "Data analyst", "--skills", "python, sql", "--hops", "2")["job_id"]
        wait_for(lambda: [j for j in js(a, "job", "list") if j["job_id"] == job_id], "C's job at A, through B")
        js(a, "candidate", "add", "--name", "Amina Diallo", "--email", "amina@example.org", "--skills", "python, sql",
           "--consent", "match,refer", "--consent-scope", "all", "--consent-evidence", "signed form v3")

        matched = js(c, "match", job_id, "--deadline", "15")
        [offer] = [o for o in matched["results"] if o["holder_node_id"] == ids[a]]
        assert [hop["node_id"] for hop in offer["via"]] == [ids[b]]
        assert "at Alpha Youth via Bridge Works" in run(c, "match", job_id, "--deadline", "15").stdout
        js(c, "referral", "request", job_id, offer["pseudonym"])
        [referral] = wait_for(lambda: [r for r in js(c, "referral", "list") if r["status"] == "received"], "the referral at C")
        referral_id = referral["referral_id"]
        js(c, "referral", "update", referral_id, "--status", "hired", "--reason", "starts in January")
        js(c, "job", "close", job_id, "--filled-by", referral_id)
        wait_for(lambda: [r for r in js(a, "referral", "list") if r["status"] == "hired"], "the hire told to A")

        bundle = tmp_path / "referral.bundle"
        # Partners sign checkpoints on a timer (1 s here): until they cover the bundle's statements the export
        # is refused with what to do ("run `orgnode sync` and export again in a minute").
        wait_for(lambda: run(a, "audit", "export", referral_id, "--output", str(bundle), check=False).returncode == 0,
                 "a checkpoint covering the referral at every author")
        offline = subprocess.run([str(REPO / ".venv" / "bin" / "orgnode"), "audit", "verify", str(bundle)],
                                 capture_output=True, text=True, env=env(), timeout=60, cwd=tmp_path)
        assert offline.returncode == 0 and "VALID" in offline.stdout, offline.stdout + offline.stderr
        # What a non-engineer reads: who, and when (the day each step was signed), and who passed the job on.
        day = referral["history"][0]["changed_at"][:10]
        assert "to Cedar Hiring in referral " in offline.stdout and f"on {day} for job 'Data analyst'" in offline.stdout
        assert "which was re-shared by Bridge Works" in offline.stdout and "node(s)" not in offline.stdout
        assert f"is legal and in order ({day} to " in offline.stdout and f"was recorded on {day}" in offline.stdout

        assert js(a, "impact")["referrals_hired"] == 1  # the live figures know the hire
        report = tmp_path / "impact.bundle"
        exported = js(a, "impact", "--export", str(report))
        assert exported["live"]["referrals_hired"] == 1
        text = run(a, "impact", "--export", str(report)).stdout
        assert f"Impact of Alpha Youth: the signed report in {report}" in text
        assert exported["referrals_hired"] == 0  # the hire travelled the trust path: not provable in A's report
        assert "this node's own records count more than the signed report can prove: " in text
        assert "referrals hired 1" in text
        assert "left out of the signed report" in text
        verified = subprocess.run([str(REPO / ".venv" / "bin" / "orgnode"), "audit", "verify", str(report)],
                                  capture_output=True, text=True, env=env(), timeout=60, cwd=tmp_path)
        assert verified.returncode == 0, verified.stdout
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(timeout=20) == 0
