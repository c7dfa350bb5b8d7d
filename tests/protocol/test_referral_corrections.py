"""``referral_correction`` and ``acted_by`` (docs/protocol.md 15.9, 15.10): the published vectors
(produced and rejected), the correction rule over lifecycle steps, and the codec under hypothesis."""

from __future__ import annotations

import hashlib
import unicodedata
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.codec import decode
from protocol.corrections import (
    CORRECTABLE_TO,
    CORRECTIONS_FEATURE,
    ReferralCorrection,
    Step,
    check_correction,
    features_needed,
)
from protocol.errors import RemoteProtocolError
from protocol.kinds import parse_body
from protocol.referrals import STAGES_FEATURE, ReferralStatus
from protocol.statement import BODY_LIMITS, Envelope
from tests.protocol import make_vectors


@pytest.fixture(scope="module")
def stored() -> dict[str, Any]:
    data = make_vectors.load()
    assert data is not None
    return data


def test_the_correction_vector_opens_and_decodes_to_its_fields(stored: dict[str, Any]) -> None:
    v = stored["referral_correction"]
    statement = Envelope.decode(bytes.fromhex(v["envelope_plain"])).open_plain()
    assert statement.id.hex() == v["id"] and (statement.kind, statement.seq) == ("referral_correction", 8)
    assert statement.header.prev.hex() == stored["referral_status"]["id"] and statement.body is not None
    assert hashlib.sha256(statement.salt + statement.body).hexdigest() == v["body_hash"]
    body = parse_body(statement.kind, statement.header.private, decode(statement.body, BODY_LIMITS))
    assert isinstance(body, ReferralCorrection)
    assert (body.referral_id.hex(), body.corrects.hex(), body.status, body.reason, body.acted_by) == (
        v["referral_id"], v["corrects"], "not_hired", v["reason"], v["acted_by"])
    assert body.to_value() == decode(statement.body, BODY_LIMITS)


def test_a_status_with_and_without_acted_by(stored: dict[str, Any]) -> None:
    without = ReferralStatus.from_value(decode(bytes.fromhex(stored["referral_status"]["body"]), BODY_LIMITS))
    named = ReferralStatus.from_value(decode(bytes.fromhex(stored["referral_correction"]["status_with_acted_by"]), BODY_LIMITS))
    assert without.acted_by is None and "acted_by" not in without.to_value()  # unset: left out, bytes as before
    assert named.acted_by == "sam" and named.to_value() == {**without.to_value(), "acted_by": "sam"}


def test_an_older_decoder_ignores_acted_by_as_any_unknown_field(stored: dict[str, Any]) -> None:
    """Section 15.1: version-1 receivers ignore unknown fields of this kind, so a receiver from before
    ``acted_by`` reads the status unchanged (no feature needed); shown with a field nobody knows."""
    value = decode(bytes.fromhex(stored["referral_correction"]["status_with_acted_by"]), BODY_LIMITS)
    future = ReferralStatus.from_value({**value, "x_future": "ignored"})
    assert (future.status, future.acted_by) == ("interview", "sam")


def test_every_rejected_body_is_refused_with_its_code(stored: dict[str, Any]) -> None:
    cases = stored["referral_correction"]["rejected_bodies"]
    assert len(cases) >= 10  # every case the vectors hold is run (it was a fixed count of them)
    for case in cases:
        with pytest.raises(RemoteProtocolError) as exc:
            ReferralCorrection.from_value(decode(bytes.fromhex(case["body"]), BODY_LIMITS))
        assert exc.value.code == case["code"], case["case"]


def _step(value: dict[str, str] | None) -> Step | None:
    if value is None:
        return None
    return Step(bytes.fromhex(value["statement_id"]), value["kind"], bytes.fromhex(value["author"]), value["status"])


def test_every_rejected_context_is_refused_with_its_reason(stored: dict[str, Any]) -> None:
    v = stored["referral_correction"]
    body = ReferralCorrection.from_value(decode(bytes.fromhex(v["body"]), BODY_LIMITS))
    job_org = make_vectors.identity("A").node_id
    assert len(v["rejected_contexts"]) >= 6  # every case the vectors hold is run (it was a fixed count of them)
    for case in v["rejected_contexts"]:
        with pytest.raises(RemoteProtocolError, match=case["detail"]) as exc:
            check_correction(body, bytes.fromhex(case["signer"]), job_org, _step(case["target"]), _step(case["latest"]))
        assert exc.value.code == "malformed", case["case"]


def test_a_valid_correction_and_a_correction_of_it_pass() -> None:
    """Positive control for the rejected contexts: the latest outcome, then the correction itself."""
    job_org, hired = b"\1" * 32, Step(b"\2" * 32, "referral_status", b"\1" * 32, "hired")
    fix = ReferralCorrection(b"\3" * 16, hired.statement_id, "not_hired", "did not start")
    check_correction(fix, job_org, job_org, hired, hired)
    again = Step(b"\4" * 32, "referral_correction", job_org, "not_hired")
    check_correction(ReferralCorrection(b"\3" * 16, again.statement_id, "hired", "did start"), job_org, job_org, again, again)


def test_a_correction_to_a_stage_needs_both_features() -> None:
    assert features_needed("not_hired") == (CORRECTIONS_FEATURE,)
    assert features_needed("offer") == (CORRECTIONS_FEATURE, STAGES_FEATURE)


NOT_TEXT = ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn")
LINE = st.text(st.characters(blacklist_categories=NOT_TEXT), min_size=1, max_size=200)


@given(st.binary(min_size=16, max_size=16), st.binary(min_size=32, max_size=32), st.sampled_from(CORRECTABLE_TO),
       LINE.filter(str.strip), st.none() | LINE.filter(lambda t: t.strip() and len(t) <= 64))
def test_the_codec_round_trips_every_valid_correction(rid: bytes, corrects: bytes, status: str, reason: str,
                                                       acted_by: str | None) -> None:
    body = ReferralCorrection(rid, corrects, status, reason, acted_by)
    assert ReferralCorrection.from_value(decode(make_vectors.encode(body.to_value()), BODY_LIMITS)) == body


@given(st.text(max_size=80))
def test_any_staff_name_is_either_a_clean_line_or_refused(name: str) -> None:
    try:
        status = ReferralStatus(b"\1" * 16, "hired", b"\2" * 32, "", name)
    except RemoteProtocolError as exc:
        assert exc.code in ("malformed", "too-large")
        return
    assert status.acted_by and status.acted_by.strip() and len(status.acted_by) <= 64
    assert all(unicodedata.category(c) not in NOT_TEXT for c in status.acted_by)
