"""The one place the shell reads wall-clock time, in the protocol's unit (ms since the Unix epoch)."""

from __future__ import annotations

import time


def now_ms() -> int:
    return time.time_ns() // 1_000_000
