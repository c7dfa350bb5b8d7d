"""The fault suite's switch: a quick subset runs with every ``pytest``; the full run is
``pytest tests/faults --faults-full`` (or ``FAULTS_FULL=1 pytest tests/faults``)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.faults.cluster import Cluster

FULL_ENV = "FAULTS_FULL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--faults-full", action="store_true", default=False,
                     help="run every fault-injection scenario and the long state-machine settings (tests/faults)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "faults_full: a fault scenario run only with --faults-full or FAULTS_FULL=1")


def full_run(config: pytest.Config) -> bool:
    return bool(config.getoption("--faults-full", default=False)) or os.environ.get(FULL_ENV, "") not in ("", "0")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if full_run(config):
        return
    skip = pytest.mark.skip(reason="full fault run only: pytest tests/faults --faults-full")
    for item in items:
        if "faults_full" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def cluster(tmp_path) -> Iterator[Cluster]:
    made = Cluster(tmp_path)
    try:
        yield made
    finally:
        made.close()
