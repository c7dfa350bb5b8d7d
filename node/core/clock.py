"""Time and randomness for the core, and the timers scheduled on that time.

The core never reads the wall clock or a random source itself: ``NodeService`` holds one ``Clock``
(ms since the Unix epoch, the protocol's unit) and one ``RandomBytes`` source, defaulting to the real
ones below, and every use case takes time and random bytes from there (``Federation.clock`` and
``Federation.random`` delegate to it). A test gives a fake clock and a seeded source, and advances
time instead of sleeping. ``Timer`` is work due by that clock: each timer says when it is next due
(``next_wakeup(now)``, in the style of aioquic's ``get_timer``), so the sync engine's maintenance
loop sleeps until the earliest one rather than polling.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Clock = Callable[[], int]
"""Now, in ms since the Unix epoch."""

RandomBytes = Callable[[int], bytes]
"""``n`` fresh random bytes (``os.urandom`` in a running node)."""


def now_ms() -> int:
    """The real clock: the one place the node reads wall-clock time."""
    return time.time_ns() // 1_000_000


CLOCK_OFFSET_ENV = "ORGNODE_CLOCK_OFFSET"
"""Testing aid: seconds added to the system time by ``orgnode run`` (the fault suite skews a node's
clock this way, tests/faults/README.md). Unset in production; it changes nothing else."""


def offset_clock(offset_s: float) -> Clock:
    """The real clock shifted by ``offset_s`` seconds (a node process whose clock is wrong)."""
    offset_ms = round(offset_s * 1000)
    return lambda: now_ms() + offset_ms


def clock_from_env(environ: Mapping[str, str]) -> Clock:
    """``now_ms``, or ``offset_clock`` if ``ORGNODE_CLOCK_OFFSET`` is set; a bad value is refused by name."""
    text = environ.get(CLOCK_OFFSET_ENV, "").strip()
    if not text:
        return now_ms
    try:
        offset = float(text)
    except ValueError:
        raise ValueError(f"{CLOCK_OFFSET_ENV} must be a number of seconds, got {text!r}") from None
    return offset_clock(offset)


def system_random(n: int) -> bytes:
    """The real random source: the one place the node reads the OS's randomness for the core."""
    return os.urandom(n)


def jitter(random: RandomBytes) -> float:
    """A uniform float in [0, 1) drawn from ``random`` (back-off and pull-interval jitter)."""
    return int.from_bytes(random(7), "big") / (1 << 56)


def _never(now: int) -> int | None:
    return None


@dataclass(frozen=True)
class Timer:
    """Work due by the node's clock. ``run(now)`` does what is due at ``now``; ``next_wakeup(now)``
    says when (ms) something is next due, or None if nothing is scheduled (then the loop's interval
    bounds the sleep)."""

    name: str
    run: Callable[[int], object]
    next_wakeup: Callable[[int], int | None] = _never


def earliest_wakeup(timers: Iterable[Timer], now: int) -> int | None:
    """The earliest ``next_wakeup`` over ``timers`` (None if none is scheduled); a timer whose
    schedule cannot be read counts as due now, so its failure is retried rather than forgotten."""
    due: list[int] = []
    for timer in timers:
        try:
            at = timer.next_wakeup(now)
        except Exception:
            at = now
        if at is not None:
            due.append(at)
    return min(due, default=None)
