"""The README's main command: `orgnode demo` runs a three-organization story and exits 0."""

from __future__ import annotations

from tests.e2e.cli_helpers import orgnode


def test_demo_runs_the_whole_story(tmp_path):
    result = orgnode("demo", "--dir", str(tmp_path / "demo"), timeout=180)
    out = result.stdout
    assert "card verified" in out
    assert "both now trust each other" in out
    assert "pseudonym" in out and "Youth Futures" in out
    assert "sent -> received -> in process -> hired" in out  # the stages in words, not their protocol names
    assert "0 failures" in out
    assert "`orgnode audit verify` says: VALID" in out
    assert "1 job filled via referrals" in out
    # Candidates without consent never appear in what the job's organization saw.
    assert "Ben Okafor" not in out.split("== 6.")[1]
    assert "Traceback" not in result.stderr
