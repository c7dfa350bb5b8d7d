"""The per-peer delivery state machine of protocol/sync.py: every state x event, capped backoff, reset on contact."""

from __future__ import annotations

import dataclasses
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocol.errors import LocalProtocolError
from protocol.sync import TRANSITIONS, BackoffPolicy, DeliveryEvent, DeliveryState, PeerDelivery

STATES = list(DeliveryState)
EVENTS = list(DeliveryEvent)


def in_state(state: DeliveryState, policy: BackoffPolicy | None = None) -> PeerDelivery:
    d = PeerDelivery(policy or BackoffPolicy(base_ms=100, cap_ms=1000))
    if state is DeliveryState.IN_FLIGHT:
        d.event(DeliveryEvent.SEND, 0)
    elif state is DeliveryState.BACKING_OFF:
        d.event(DeliveryEvent.SEND, 0)
        d.event(DeliveryEvent.FAILURE, 0, 0.5)
    assert d.state is state
    return d


@pytest.mark.parametrize(("state", "event"), list(itertools.product(STATES, EVENTS)))
def test_every_state_and_event(state: DeliveryState, event: DeliveryEvent) -> None:
    d = in_state(state)
    before = (d.state, d.attempts, d.next_attempt_at)
    if (state, event) not in TRANSITIONS:
        with pytest.raises(LocalProtocolError):
            d.event(event, 50)
        assert (d.state, d.attempts, d.next_attempt_at) == before  # a refused event leaves a well-defined state
        return
    assert d.event(event, 50, 0.0) is TRANSITIONS[(state, event)]
    if event is DeliveryEvent.FAILURE:
        assert d.attempts == before[1] + 1 and d.next_attempt_at > 50
    elif event in (DeliveryEvent.SUCCESS, DeliveryEvent.CONTACT):
        assert d.attempts == 0 and d.next_attempt_at == 50
    else:
        assert (d.attempts, d.next_attempt_at) == before[1:]


def test_table_is_total_where_it_must_be() -> None:
    # Contact and timers are legal in every state; a send only from READY; answers only while in flight.
    for state in STATES:
        assert (state, DeliveryEvent.CONTACT) in TRANSITIONS
        assert (state, DeliveryEvent.TIMER) in TRANSITIONS
    assert {s for s, e in TRANSITIONS if e is DeliveryEvent.SEND} == {DeliveryState.READY}
    assert {s for s, e in TRANSITIONS if e in (DeliveryEvent.SUCCESS, DeliveryEvent.FAILURE)} == {DeliveryState.IN_FLIGHT}
    assert set(TRANSITIONS.values()) <= set(STATES)


@given(
    base=st.integers(1, 60_000),
    cap=st.integers(1, 10**8),
    attempts=st.integers(1, 10**6),
    jitter=st.floats(0, 1, exclude_max=True),
)
def test_backoff_is_capped_and_grows(base: int, cap: int, attempts: int, jitter: float) -> None:
    policy = BackoffPolicy(base_ms=base, cap_ms=cap)
    delay = policy.delay(attempts, jitter)
    assert 0 <= delay <= cap
    assert delay >= int(min(cap, base) * 0.5)
    assert policy.delay(attempts + 1, jitter) >= delay


steps = st.lists(
    st.tuples(st.sampled_from(EVENTS), st.integers(0, 5_000), st.floats(0, 1, exclude_max=True), st.booleans()),
    max_size=60,
)


