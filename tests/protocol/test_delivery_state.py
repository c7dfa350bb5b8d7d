"""The per-peer delivery state machine (protocol.sync.PeerDelivery / TRANSITIONS), driven by hypothesis.

In the style of h2's ``tests/test_state_machines.py``: random sequences of every event (and of polls
with ``ready``) at increasing times, checking after each step that the state is valid, that a pair
missing from ``TRANSITIONS`` raises ``LocalProtocolError`` and changes nothing, that the backoff
never exceeds the cap, and that CONTACT and SUCCESS reset the schedule.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import ALL_CODES, LocalProtocolError
from protocol.sync import TRANSITIONS, BackoffPolicy, DeliveryEvent, DeliveryState, PeerDelivery

EVENTS = list(DeliveryEvent)
STATES = list(DeliveryState)

policies = st.builds(
    BackoffPolicy,
    base_ms=st.integers(1, 60_000),
    cap_ms=st.integers(1, 6 * 3600 * 1000),
)
steps = st.lists(
    st.tuples(
        st.sampled_from([*EVENTS, "poll"]),
        st.integers(0, 4 * 3600 * 1000),  # time advance, ms
        st.floats(0.0, 1.0, exclude_max=True, allow_nan=False),  # jitter
    ),
    max_size=60,
)


@settings(max_examples=150, deadline=None)
@given(policies, steps)
def test_random_event_sequences(policy: BackoffPolicy, sequence: list[tuple[object, int, float]]) -> None:
    delivery = PeerDelivery(policy)
    now = 0
    for step, advance, jitter in sequence:
        now += advance
        before = (delivery.state, delivery.attempts, delivery.next_attempt_at)
        if step == "poll":
            ready = delivery.ready(now)
            assert ready == (delivery.state is DeliveryState.READY)
            if before[0] is DeliveryState.BACKING_OFF:
                assert ready == (now >= before[2])
            assert (delivery.attempts, delivery.next_attempt_at) == before[1:]
            continue
        assert isinstance(step, DeliveryEvent)
        if (before[0], step) not in TRANSITIONS:
            with pytest.raises(LocalProtocolError) as exc:
                delivery.event(step, now, jitter)
            assert exc.value.code in ALL_CODES
            assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == before
            continue
        contacted = delivery.contacted
        state = delivery.event(step, now, jitter)
        if step is DeliveryEvent.FAILURE and contacted:  # a contact during the flight applies after its failure
            assert state is DeliveryState.READY is delivery.state
            assert delivery.attempts == 0 and delivery.next_attempt_at == now
            continue
        assert state is TRANSITIONS[(before[0], step)] is delivery.state
        if step is DeliveryEvent.FAILURE:
            assert delivery.attempts == before[1] + 1
            assert now <= delivery.next_attempt_at <= now + policy.cap_ms
        elif step in (DeliveryEvent.CONTACT, DeliveryEvent.SUCCESS):
            assert delivery.attempts == 0 and delivery.next_attempt_at == now
            # A peer that is back is served at once (contact while a push is in flight waits for it).
            assert delivery.ready(now) == (delivery.state is not DeliveryState.IN_FLIGHT)
        else:
            assert (delivery.attempts, delivery.next_attempt_at) == before[1:]
        assert delivery.state in STATES


@pytest.mark.parametrize(("state", "event"), list(itertools.product(STATES, EVENTS)))
def test_every_state_event_pair(state: DeliveryState, event: DeliveryEvent) -> None:
    """Each of the 15 pairs either follows the table or is refused with nothing changed."""
    delivery = PeerDelivery(state=state, attempts=3, next_attempt_at=1000)
    if (state, event) in TRANSITIONS:
        assert delivery.event(event, 500) is TRANSITIONS[(state, event)]
    else:
        with pytest.raises(LocalProtocolError):
            delivery.event(event, 500)
        assert (delivery.state, delivery.attempts, delivery.next_attempt_at) == (state, 3, 1000)


def test_table_covers_what_a_sender_needs() -> None:
    assert TRANSITIONS[(DeliveryState.READY, DeliveryEvent.SEND)] is DeliveryState.IN_FLIGHT
    assert TRANSITIONS[(DeliveryState.IN_FLIGHT, DeliveryEvent.FAILURE)] is DeliveryState.BACKING_OFF
    assert TRANSITIONS[(DeliveryState.BACKING_OFF, DeliveryEvent.CONTACT)] is DeliveryState.READY
    for state in STATES:  # contact and timers are never an error, whatever the state
        assert (state, DeliveryEvent.CONTACT) in TRANSITIONS
        assert (state, DeliveryEvent.TIMER) in TRANSITIONS


@settings(max_examples=100, deadline=None)
@given(policies, st.integers(1, 10_000), st.floats(0.0, 1.0, exclude_max=True, allow_nan=False))
def test_backoff_delay_bounds(policy: BackoffPolicy, attempts: int, jitter: float) -> None:
    raw = min(policy.cap_ms, policy.base_ms * 2 ** (attempts - 1))
    delay = policy.delay(attempts, jitter)
    assert raw // 2 <= delay <= raw <= policy.cap_ms


def test_default_schedule() -> None:
    """Defaults of protocol.md 13.3: 30 s doubling, capped at 3 h from the 10th failure."""
    policy = BackoffPolicy()
    assert [policy.delay(n, 0.0) for n in (1, 2, 3)] == [15_000, 30_000, 60_000]
    assert policy.delay(9, 0.999999) < 3 * 3600 * 1000 <= 2 * policy.delay(10, 0.0)
    assert policy.delay(10, 0.999999) <= policy.delay(1000, 0.999999) < 3 * 3600 * 1000
