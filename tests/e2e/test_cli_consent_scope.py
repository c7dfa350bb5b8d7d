"""Acceptance findings on consent scope words and defaults (issue 8): `all` means any organization,
not only trusted partners, and no command ever picks the widest scope for the user."""

from __future__ import annotations

import signal

import pytest

from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json, start_node

ALL_WORDS = "any organization (trusted partners and organizations known through them)"


@pytest.fixture
def home(tmp_path):
    home = tmp_path / "n"
    orgnode("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit", "--listen",
            f"127.0.0.1:{free_port()}")
    proc = start_node(home)
    yield str(home)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def _add(home: str, email: str, *extra: str):
    return orgnode("--home", home, "candidate", "add", "--name", "Ilse Varga", "--email", email, "--skills", "driving",
                   *extra, check=False)


def test_consent_scope_is_required_never_defaulted_and_never_loose(home):
    # --consent without --consent-scope: refused with the fix, nothing recorded.
    bare = _add(home, "a@example.org", "--consent", "match,refer", "--consent-evidence", "signed form")
    assert bare.returncode == 1 and "--consent-scope" in bare.stderr and "nothing was recorded" in bare.stderr
    # --consent-scope without --consent (even "all", once the silent default): refused, nothing recorded.
    for scope in ("all", "sector:company"):
        loose = _add(home, "b@example.org", "--consent-scope", scope)
        assert loose.returncode == 1 and "also give consent" in loose.stderr and "(option --consent)" in loose.stderr, loose.stderr
    assert orgnode_json("--home", home, "candidate", "list") == []
    # Positive control: with a scope, the consent is recorded and the output says whom it covers.
    added = _add(home, "c@example.org", "--consent", "match,refer", "--consent-scope", "all", "--consent-evidence", "form")
    assert added.returncode == 0, added.stderr
    assert ALL_WORDS in added.stdout
    [row] = orgnode_json("--home", home, "candidate", "list")
    cid = row["candidate_id"]
    # consent give: the scope is required there too; the output says whom the new consent covers.
    missing = orgnode("--home", home, "consent", "give", cid, "--consent", "match", "--consent-evidence", "email",
                      check=False)
    assert missing.returncode != 0 and "--consent-scope" in missing.stderr
    given = orgnode("--home", home, "consent", "give", cid, "--consent", "match", "--consent-scope", "sector:nonprofit",
                    "--consent-evidence", "email")
    assert "organizations of the nonprofit sector" in given.stdout
    # The subject-access report uses the same true words for `all`.
    report = orgnode("--home", home, "candidate", "report", cid[:8]).stdout
    assert ALL_WORDS in report and "any trusted partner" not in report
