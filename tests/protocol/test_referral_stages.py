"""The referral stages ``interview`` and ``offer`` (docs/protocol.md 15.9): where they fit in the
lifecycle, who may set them, and the ``OrgNode-Features`` advertisement that gates sending them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.referrals import (
    HOLDER,
    JOB_ORG,
    STAGES,
    STAGES_FEATURE,
    TRANSITIONS,
    ReferralStatus,
    check_transition,
    feature_needed,
)
from protocol.versions import SUPPORTED, V1, Versions, parse_features


def test_the_stages_run_in_order_from_received_to_hired() -> None:
    state = "received"
    for step in ("in_process", "interview", "offer", "hired"):
        check_transition(state, step, JOB_ORG)
        state = step
    check_transition("received", "interview", JOB_ORG)  # in_process may be skipped
    check_transition("received", "offer", JOB_ORG)
    for stage in STAGES:
        for end in ("not_hired", "declined"):
            check_transition(stage, end, JOB_ORG)
        check_transition(stage, "withdrawn", HOLDER)  # the candidate may still withdraw


@pytest.mark.parametrize(("current", "new"), [
    ("offer", "interview"), ("interview", "in_process"), ("offer", "received"), ("sent", "interview"),
    ("requested", "offer"), (None, "interview"), ("hired", "interview"), ("not_hired", "offer"),
])
def test_no_step_back_and_no_stage_before_the_referral_arrived(current: str | None, new: str) -> None:
    with pytest.raises(RemoteProtocolError, match="cannot go from") as exc:
        check_transition(current, new, JOB_ORG)
    assert exc.value.code == MALFORMED


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_only_the_job_organization_sets_a_stage(stage: str) -> None:
    with pytest.raises(RemoteProtocolError, match="only the job's organization"):
        check_transition("received", stage, HOLDER)


def test_stage_statuses_round_trip_and_need_the_feature() -> None:
    for stage in STAGES:
        body = ReferralStatus(b"\1" * 16, stage, b"\2" * 32, "second round")
        assert ReferralStatus.from_value(body.to_value()) == body
        assert feature_needed(stage) == STAGES_FEATURE
    assert all(feature_needed(s) is None for s in TRANSITIONS if s not in STAGES)
    with pytest.raises(RemoteProtocolError, match="unknown referral status"):
        ReferralStatus(b"\1" * 16, "interviewing", b"\2" * 32)


def test_this_node_advertises_the_stages_and_corrections_features() -> None:
    assert SUPPORTED.features_value() == "referral-corrections,referral-stages,reshare-want"  # sorted (section 1.1)
    assert Versions((V1,)).features_value() == ""  # an older node's registry: nothing advertised


@pytest.mark.parametrize(("header", "features"), [
    (None, set()), ("", set()), ("referral-stages", {STAGES_FEATURE}), (" referral-stages , x-2 ", {STAGES_FEATURE, "x-2"}),
    ("Referral-Stages", set()), ("referral_stages", set()), ("referral-stages,", set()), ("a" * 33, set()),
    (",".join(["a"] * 17), set()), ("référral", set()), ("x" * 300, set()),
])
def test_features_header_parsing_refuses_anything_off_form(header: str | None, features: set[str]) -> None:
    assert parse_features(header) == features


@given(st.text(max_size=300))
def test_parsing_any_header_never_raises_and_names_only_well_formed_features(header: str) -> None:
    found = parse_features(header)
    assert all(1 <= len(f) <= 32 and all(c in "abcdefghijklmnopqrstuvwxyz0123456789-" for c in f) for f in found)
