"""The partners page's health of each partner and the nearby-nodes page (issue 14), on real nodes over
real HTTP. Health shows the facts `orgnode status` uses (a stopped partner becomes "unreachable since",
our updates wait for it; a running one is reachable with its clock compared). Nearby nodes are what LAN
discovery browses; an admin's pairing request goes through the same ``LanAdmin.request`` as `orgnode
trust request`; a viewer, staff, a form without its token and a cross-site post are refused and change
nothing. mDNS itself cannot run here: as in tests/node/test_discovery.py the browse step returns what
the nodes announce (the real multicast path is tests/e2e/test_lan_discovery.py)."""

from __future__ import annotations

import re

from node.web.filters import fingerprint_groups
from storage import peers as P
from tests.node.federation_helpers import pair, wait_until
from tests.node.test_discovery import lan
from tests.web.helpers import EVIL, signed_in


def card(html: str, node_id: bytes) -> str:
    """One partner's health card on the page."""
    start = html.index(f'class="card health" data-partner="{node_id.hex()}"')
    return html[start:html.index("</ul>\n  </li>", start)]


async def test_each_partners_health_reachable_or_unreachable_since_with_waiting_updates(net, http):
    ours = await net.start("Northwind Care", unreachable_warn_after=0.5)
    up = await net.start("Youth Futures")
    down = await net.start("Green Works")
    await pair(ours, up)
    await pair(ours, down)
    await net.halt(down)
    ours.talent.post_job(title="Driver", skills=["driving"])
    await wait_until(lambda: ours.federation.health.down_since(down.service.node_id, ours.federation.clock()) is not None,
                     timeout=15, what="the stopped partner counted unreachable")
    await wait_until(lambda: ours.federation.peers.outbox_size(up.service.node_id) == 0, what="the running partner's ack")
    await wait_until(lambda: up.service.node_id in ours.federation.health.offsets, what="the running partner's clock measured")
    viewer = await signed_in(http, ours, "vera", "viewer")
    admin = await signed_in(http, ours, "ada", "admin")
    status, html, _ = await viewer.get("/partners")
    assert status == 200
    good, bad = card(html, up.service.node_id), card(html, down.service.node_id)
    assert 'data-health="reachable"' in good and 'data-health="unreachable"' in bad
    assert "Reachable." in good and "Nothing of ours is waiting" in good and "Their clock agrees with ours." in good
    assert "Unreachable since" in bad and re.search(r"\b(?:1 update|(?:[2-9]|\d{2,}) updates) of ours waiting to be delivered since", bad)
    assert 'data-problem="peer-unreachable"' in bad and "has not answered for a while" in bad
    assert "Details for the administrator" not in bad  # the CLI's detail and action: admins only
    _, html, _ = await admin.get("/partners")
    assert "Details for the administrator" in card(html, down.service.node_id) and "orgnode trust list" in html


async def test_nearby_nodes_and_an_admins_pairing_request_refused_for_others(net, http):
    ours = await net.start("Northwind Care")
    them = await net.start("Green <i>Works</i>")
    ours.lan.discovery.browse = lan(ours, them)  # type: ignore[method-assign]
    them.lan.discovery.browse = lan(ours, them)  # type: ignore[method-assign]
    viewer = await signed_in(http, ours, "vera", "viewer")
    staff = await signed_in(http, ours, "sam", "staff")
    admin = await signed_in(http, ours, "ada", "admin")
    target = them.service.node_id.hex()
    status, html, _ = await viewer.get("/partners/nearby")
    assert status == 200 and "Green &lt;i&gt;Works&lt;/i&gt;" in html and "<i>Works" not in html
    assert f'data-node="{ours.service.node_id.hex()}"' not in html  # not ourselves
    grouped = fingerprint_groups(them.service.identity.fingerprint)
    assert grouped.count(" ") >= 3 and grouped in html and "Send a pairing request" not in html
    path = f"/partners/nearby/{target}/request"
    assert (await viewer.post(path, {"csrf": await viewer.token("/partners")}))[0] == 403
    assert (await staff.post(path, {"csrf": await staff.token("/partners")}))[0] == 403  # admins only
    assert (await admin.post(path, {}))[0] == 403  # no token
    token = await admin.token("/partners")
    assert (await admin.post(path, {"csrf": token}, headers=EVIL))[0] == 403
    assert ours.federation.peers.get(them.service.node_id) is None and ours.federation.peers.get(ours.service.node_id) is None
    assert them.federation.peers.get(ours.service.node_id) is None  # nothing was sent

    _, html, _ = await admin.get("/partners/nearby")
    assert "Send a pairing request to Green &lt;i&gt;Works&lt;/i&gt;" in html
    status, _, resp = await admin.post(path, {"csrf": token})
    assert status == 303 and resp.headers["Location"].startswith("/partners?requested=")
    assert ours.federation.peers.get(them.service.node_id).state == P.PENDING_OUT
    assert them.federation.peers.get(ours.service.node_id).state == P.PENDING_IN
    _, html, _ = await admin.get(resp.headers["Location"])
    assert "Asked Green &lt;i&gt;Works&lt;/i&gt; to pair" in html
    _, html, _ = await admin.get("/partners/nearby")
    assert "waiting for their answer" in html and "Send a pairing request" not in html

    their_admin = await signed_in(http, them, "bo", "admin")
    _, html, _ = await their_admin.get("/partners")
    assert "Northwind Care</strong> asks to become a partner" in html
    status, _, _ = await their_admin.post(f"/partners/{ours.service.node_id.hex()}/approve", {"csrf": await their_admin.token("/partners")})
    assert status == 303
    assert ours.federation.peers.get(them.service.node_id).state == P.TRUSTED


async def test_nearby_is_plainly_off_when_lan_discovery_is(net, http):
    node = await net.start("Northwind Care", lan_discovery=False)
    viewer = await signed_in(http, node, "vera", "viewer")
    status, html, _ = await viewer.get("/partners/nearby")
    assert status == 200 and "turned off on this node" in html
