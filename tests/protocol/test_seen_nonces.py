"""The replay cache stays about two freshness windows' worth of requests under steady traffic
(issue 15's soak found it swept expired pairs only once full: ~1 MB an hour for ~17 hours)."""

from __future__ import annotations

import pytest

from protocol.errors import RemoteProtocolError
from protocol.request_auth import FRESHNESS_MS, RequestAuth, SeenNonces

ORIGIN = b"\x01" * 32


def request(n: int, ts: int) -> RequestAuth:
    return RequestAuth(ORIGIN, b"\x02" * 32, ts, n.to_bytes(16, "big"), b"\x00" * 64)


def test_steady_traffic_keeps_the_cache_at_about_two_windows_long_before_it_is_full() -> None:
    seen = SeenNonces(max_entries=100_000)
    step_ms = 1000  # one request a second, for ten windows
    for n in range(10 * FRESHNESS_MS // step_ms):
        seen.check_and_add(request(n, n * step_ms), n * step_ms)
    windows = 3 * FRESHNESS_MS // step_ms  # expiry at ts + 2 windows, swept once per window
    assert len(seen) <= windows, f"{len(seen)} pairs held; expired ones were not swept"
    assert len(seen) >= 2 * FRESHNESS_MS // step_ms - 1, "positive control: the fresh ones are all kept"


def test_a_replay_within_the_window_is_still_refused_after_a_sweep() -> None:
    seen = SeenNonces()
    first = request(1, 0)
    seen.check_and_add(first, 0)
    seen.check_and_add(request(2, FRESHNESS_MS + 1), FRESHNESS_MS + 1)  # sweeps: the first is not yet expired
    with pytest.raises(RemoteProtocolError) as replay:
        seen.check_and_add(first, FRESHNESS_MS + 2)
    assert replay.value.code == "replay"
