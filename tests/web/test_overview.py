"""The overview's figures and server-side SVG chart follow what the node did (issue 14 item 4)."""

from __future__ import annotations

import re

from tests.node.federation_helpers import pair
from tests.web.helpers import Browserless, add_user, dashboard_url


def figures(html: str) -> dict[str, int]:
    return {k: int(v) for k, v in re.findall(r'data-figure="([a-z_]+)">(\d+)<', html)}


def series(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-series="([a-z_]+)" fill="none" points="([^"]+)"', html))


async def test_the_chart_and_figures_change_when_the_node_gains_a_partner_and_a_job(net, http):
    ours = await net.start("Acme")
    add_user(ours, "vera", "viewer")
    viewer = Browserless(http, dashboard_url(ours), {})
    await viewer.sign_in("vera")
    _, before, _ = await viewer.get("/")
    assert figures(before) == {"referrals_sent": 0, "referrals_received": 0, "referrals_hired": 0, "new_partnerships": 0, "jobs": 0}
    assert '<svg class="chart"' in before and "<script>" not in before
    theirs = await net.start("Youth")
    await pair(ours, theirs)
    ours.talent.post_job(title="Nurse", skills=["nursing"])
    _, after, _ = await viewer.get("/")
    assert figures(after)["new_partnerships"] == 1 and figures(after)["jobs"] == 1
    assert series(after)["new_partnerships"] != series(before)["new_partnerships"]
    assert series(after)["referrals_sent"].split()[-1].endswith(",204.0")  # still on the zero line
