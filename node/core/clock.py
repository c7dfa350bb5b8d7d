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

import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

Clock = Callable[[], int]
"""Now, in ms since the Unix epoch."""

RandomBytes = Callable[[int], bytes]
"""``n`` fresh random bytes (``os.urandom`` in a running node)."""


CLOCK_OFFSET_ENV = "ORGNODE_CLOCK_OFFSET"
"""Testing aid: seconds ``orgnode run`` adds to the system time, so a node process behaves as if its
machine's clock were wrong (the fault suite's skew scenarios, tests/faults/README.md). Unset, as in
production, it changes nothing."""

_wall_offset_ms = 0


def now_ms() -> int:
    """The real clock: the one place the node reads wall-clock time (shifted by a test's offset)."""
    return time.time_ns() // 1_000_000 + _wall_offset_ms


def set_wall_offset_from_env(environ: Mapping[str, str]) -> float:
    """Apply ``ORGNODE_CLOCK_OFFSET`` (seconds, may be negative) to ``now_ms``; returns the offset.
    Every wall-clock read shifts with it: the node's default clock, request signing and the
    freshness check of requests received. A value that is not a number is refused by name."""
    global _wall_offset_ms
    text = environ.get(CLOCK_OFFSET_ENV, "").strip()
    try:
        offset = float(text) if text else 0.0
        if not math.isfinite(offset):
            raise ValueError(text)
    except ValueError:
        raise ValueError(f"environment variable {CLOCK_OFFSET_ENV} must be a number of seconds, got {text!r}; "
                         "unset it (it is a testing aid)") from None
    _wall_offset_ms = round(offset * 1000)
    return offset


def system_random(n: int) -> bytes:
    """The real random source: the one place the node reads the OS's randomness for the core."""
    return os.urandom(n)


SALT_BYTES = 32  # protocol.statement.SALT_LEN


def salts_from(random: RandomBytes, n: int) -> list[bytes]:
    """``n`` fresh 32-byte statement salts drawn from ``random`` in one read: a read per salt cost a
    system call each, and each gives the interpreter lock away (a CSV import's 2,000 salts a batch
    waited ~27 µs apiece for it to come back, py-spy of ``bench.import --quick`` at load 5)."""
    pool = random(SALT_BYTES * n)
    return [pool[i * SALT_BYTES:(i + 1) * SALT_BYTES] for i in range(n)]


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
