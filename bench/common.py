"""What every benchmark under bench/ shares: the argument parser (``--quick``), percentiles, real
nodes on loopback, and the RESULT lines.

The RESULT rule (docs/performance.md): every line is
``RESULT <name> value=<v> goal=<g> ratio=<v/limit> limit=<limit> pass=<yes|no>``. ``value`` is the
figure, ``goal`` the bound it must meet (``<=`` for latency, memory and time, ``>=`` for rates;
``pass`` compares ``value`` with ``goal``), and ``limit`` the floor measured **in the same run** in
the same unit (a raw SQL scan, the bare cryptography, one commit per row, ``python -c pass``), so
``ratio`` says how far the figure is from what this machine can do at all, comparable across
machines. A goal stated as a fraction of its floor (ingest ≥ 0.6 × the crypto floor) has
``goal = fraction × limit``. A measure with no meaningful floor gives ``limit=none`` and
``ratio = value / goal``. A benchmark prints one ``RESULT <name>.<measure>`` line per goal, then, as
its very last line, ``RESULT <name>`` repeating the figures of the goal furthest from passing, with
``pass=yes`` exactly when every goal passes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import os
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Goal:
    """One measured figure against its goal. ``upper``: the figure must stay at or below the goal."""

    measure: str
    value: float
    goal: float
    upper: bool
    unit: str = ""
    limit: float | None = None  # the floor measured in this run, in the value's unit (None: no floor)

    @property
    def ratio(self) -> float:
        """``value / limit`` (the same-run floor), or ``value / goal`` when there is no floor."""
        return self.value / (self.limit if self.limit else self.goal)

    @property
    def passed(self) -> bool:
        return self.value <= self.goal if self.upper else self.value >= self.goal

    @property
    def distance(self) -> float:
        """How far from passing, as a factor of the goal (≤ 1 passes) for either kind of goal."""
        if self.upper:
            return self.value / self.goal
        return math.inf if self.value <= 0 else self.goal / self.value


def parser(description: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--quick", action="store_true", help="a smaller run that finishes in under a minute")
    return p


def percentile(values: list[float], p: float) -> float:
    """The nearest-rank percentile (p in 0..100) of ``values``."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]


def fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) < 1000 else f"{value:.0f}"


def result_line(name: str, g: Goal, passed: bool | None = None) -> str:
    sign = "<=" if g.upper else ">="
    limit = fmt(g.limit) if g.limit else "none"
    ok = g.passed if passed is None else passed
    return (f"RESULT {name} value={fmt(g.value)} goal={sign}{fmt(g.goal)} ratio={g.ratio:.3f} limit={limit} "
            f"pass={'yes' if ok else 'no'}")


def report(name: str, goals: list[Goal]) -> bool:
    """Print one RESULT line per goal, then the summary line (last): the figures of the goal furthest
    from passing, ``pass=yes`` only if every goal passed. Returns whether all passed."""
    for g in goals:
        print(result_line(f"{name}.{g.measure}", g))
    worst = max(goals, key=lambda g: g.distance)
    ok = all(g.passed for g in goals)
    print(result_line(name, worst, ok))
    return ok


def figure(label: str, value: float, unit: str = "") -> None:
    print(f"  {label:<52} {fmt(value):>10} {unit}")


async def timed(fn: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    """(milliseconds, result) of one awaited call."""
    start = time.perf_counter()
    out = await fn()
    return (time.perf_counter() - start) * 1000, out


@contextlib.asynccontextmanager
async def nodes() -> AsyncIterator[Any]:
    """A ``Net`` of real nodes (aiohttp servers on 127.0.0.1, SQLite files in a temporary directory,
    the test suite's helper), all stopped at the end."""
    from tests.node.federation_helpers import Net

    with tempfile.TemporaryDirectory(prefix="orgnode-bench-") as tmp:
        net = Net(Path(tmp))
        try:
            yield net
        finally:
            await net.close()


def unlimited(runtime: Any) -> None:
    """Lift a node's per-peer request rate limit and daily match quota: a benchmark sends hundreds
    of queries from one partner in seconds, which those limits rightly refuse."""
    from node.core.limits import MatchQuota, PeerLimits

    runtime.fed_state.limits = PeerLimits(rate=1e9, burst=1e9)
    runtime.talent.match_quota = MatchQuota(queries=10**9, labels=10**9)


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def run(main: Callable[[], Awaitable[bool]]) -> None:
    """Run an async benchmark; the exit status is 0 if every goal passed, else 1."""
    raise SystemExit(0 if asyncio.run(main()) else 1)
