"""One headless Chromium for the browser tests, driven from a thread of its own.

The nodes under test run on the test's event loop; Playwright's async API runs on a second loop in
a worker thread, so one browser serves the whole session (a session-scoped fixture) whatever loop
each test has. ``Browser.run(fn)`` runs ``await fn(context)`` there, with a fresh browser context
(own cookies) per call unless one is given. The system's Chromium is used (/usr/bin/chromium, from
Debian); Playwright never downloads a browser.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


class Browser:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="playwright", daemon=True)
        self.thread.start()
        self._pw: Any = None
        self.browser: Any = None
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)

    async def _start(self) -> None:
        from playwright.async_api import async_playwright

        self._pw = await async_playwright().start()
        self.browser = await self._pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])

    async def new_context(self, **options: Any) -> Any:
        return await self.run_raw(lambda: self.browser.new_context(**options))

    async def run_raw(self, fn: Callable[[], Awaitable[Any]]) -> Any:
        async def call() -> Any:
            return await fn()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    async def run(self, fn: Callable[[Any], Awaitable[Any]], context: Any = None, **options: Any) -> Any:
        """``await fn(page)`` on the browser's loop: a new page in ``context`` (a new context if None)."""

        async def call() -> Any:
            ctx = context or await self.browser.new_context(**options)
            page = await ctx.new_page()
            try:
                return await fn(page)
            finally:
                await page.close()
                if context is None:
                    await ctx.close()

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(call(), self.loop))

    def close(self) -> None:
        async def stop() -> None:
            await self.browser.close()
            await self._pw.stop()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=60)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


async def sign_in(page: Any, base: str, name: str, password: str) -> None:
    await page.goto(base + "/login")
    await page.get_by_label("User name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await page.wait_for_url(base + "/")


async def axe_violations(page: Any) -> list[str]:
    """axe-core's violations on the page (WCAG 2 A and AA rules), as "rule: target" lines."""
    from axe_playwright_python.async_playwright import Axe

    results = await Axe().run(page, options={"runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21aa"]}})
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in results.response["violations"]]
