from __future__ import annotations

import aiohttp
import pytest


@pytest.fixture
async def http():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture(scope="session")
def browser():
    """One Chromium for the session; the browser tests skip only where /usr/bin/chromium is absent
    (.ci/run installs it, so in CI they always run)."""
    from tests.web.browser import CHROMIUM, Browser

    if not CHROMIUM.exists():
        pytest.skip("no /usr/bin/chromium on this machine (apt-get install chromium; .ci/run does)")
    instance = Browser()
    yield instance
    instance.close()
