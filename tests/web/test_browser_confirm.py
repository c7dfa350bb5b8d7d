"""Closing a job asks first in Chromium (app.js reads the form's ``data-confirm`` under the strict CSP):
dismissing the question sends nothing; accepting it closes the job (the positive control)."""

from __future__ import annotations

from tests.web.browser import sign_in
from tests.web.helpers import PASSWORD, add_user, dashboard_url


async def test_closing_a_job_asks_and_a_dismissed_question_closes_nothing(net, browser):
    node = await net.start("Acme", lan_discovery=False)
    add_user(node, "sam", "staff")
    job = node.talent.post_job(title="Nurse", skills=["nursing"])
    base = dashboard_url(node)

    async def close_twice(page):
        await sign_in(page, base, "sam", PASSWORD)
        await page.goto(base + "/jobs")
        asked: list[str] = []

        async def dismiss(dialog):
            asked.append(dialog.message)
            await dialog.dismiss()

        posted: list[str] = []
        page.on("request", lambda request: posted.append(request.url) if request.method == "POST" else None)
        page.once("dialog", dismiss)
        await page.get_by_role("button", name="Close “Nurse”").click()
        await page.goto(base + "/jobs")  # a fresh page: what the server holds, not what this one showed
        status_after_dismiss = await page.locator(f'[data-job="{job.job_id.hex()}"]').inner_text()
        posts_after_dismiss = list(posted)

        async def accept(dialog):
            await dialog.accept()

        page.once("dialog", accept)
        async with page.expect_navigation():
            await page.get_by_role("button", name="Close “Nurse”").click()
        return asked, status_after_dismiss, posts_after_dismiss, posted

    asked, shown, posts_after_dismiss, posts = await browser.run(close_twice)
    assert asked == ["Close “Nurse”? Partners are told it is no longer offered."]
    close = f"/jobs/{job.job_id.hex()}/close"
    assert "· open" in shown and not any(url.endswith(close) for url in posts_after_dismiss)
    assert any(url.endswith(close) for url in posts), posts  # positive control: the request is seen when sent
    assert node.talent.own_job(job.job_id).job.status == "closed"
