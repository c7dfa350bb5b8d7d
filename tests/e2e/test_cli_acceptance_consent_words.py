"""Acceptance pass (issue 12/13 follow-up): when a candidate cannot be referred, the admin is told
*why* — the consent lacks `refer`, its scope does not reach the organization, or it expired — by
`job match-candidate`, `refer` and `referral approve`, with the command that fixes it. A bare
"consent does not cover this org" sent admins to check a scope when the consent simply lacked
`refer`. Real `orgnode run` processes, every step a real `orgnode` command."""

from __future__ import annotations

import signal

from tests.e2e.cli_helpers import start_node
from tests.e2e.test_cli_talent import fails, init, js, pair, wait_for


def test_why_a_candidate_is_not_referable_is_said_in_words(tmp_path):
    youth, corp = tmp_path / "youth", tmp_path / "corp"
    ids = {youth: init(youth, "Youth Futures", "nonprofit"), corp: init(corp, "Northwind", "company")}
    procs = [start_node(home) for home in (youth, corp)]
    try:
        pair(corp, youth, ids[corp])
        job_id = js(corp, "job", "post", "--title", "Data analyst", "--skills", "python, sql")["job_id"]
        wait_for(lambda: [j for j in js(youth, "job", "list") if j["job_id"] == job_id], "the job at the partner")
        match_only = js(youth, "candidate", "add", "--name", "Amina Diallo", "--email", "amina@example.org", "--skills",
                        "python", "--consent", "match", "--consent-scope", "all", "--consent-evidence", "form")["candidate_id"]
        nonprofits = js(youth, "candidate", "add", "--name", "Jo Lee", "--email", "jo@example.org", "--skills", "sql",
                        "--consent", "match,refer", "--consent-scope", "sector:nonprofit",
                        "--consent-evidence", "form")["candidate_id"]
        covered = js(youth, "candidate", "add", "--name", "Sam Roe", "--email", "sam@example.org", "--skills", "sql",
                     "--consent", "match,refer", "--consent-scope", "all", "--consent-evidence", "form")["candidate_id"]

        [fit] = js(youth, "job", "match-candidate", match_only)
        assert not fit["consent_covers"] and fit["consent_gap"] == "their consent is for match only, not refer"
        [fit] = js(youth, "job", "match-candidate", nonprofits)
        assert fit["consent_gap"] == ("their consent's scope (sector:nonprofit) does not reach Northwind "
                                      "(consent sector: company)")
        [fit] = js(youth, "job", "match-candidate", covered)  # positive control
        assert fit["consent_covers"] and fit["consent_gap"] is None

        line = fails(youth, "refer", match_only, job_id)
        assert "their consent is for match only, not refer" in line
        assert f"orgnode consent give {match_only[:8]}` (purpose refer" in line
        assert "scope (sector:nonprofit) does not reach Northwind" in fails(youth, "refer", nonprofits, job_id)

        # The holder's approval of a request names the same gap.
        offers = js(corp, "match", job_id, "--deadline", "10")["results"]
        amina = next(o for o in offers if [m.lower() for m in o["matched"]] == ["python"])
        js(corp, "referral", "request", job_id, amina["pseudonym"])
        [pending] = wait_for(lambda: js(youth, "referral", "pending"), "the request at the holder")
        request_id = pending["request_id"]
        line = fails(youth, "referral", "approve", request_id)
        assert "their consent is for match only, not refer" in line and "--consent-evidence" in line
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            assert proc.wait(timeout=20) == 0
