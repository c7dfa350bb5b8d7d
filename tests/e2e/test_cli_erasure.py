"""The CLI of issue 8 items 6 and 7 as an admin runs it: `candidate update`, `consent give`,
`candidate report` (human text escaped for the terminal, JSON exact) and `candidate erase`
(asks for confirmation; without a terminal it needs --yes, and a refusal changes nothing)."""

from __future__ import annotations

import json
import signal

from tests.e2e.cli_helpers import orgnode, start_node
from tests.e2e.test_cli_talent import fails, init, js, run


def test_candidate_update_consent_report_and_erase_from_the_cli(tmp_path):
    home = tmp_path / "youth"
    init(home, "Youth Futures", "nonprofit")
    proc = start_node(home)
    try:
        added = js(home, "candidate", "add", "--name", "Sam \x1b[2JExample", "--email", "sam@example.org", "--skills", "excel",
                   "--notes", "prefers mornings")
        cid = added["candidate_id"]
        # Acceptance: the error names the field that is wrong (and never echoes the value).
        bad_email = fails(home, "candidate", "update", cid[:8], "--email", "nope")
        assert "email address is not valid" in bad_email and "(option --email)" in bad_email and "--name" not in bad_email
        assert "nope" not in bad_email
        assert "(option --email)" in fails(home, "candidate", "add", "--name", "Kim", "--email", "kim.example.org",
                                                 "--skills", "excel")
        assert "(option --name)" in fails(home, "candidate", "add", "--name", "  ", "--email", "kim@example.org",
                                            "--skills", "excel")
        updated = run(home, "candidate", "update", cid[:8], "--phone", "+44 20 7946 0000", "--medal", "bronze").stdout
        assert updated.startswith(f"Updated candidate {cid} (medal, phone).")
        assert "--consent-evidence" in fails(home, "consent", "give", cid, "--consent", "match", "--consent-scope", "all", "--consent-evidence", "")
        given = js(home, "consent", "give", cid, "--consent", "match,refer", "--consent-scope", "sector:nonprofit",
                   "--consent-evidence", "renewed by email")
        assert given["purposes"] == ["match", "refer"] and given["scope"] == ["sector:nonprofit"]

        text = run(home, "candidate", "report", cid[:8]).stdout
        assert text.startswith(f"Subject-access report for candidate {cid}")
        assert "name: Sam \\x1b[2JExample" in text and "\x1b" not in text  # escaped for the terminal
        assert "phone: +44 20 7946 0000" in text and "staff notes (never sent): prefers mornings" in text
        assert "to match and refer, for organizations of the nonprofit sector" in text and "evidence: renewed by email" in text
        assert "none: the profile was never sent to another organization." in text
        assert js(home, "candidate", "report", cid)["data_held"]["name"] == "Sam \x1b[2JExample"  # JSON is exact

        # No terminal to confirm on (stdin is /dev/null): refused, and nothing is erased.
        assert "--yes" in fails(home, "candidate", "erase", cid)
        refused = orgnode("--home", str(home), "candidate", "erase", cid, "--json", check=False)  # issue 12 item 3
        assert refused.returncode == 1 and refused.stderr == "" and "--yes" in json.loads(refused.stdout)["error"]["message"]
        assert [c["candidate_id"] for c in js(home, "candidate", "list")] == [cid]
        erased = run(home, "candidate", "erase", cid[:8], "--yes").stdout
        assert erased.startswith(f"Erased candidate {cid}: 1 consent(s) withdrawn")
        assert js(home, "candidate", "list") == []
        after = run(home, "candidate", "report", cid).stdout
        assert "none: the candidate was erased on" in after and "Sam" not in after and "mornings" not in after
        assert "erased at the candidate's request" in after
        assert "was erased" in fails(home, "candidate", "update", cid, "--name", "Sam")
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
