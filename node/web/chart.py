"""The overview's chart over time, drawn on the server as SVG (no script, no chart library).

``series_over_time`` recomputes the impact figures (protocol/impact.py, the same figures an exported
impact report carries) at evenly spaced moments from the node's first statement to now, cumulative
from the start; ``svg_chart`` turns the series into polylines on a fixed grid. Only numbers and fixed
labels reach the SVG, and the template escapes them anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.impact import compute
from protocol.statement import Statement

SERIES = (("referrals_sent", "Referrals sent"), ("referrals_received", "Referrals received"),
          ("referrals_hired", "Hires via referral"), ("new_partnerships", "Partners"))
WIDTH, HEIGHT, PAD = 640, 240, 36


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    values: tuple[int, ...]
    points: str  # "x,y x,y ..." for <polyline points=...>


@dataclass(frozen=True)
class Chart:
    moments: tuple[int, ...]  # ms
    lines: tuple[Line, ...]
    top: int  # the y axis' highest value
    width: int = WIDTH
    height: int = HEIGHT
    pad: int = PAD

    @property
    def latest(self) -> dict[str, int]:
        return {line.key: line.values[-1] for line in self.lines}


def series_over_time(me: bytes, held: list[Statement], start: int, now: int, steps: int = 8) -> dict[str, list[int]]:
    start = min(start, now)
    moments = [start + (now - start) * i // (steps - 1) for i in range(steps)]
    out: dict[str, list[int]] = {key: [] for key, _ in SERIES}
    out["_moments"] = moments
    for moment in moments:
        figures = compute(me, held, 0, moment + 1).figures
        for key, _ in SERIES:
            out[key].append(int(figures.get(key, 0)))
    return out


def svg_chart(series: dict[str, list[int]]) -> Chart:
    moments = tuple(series["_moments"])
    top = max([1, *(v for key, _ in SERIES for v in series[key])])
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    lines = []
    for key, label in SERIES:
        values = tuple(series[key])
        n = max(1, len(values) - 1)
        pts = " ".join(f"{PAD + inner_w * i / n:.1f},{PAD + inner_h - inner_h * v / top:.1f}" for i, v in enumerate(values))
        lines.append(Line(key, label, values, pts))
    return Chart(moments, tuple(lines), top)
