"""`referral pending` says what to do next with the request's real id (acceptance pass 12): it said why a
request waits, but not that `referral approve ID` (with the candidate's agreement when the consent does
not cover it) or `referral decline ID` answers it, so a new holder was left looking for the command."""

from __future__ import annotations

from node.cli.referrals import pending_lines

REQUEST = "f6608349e223489a05f46d9040ac5c2a"


def _request(rule: str) -> dict:
    return {"id": REQUEST, "from_name": "Northwind Logistics", "candidate": {"name": "Anna Müller"},
            "job_title": "Warehouse Team Lead", "held_by": {"rule": rule, "words": "the candidate agreed to be matched"}}


def test_pending_names_both_answers_with_the_id() -> None:
    text = pending_lines([_request("purpose-not-given")])
    assert "waiting because the candidate agreed to be matched" in text  # control: the reason is still said
    assert f'`orgnode referral approve {REQUEST} --consent-evidence "how the candidate agreed"`' in text
    assert f"`orgnode referral decline {REQUEST}`" in text


def test_a_request_a_consent_now_covers_needs_no_evidence() -> None:
    text = pending_lines([_request("covered-now")])
    assert f"`orgnode referral approve {REQUEST}`" in text and "--consent-evidence" not in text


def test_nothing_waiting() -> None:
    assert pending_lines([]) == "No referral requests waiting."
