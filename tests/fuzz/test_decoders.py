"""Issue 15 item 2 in CI: every decoder of bench/fuzz_targets.py, fed random and mutated inputs,
refuses with a typed error only (bench/fuzz.py runs the same targets for millions of inputs)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.fuzz_targets import BY_NAME, TARGETS, run_typed, seeds
from node.core.errors import UserError

SEEDS = seeds()
NAMES = [target.name for target in TARGETS]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A seed with a few edits: byte changes, cuts, insertions of random bytes or of another seed."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 5))):
        op = draw(st.integers(0, 3))
        at = draw(st.integers(0, len(data)))
        if op == 0 and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif op == 1:
            del data[at:at + draw(st.integers(1, 32))]
        elif op == 2:
            data[at:at] = draw(st.binary(min_size=1, max_size=8))
        else:
            other = draw(st.sampled_from(SEEDS))
            data[at:at] = other[:draw(st.integers(0, len(other)))]
    return bytes(data)


FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=st.binary(max_size=512))
def test_random_bytes_get_typed_refusals(name: str, data: bytes) -> None:
    run_typed(BY_NAME[name], data)


@pytest.mark.parametrize("name", NAMES)
@FUZZ
@given(data=mutated())
def test_mutated_valid_inputs_get_typed_refusals(name: str, data: bytes) -> None:
    run_typed(BY_NAME[name], data)


def test_every_target_accepts_some_valid_input() -> None:
    """Positive control: the seeds reach past the first check of the targets that take well-formed
    values (a fuzz run that only ever sees "malformed" proves little)."""
    reached = {target.name for target in TARGETS if any(run_typed(target, seed) == "ok" for seed in SEEDS)}
    must = {"codec.decode", "Header.decode", "Envelope.decode", "Envelope.open_plain", "Batch.decode", "PullRequest.decode",
            "PushResults.decode", "InviteToken.decode", "Authorization", "card bundle", "CSV", "JSON-LD", "config.toml",
            "body:org_card", "body:note", "body:job", "body:key_rotation", "peer URL"}
    assert must <= reached, f"no seed is accepted by {sorted(must - reached)}"


@pytest.mark.parametrize("data", [
    b"[" * 100_000,  # RecursionError in json.loads (issue 15 fuzzing)
    b'{"@type": "JobPosting", "title": "Lead \\ud800", "skills": ["forklift"]}',  # a lone surrogate escape
    b'{"@type": "JobPosting", "title": "Lead", "skills": ["forklift"], "\\udc00": 1}',
    b'<html><script type="application/ld+json">' + b"[" * 100_000 + b"</script></html>",
])
def test_json_ld_findings_are_typed(data: bytes) -> None:
    assert run_typed(BY_NAME["JSON-LD"], data) != "ok"


def test_a_valid_surrogate_pair_is_text() -> None:
    """Positive control for the lone-surrogate refusal: an escaped pair (an emoji) is ordinary text."""
    doc = (b'{"@type": "JobPosting", "title": "Lead \\ud83d\\ude00", "description": "x", "skills": ["forklift"],'
           b' "datePosted": "2026-01-01"}')
    assert run_typed(BY_NAME["JSON-LD"], doc) == "ok"


def test_user_error_is_what_the_cli_reports() -> None:
    """A target's UserError is the one the CLI prints; a non-UTF-8 file is one."""
    with pytest.raises(UserError):
        BY_NAME["JSON-LD"].run(b"\xff\xfe{}")
