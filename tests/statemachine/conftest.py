"""The node state machine's switch: CI runs a short setting with every ``pytest``; the long one is
``pytest tests/statemachine --statemachine-long`` (or ``STATEMACHINE_LONG=1``)."""

from __future__ import annotations

import os

import pytest

LONG_ENV = "STATEMACHINE_LONG"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--statemachine-long", action="store_true", default=False,
                     help="run the node state machine (tests/statemachine) with its long setting")


def long_run(config: pytest.Config) -> bool:
    return bool(config.getoption("--statemachine-long", default=False)) or os.environ.get(LONG_ENV, "") not in ("", "0")
