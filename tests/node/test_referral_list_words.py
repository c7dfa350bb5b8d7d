"""acc20: `referral list` after an erasure says so in words, and shows stages as words (not_hired -> not hired)."""

from node.cli.referrals import _referral_lines


def _referral(candidate: dict[str, str]) -> dict[str, object]:
    return {"id": "e950e95e9b1eacec29f9b4e589b77e06", "job_id": "cc1bb6fb" * 4, "from_name": "Build Co",
            "from": "15" * 32, "to_name": "Youth Futures", "to": "14" * 32, "status": "not_hired",
            "reason": "entered on the wrong person", "candidate": candidate}


def test_an_erased_candidate_is_named_as_erased_not_as_empty_brackets() -> None:
    text = _referral_lines([_referral({"name": "", "email": ""})])
    assert "<>" not in text and "candidate: erased" in text
    assert "not hired (entered on the wrong person)" in text and "not_hired" not in text


def test_a_held_candidate_keeps_name_and_address() -> None:
    assert "candidate: José García <josé@example.es>" in _referral_lines(
        [_referral({"name": "José García", "email": "josé@example.es"})])
