"""The RESULT line every benchmark ends with (bench/common.py; docs/performance.md "The RESULT rule"):
``ratio`` is the value over the limit measured in the same run, ``pass`` compares value and goal, and
the last line repeats the goal furthest from passing."""

from __future__ import annotations

import re

from bench.common import Goal, report

LINE = re.compile(r"^RESULT (?P<name>[\w.]+) value=(?P<value>\S+) goal=(?P<goal>(<=|>=)\S+) "
                  r"ratio=(?P<ratio>\S+) limit=(?P<limit>\S+) pass=(?P<pass>yes|no)$")


def test_ratio_is_value_over_the_same_run_limit_and_pass_compares_with_the_goal(capsys):
    ok = report("demo", [Goal("p50_ms", 40.0, 50, upper=True, limit=20.0),
                         Goal("rate", 3000.0, 0.6 * 4000, upper=False, limit=4000.0)])
    lines = capsys.readouterr().out.splitlines()
    parsed = [LINE.match(line) for line in lines]
    assert all(parsed), lines
    p50, rate, last = (m.groupdict() for m in parsed if m)
    assert (p50["name"], float(p50["ratio"]), p50["limit"], p50["pass"]) == ("demo.p50_ms", 2.0, "20", "yes")
    assert (float(rate["ratio"]), rate["goal"], rate["pass"]) == (0.75, ">=2400", "yes")
    assert last["name"] == "demo" and last["pass"] == "yes" and ok


def test_the_last_line_is_the_goal_furthest_from_passing_and_fails_if_any_fails(capsys):
    ok = report("demo", [Goal("p50_ms", 60.0, 50, upper=True, limit=20.0),  # 1.2× over
                         Goal("rate", 1000.0, 5000, upper=False),  # 5× under, no floor
                         Goal("rss_mb", 70.0, 80, upper=True, limit=40.0)])
    last = LINE.match(capsys.readouterr().out.splitlines()[-1])
    assert last and not ok
    assert (last["name"], last["value"], last["goal"], last["limit"], last["pass"]) == ("demo", "1000", ">=5000", "none", "no")
    assert float(last["ratio"]) == 0.2  # no floor: value / goal
