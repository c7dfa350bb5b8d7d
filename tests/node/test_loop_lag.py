"""The event loop's lag on /metrics (issue 11: no request may hold the loop for more than 50 ms): a
callback that holds a running node's loop for 0.2 s shows up in ``orgnode_event_loop_lag_seconds``
above the 0.1 s bucket and in ``orgnode_event_loop_lag_max_seconds``."""

from __future__ import annotations

import time

from tests.node.federation_helpers import Net, wait_until
from tests.node.test_metrics import scrape, value


def hold_the_loop(seconds: float) -> None:
    """What a blocking request does: compute on the loop's thread without yielding."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


async def test_a_held_loop_is_counted_in_the_lag_histogram_and_its_maximum(net: Net):
    node = await net.start("Youth Futures")
    lag = node.loop_lag
    await wait_until(lambda: lag.observations >= 3, what="the monitor's first wakes")
    samples, text, _ = await scrape(node)
    assert "# TYPE orgnode_event_loop_lag_seconds histogram" in text
    count, fast = value(samples, "orgnode_event_loop_lag_seconds_count"), value(samples, "orgnode_event_loop_lag_seconds_bucket", le="0.1")
    assert count >= 3 and value(samples, "orgnode_event_loop_lag_seconds_bucket", le="+Inf") == count
    slow_before = count - fast
    seen = lag.observations
    hold_the_loop(0.2)
    await wait_until(lambda: lag.observations > seen, what="the monitor's wake after the hold")
    samples, _, _ = await scrape(node)
    slow_after = value(samples, "orgnode_event_loop_lag_seconds_count") - value(samples, "orgnode_event_loop_lag_seconds_bucket", le="0.1")
    assert slow_after >= slow_before + 1, "the 0.2 s hold is counted above 0.1 s"
    assert value(samples, "orgnode_event_loop_lag_max_seconds") >= 0.15
    assert value(samples, "orgnode_event_loop_lag_seconds_sum") >= 0.15