@settings(max_examples=300)
@given(steps=steps, base=st.integers(1, 1000), cap=st.integers(1, 20_000))
def test_random_event_sequences(steps: list[tuple[DeliveryEvent, int, float, bool]], base: int, cap: int) -> None:
    policy = BackoffPolicy(base_ms=base, cap_ms=cap)
    d = PeerDelivery(policy)
    now = 0
    contacted = False  # the model: a CONTACT came during the push in flight
    for event, dt, jitter, poll in steps:
        now += dt
        if poll:  # the timer side: ``ready`` moves BACKING_OFF to READY exactly when the delay is over
            was = d.state
            ready = d.ready(now)
            if was is DeliveryState.BACKING_OFF:
                assert ready == (now >= d.next_attempt_at)
            else:
                assert ready == (was is DeliveryState.READY)
        before = (d.state, d.attempts, d.next_attempt_at)
        try:
            state = d.event(event, now, jitter)
        except LocalProtocolError:
            assert (before[0], event) not in TRANSITIONS
            assert (d.state, d.attempts, d.next_attempt_at) == before
            continue
        if event is DeliveryEvent.FAILURE and contacted:  # contact during the flight: it applies after the failure
            assert state is DeliveryState.READY is d.state and d.attempts == 0 and d.next_attempt_at == now
            contacted = False
            continue
        contacted = d.state is DeliveryState.IN_FLIGHT and (contacted or event is DeliveryEvent.CONTACT) \
            and event is not DeliveryEvent.SEND
        assert state is TRANSITIONS[(before[0], event)] is d.state
        assert d.attempts >= 0
        if event is DeliveryEvent.FAILURE:
            assert d.state is DeliveryState.BACKING_OFF
            assert d.attempts == before[1] + 1
            assert now <= d.next_attempt_at <= now + cap  # capped
            probe = dataclasses.replace(d)
            assert probe.ready(d.next_attempt_at)
            if d.next_attempt_at > now:
                assert not dataclasses.replace(d).ready(now)
        elif event in (DeliveryEvent.SUCCESS, DeliveryEvent.CONTACT):
            assert d.attempts == 0 and d.next_attempt_at == now  # reset on contact: served at once
            if d.state is not DeliveryState.IN_FLIGHT:
                assert dataclasses.replace(d).ready(now)
        else:
            assert (d.attempts, d.next_attempt_at) == before[1:]


def test_contact_during_a_failing_push_makes_ready_at_once() -> None:
    """bench/propagation, 1,000 nodes: a push sent while the peer was down was in flight when the
    peer came back and contacted us; its failure then backed off (before the fix: up to the cap, as
    the simulator dropped the contact; in the node: the first delay, 15-30 s). The contact is the
    newer news: after that failure the delivery is ready at once. Positive control: without a
    contact in the flight, the failure backs off."""
    d = PeerDelivery(BackoffPolicy(base_ms=1000, cap_ms=8000))
    d.event(DeliveryEvent.SEND, 0)
    d.event(DeliveryEvent.CONTACT, 10)
    assert d.event(DeliveryEvent.FAILURE, 20, 0.5) is DeliveryState.READY
    assert d.ready(20) and d.attempts == 0 and d.next_attempt_at == 20
    d.event(DeliveryEvent.SEND, 21)  # the next flight starts without the earlier contact
    assert d.event(DeliveryEvent.FAILURE, 30, 0.0) is DeliveryState.BACKING_OFF
    assert not d.ready(30) and d.next_attempt_at == 30 + 500


def test_contact_while_backing_off_makes_ready_at_once() -> None:
    d = PeerDelivery(BackoffPolicy(base_ms=1000, cap_ms=8000))
    now = 0
    for _ in range(10):
        assert d.ready(now)
        d.event(DeliveryEvent.SEND, now)
        d.event(DeliveryEvent.FAILURE, now, 0.999)
        assert d.next_attempt_at - now <= 8000
        now = d.next_attempt_at
    assert d.attempts == 10
    assert not d.ready(now - 1)
    d.event(DeliveryEvent.CONTACT, 11)
    assert d.ready(11) and d.attempts == 0
    d.event(DeliveryEvent.SEND, 12)
    d.event(DeliveryEvent.FAILURE, 12, 0.0)
    assert d.next_attempt_at == 12 + 500  # back to the first, shortest delay
