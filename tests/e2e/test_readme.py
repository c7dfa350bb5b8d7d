"""The README's quick start and CI stay in step: `.ci/run` calls the README's test command verbatim,
and the demo command is the one the README gives (tests/e2e/test_demo.py runs the demo itself)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quick_start_commands() -> list[str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quick_start_is_two_commands_one_for_the_demo_one_for_the_tests():
    commands = quick_start_commands()
    assert len(commands) == 2, commands
    demo, tests = commands
    assert demo.startswith("python3 -m venv .venv && ") and demo.endswith("orgnode demo")
    assert tests.startswith("python3 -m venv .venv && ") and tests.endswith(".venv/bin/pytest")


def test_ci_runs_the_readme_test_command_verbatim():
    ci = (REPO / ".ci" / "run").read_text().splitlines()
    _, tests = quick_start_commands()
    assert tests in ci, "the README's test command must be a line of .ci/run, verbatim"
    assert "# --- the README's test command (verbatim) ---" in ci  # positive control: the marker CI keeps


def test_the_checker_sees_a_mismatch(tmp_path):
    fake = tmp_path / "run"
    fake.write_text("python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/pytest -x\n")
    _, tests = quick_start_commands()
    assert tests not in fake.read_text().splitlines()
