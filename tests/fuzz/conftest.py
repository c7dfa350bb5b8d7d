"""One real running node for the endpoint fuzzing and the findings' tests."""

from __future__ import annotations

import pytest

from node.runtime import NodeRuntime
from tests.conftest import make_home


@pytest.fixture
async def node(tmp_path):
    runtime = NodeRuntime(make_home(tmp_path, "A"))
    await runtime.start()
    yield runtime
    await runtime.stop()
    runtime.service.close()
