"""How long the node's event loop was held (issue 11: no request may hold it for more than 50 ms).

A task sleeps ``INTERVAL`` again and again; how much later than asked it wakes is the time some other
callback held the loop meanwhile. Every wake is one observation in a histogram, served on ``/metrics``
as ``orgnode_event_loop_lag_seconds`` (buckets ``BUCKETS``; ``_count``, ``_sum``) with the largest
since start as ``orgnode_event_loop_lag_max_seconds``, so a soak test or an operator sees a stall the
moment it happens, whatever request or timer caused it. Measured on the loop's own monotonic clock,
not the node's (wall, settable) clock. Cost: 20 wakes a second, a few microseconds each.
"""

from __future__ import annotations

import asyncio
import bisect
from dataclasses import dataclass, field

INTERVAL = 0.05  # seconds between wakes: a held loop shows up within this much of its end
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass
class LoopLag:
    """The observations so far: counts per bucket (the last: above every bound), their sum and the largest."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total_seconds: float = 0.0
    max_seconds: float = 0.0

    @property
    def observations(self) -> int:
        return sum(self.counts)

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.total_seconds += seconds
        self.max_seconds = max(self.max_seconds, seconds)

    def over(self, seconds: float) -> int:
        """How many observations were above ``seconds`` (one of ``BUCKETS``)."""
        return sum(self.counts[BUCKETS.index(seconds) + 1:])

    async def watch(self, interval: float = INTERVAL) -> None:
        """Observe until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + interval
            await asyncio.sleep(interval)
            self.observe(max(0.0, loop.time() - asked))
