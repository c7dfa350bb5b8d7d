"""Health and metrics (issue 10 item 6, item 7 part 3): real nodes, real HTTP, a real Prometheus parser.

``/metrics`` is scraped over HTTP from the node's own loopback listener and parsed with
``prometheus_client.parser.text_string_to_metric_families``; counts are checked against traffic the
test made (statements pushed, a statement refused with a known code, one stamped ahead of the
receiver's clock). ``orgnode status`` problems and the unreachable-partner log are driven with a
fake node clock and a partner that is really down.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import socket

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from node.config import Config
from node.core.clock import now_ms
from node.core.errors import UserError
from node.core.health import peer_label
from node.core.service import NodeService
from node.http.admin_api import status_info
from protocol import errors as E
from protocol.bodies import Note
from storage.quotas import PeerQuota
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import (
    PUSH,
    FakeClock,
    Net,
    batch_of,
    db_bytes,
    head,
    next_notes,
    note,
    pair,
    push,
    signed_post,
    synced,
    wait_until,
)

HOUR_MS = 3_600_000


async def scrape(runtime) -> tuple[dict[tuple[str, tuple[tuple[str, str], ...]], float], str, str]:
    """GET the node's metrics URL: (samples by name and labels, the raw text, the content type)."""
    url = runtime.federation.health.metrics_url
    assert url is not None
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        assert resp.status == 200
        text = await resp.text()
        ctype = resp.headers["Content-Type"]
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples, text, ctype


def value(samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def posts(runtime, *texts: str) -> None:
    for text in texts:
        runtime.federation.append(Note.KIND, Note(text).to_value(), private=True)


async def test_metrics_count_traffic_and_rejections_by_code_on_a_loopback_listener_with_no_personal_data(net: Net):
    hub = await net.start("Hub Org")
    alpha = await net.start("Alpha Shelter")
    beta = await net.start("Beta Works", sector="company")
    await pair(hub, alpha)
    await pair(hub, beta)
    await synced(hub, alpha)
    await synced(hub, beta)
    a, b = peer_label(alpha.service.node_id), peer_label(beta.service.node_id)
    hub.talent.add_candidate(name="Zuzanna Quillfeather", email="zuzanna.q@example.org", skills=["forklift"],
                             consent=["match", "refer"], consent_scope="all", consent_evidence="form v3")
    before, _, _ = await scrape(hub)

    posts(alpha, "one", "two", "three")
    posts(beta, "four")
    await synced(hub, alpha)
    await synced(hub, beta)
    # A statement of Beta's log sent by Alpha: refused with wrong-author (a peer may only send its own log).
    forged = next_notes(beta, ["not yours to send"])[0]
    assert (await push(alpha, hub, forged)).results() == [E.WRONG_AUTHOR]
    posts(hub, "from the hub")
    await synced(alpha, hub)
    await synced(beta, hub)

    after, text, ctype = await scrape(hub)
    assert ctype.startswith("text/plain") and "version=0.0.4" in ctype
    received = "orgnode_statements_received_total"
    assert value(after, received, peer=a) - value(before, received, peer=a) == 3
    assert value(after, received, peer=b) - value(before, received, peer=b) == 1
    rejected = "orgnode_statements_rejected_total"
    assert value(after, rejected, code=E.WRONG_AUTHOR) - value(before, rejected, code=E.WRONG_AUTHOR) == 1
    sent = sum(value(after, "orgnode_statements_sent_total", peer=a, via=via) for via in ("push", "pull"))
    assert sent >= 1, "the hub's own note reached Alpha"
    assert value(after, "orgnode_peers", state="trusted") == 2
    assert value(after, "orgnode_peers", state="blocked") == 0
    assert value(after, "orgnode_disk_free_bytes") > 0
    assert value(after, "orgnode_database_size_bytes") > 0
    assert value(after, "orgnode_peer_unreachable", peer=a) == 0
    assert (("orgnode_peer_sync_lag_seconds", (("peer", a),))) in after
    assert value(after, "orgnode_forked_authors") == 0

    # No personal data and no partners' text: positive control, the hub's database holds them.
    stored = db_bytes(hub.service.home.path)
    for secret in (b"Zuzanna Quillfeather", b"zuzanna.q@example.org", b"Alpha Shelter"):
        assert secret in stored
        assert secret.decode() not in text
    assert "Beta Works" not in text

    # The listener is loopback, its own port; the federation port does not serve /metrics.
    url = hub.federation.health.metrics_url
    assert url is not None and url.startswith("http://127.0.0.1:") and f":{hub.port}/" not in url
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{hub.port}/metrics") as resp:
            assert resp.status == 404
        async with session.get(f"http://127.0.0.1:{hub.port}/health") as resp:
            assert resp.status == 200, "positive control: the federation port answers"
    result = await asyncio.to_thread(orgnode, "--home", str(hub.service.home.path), "status", "--json")
    assert json.loads(result.stdout)["metrics_url"] == url


def test_a_metrics_listener_off_loopback_needs_metrics_allow_remote():
    base = dict(name="A", sector="nonprofit", listen_host="127.0.0.1", listen_port=8470, url="http://127.0.0.1:8470")
    with pytest.raises(UserError, match=r"metrics_listen is 0\.0\.0\.0, not a loopback address") as err:
        Config(**base, metrics_listen="0.0.0.0:9470")
    assert err.value.field == "metrics_listen"
    with pytest.raises(UserError, match=r"metrics_listen is metrics\.example\.org"):
        Config(**base, metrics_listen="metrics.example.org:9470")
    assert Config(**base, metrics_listen="0.0.0.0:9470", metrics_allow_remote=True).metrics_address == ("0.0.0.0", 9470)
    assert Config(**base, metrics_listen="[::1]:9470").metrics_address == ("::1", 9470)
    assert Config(**base, metrics_listen="").metrics_address is None
    with pytest.raises(UserError, match="config key metrics_listen must be HOST:PORT"):
        Config(**base, metrics_listen="9470")


async def test_metrics_off_serves_nothing(net: Net):
    node = await net.start("Quiet", metrics_listen="")
    on = await net.start("Loud")
    assert node.federation.health.metrics_url is None
    assert status_info(node.service, True, node.federation.health)["metrics_url"] is None
    assert on.federation.health.metrics_url is not None, "positive control: the default serves metrics"


def unreachable_records(caplog) -> list[tuple[str, int]]:
    return [(r.getMessage(), r.levelno) for r in caplog.records if r.getMessage() in ("peer.unreachable", "peer.reachable")]


async def test_an_unreachable_partner_is_info_then_one_warning_past_the_threshold_then_info_when_back(net: Net, caplog):
    caplog.set_level(logging.INFO, logger="orgnode")
    hub = await net.start("Hub", sync_interval=600, retry_base=600, retry_cap=600)
    partner = await net.start("Partner", sync_interval=600, retry_base=600, retry_cap=600)
    await pair(hub, partner)
    await synced(hub, partner)
    clock = FakeClock()
    hub.service.clock = clock
    down_at = clock()
    home = await net.stop(partner)  # really down: its port refuses connections

    await hub.sync.pull_all()
    assert unreachable_records(caplog) == [("peer.unreachable", logging.INFO)]
    clock.advance(HOUR_MS // 2)
    await hub.sync.pull_all()
    assert unreachable_records(caplog) == [("peer.unreachable", logging.INFO)], "below the threshold: no warning yet"
    assert not [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "peer-unreachable"]

    clock.advance(HOUR_MS // 2 + 60_000)
    await hub.sync.pull_all()
    await hub.sync.pull_all()  # once per transition, not every retry
    assert unreachable_records(caplog) == [("peer.unreachable", logging.INFO), ("peer.unreachable", logging.WARNING)]
    problems = [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "peer-unreachable"]
    assert len(problems) == 1 and problems[0]["peer"] == partner.service.node_id.hex()
    assert problems[0]["since"] == status_time(down_at)
    assert "Partner has been unreachable since" in problems[0]["detail"] and "(1.0 h)" in problems[0]["detail"]
    assert "check their URL" in problems[0]["action"]
    samples, _, _ = await scrape(hub)
    assert value(samples, "orgnode_peer_unreachable", peer=peer_label(partner.service.node_id)) == 1
    assert value(samples, "orgnode_problems", code="peer-unreachable") == 1

    await net.restart(home)
    await hub.sync.pull_all()
    assert unreachable_records(caplog)[-1] == ("peer.reachable", logging.INFO)
    assert not [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "peer-unreachable"]


async def test_an_outage_under_a_minute_is_shown_in_seconds(net: Net):
    """acc10: with a short unreachable_warn_after the problem read "(0 min)"; now "(16 s)"."""
    hub = await net.start("Hub", sync_interval=600, retry_base=600, retry_cap=600, unreachable_warn_after=10)
    partner = await net.start("Partner", sync_interval=600, retry_base=600, retry_cap=600)
    await pair(hub, partner)
    await synced(hub, partner)
    clock = FakeClock()
    hub.service.clock = clock
    await net.stop(partner)
    await hub.sync.pull_all()
    clock.advance(16_000)
    await hub.sync.pull_all()
    problems = [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "peer-unreachable"]
    assert len(problems) == 1 and "(16 s)" in problems[0]["detail"], problems
    clock.advance(2 * 60_000)  # control: minutes once past one
    assert "(2 min)" in next(p for p in status_info(hub.service, True, hub.federation.health)["problems"]
                             if p["code"] == "peer-unreachable")["detail"]


def test_sizes_read_in_mib_under_a_gib():
    from node.core.problems import size_text

    assert size_text(0) == "0.0 MiB" and size_text(3 << 20) == "3.0 MiB" and size_text(500 << 20) == "500 MiB"
    assert size_text(3 << 30) == "3.0 GiB"


def status_time(ms: int) -> str:
    from node.core.views import iso

    return iso(ms)


async def test_statements_stamped_ahead_of_the_receivers_clock_are_accepted_but_counted_and_shown(net: Net):
    hub = await net.start("Hub", skew_warn=60.0)
    ahead = await net.start("Ahead Org", checkpoint_interval=3600)  # no checkpoint of its own in between
    steady = await net.start("Steady Org")
    await pair(hub, ahead)
    await pair(hub, steady)
    await synced(hub, ahead)
    await synced(hub, steady)
    before = head(hub, ahead)
    skewed = FakeClock(follow_wall=True)
    skewed.advance(4 * 60_000)  # 4 min ahead: past skew_warn, inside the 5 min request window
    ahead.service.clock = skewed
    posts(ahead, "from the future", "still ahead")
    posts(steady, "on time")
    await synced(hub, ahead)  # accepted
    await synced(hub, steady)

    samples, _, _ = await scrape(hub)
    assert head(hub, ahead) - before == 2, "both accepted, nothing else signed meanwhile"
    assert value(samples, "orgnode_statements_skewed_total", peer=peer_label(ahead.service.node_id)) == 2
    assert ("orgnode_statements_skewed_total", (("peer", peer_label(steady.service.node_id)),)) not in samples, \
        "positive control: a partner on time is not flagged"
    problems = [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "clock-skew"]
    assert len(problems) == 1 and problems[0]["peer"] == ahead.service.node_id.hex()
    assert "clock skew with partner Ahead Org: their statements are ~" in problems[0]["detail"]
    assert "min ahead" in problems[0]["detail"] and "2 statement(s)" in problems[0]["detail"]
    assert abs(value(samples, "orgnode_peer_clock_offset_seconds", peer=peer_label(steady.service.node_id))) < 30


async def test_a_partner_whose_signed_requests_show_its_clock_behind_is_flagged_while_still_accepted(net: Net):
    hub = await net.start("Hub", skew_warn=60.0)
    late = await net.start("Late Org")
    await pair(hub, late)
    await synced(hub, late)
    await net.halt(late)  # only the requests below speak for it (its own loops would measure ~0 again)
    label = peer_label(late.service.node_id)
    on_time = await signed_post(hub, PUSH, batch_of(), late.service.identity)
    assert on_time.status == 200
    assert not [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "clock-skew"], \
        "positive control: a request on time is no skew"
    behind = await signed_post(hub, PUSH, batch_of(*next_notes(late, ["late"])), late.service.identity,
                               ts=now_ms() - 3 * 60_000)
    assert behind.results() == ["appended"], "3 min behind is inside the 5 min window: accepted"
    problems = [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "clock-skew"]
    assert len(problems) == 1 and problems[0]["peer"] == late.service.node_id.hex()
    assert "their clock is ~3 min behind this node's (measured from their signed requests)" in problems[0]["detail"]
    samples, _, _ = await scrape(hub)
    assert -190 < value(samples, "orgnode_peer_clock_offset_seconds", peer=label) < -170
    assert value(samples, "orgnode_problems", code="clock-skew") == 1


async def test_status_lists_fork_evidence_and_a_low_disk_in_plain_words_with_partner_text_escaped(net: Net):
    hub = await net.start("Hub", disk_warn_free_bytes=10**15)  # more than any test disk: "nearly full"
    calm = await net.start("Calm", disk_warn_free_bytes=0, disk_warn_free_percent=0.0)
    evil = await net.start("Evil\x1b]0;owned\x07 Org", sector="company")
    await pair(hub, evil)
    await synced(hub, evil)
    first, = next_notes(evil, ["one story"])
    other = note(evil.service.identity, first.seq, first.header.prev, "another story")
    assert (await push(evil, hub, first)).results() == ["appended"]
    assert (await push(evil, hub, other)).results() == ["fork"]
    await wait_until(lambda: hub.service.log.fork_summary(), what="fork evidence kept")

    codes = [p["code"] for p in status_info(hub.service, True, hub.federation.health)["problems"]]
    assert sorted(codes) == ["disk-low", "fork-evidence"]
    assert status_info(calm.service, True, calm.federation.health)["problems"] == [], "positive control: thresholds"

    home = str(hub.service.home.path)
    as_json = json.loads((await asyncio.to_thread(orgnode, "--home", home, "status", "--json")).stdout)
    fork = next(p for p in as_json["problems"] if p["code"] == "fork-evidence")
    assert fork["node_id"] == evil.service.node_id.hex() and fork["since_at"].endswith("Z")
    assert "\x1b]0;owned\x07" in fork["detail"], "JSON stays exact"
    human = (await asyncio.to_thread(orgnode, "--home", home, "status")).stdout
    assert "2 problem(s):" in human
    assert "partner Evil\\x1b]0;owned\\x07 Org signed two different statements" in human
    assert "\x1b" not in human and "\x07" not in human
    assert "the disk holding" in human and "nearly full" in human and "(since " in human
    # acc10: units a person reads ("0.00 GiB free (78.3 %)" before), and the command that clears the fork.
    disk = next(p for p in as_json["problems"] if p["code"] == "disk-low")
    assert re.search(r"nearly full: [0-9.]+ (MiB|GiB) free \([0-9.]+ % of the disk is free; warning below [0-9.]+ GiB or 5 %\)",
                     disk["detail"]), disk["detail"]
    assert f"orgnode trust clear-fork {peer_label(evil.service.node_id)} --reason" in fork["action"], fork["action"]
    assert "which can clear the evidence" not in fork["action"]
    assert "metrics:     http://127.0.0.1:" in human

    await net.stop(hub)  # not running: what the database and the disk say is still shown
    stopped = json.loads((await asyncio.to_thread(orgnode, "--home", home, "status", "--json")).stdout)
    assert sorted(p["code"] for p in stopped["problems"]) == ["disk-low", "fork-evidence"]
    assert stopped["metrics_url"] is None


async def test_a_partner_over_its_quota_is_a_problem_and_its_refusals_are_counted_by_code(net: Net):
    hub = await net.start("Hub")
    greedy = await net.start("Greedy Org")
    modest = await net.start("Modest Org")
    await pair(hub, greedy)
    await pair(hub, modest)
    await synced(hub, greedy)
    await synced(hub, modest)
    used = hub.service.log.peer_usage(greedy.service.node_id, hub.federation.clock()).stored_bytes
    hub.service.log.quota = PeerQuota(stored_bytes=used + 10)  # room for nothing more from anyone
    answer = await push(greedy, hub, *next_notes(greedy, ["too much"]))
    assert answer.results() == [E.OVER_QUOTA]
    problems = [p for p in status_info(hub.service, True, hub.federation.health)["problems"] if p["code"] == "over-quota"]
    assert [p["peer"] for p in problems] == [greedy.service.node_id.hex()], "only the partner that was refused"
    assert "partner Greedy Org is over its quota on this node: 1 statement(s) refused" in problems[0]["detail"]
    samples, _, _ = await scrape(hub)
    assert value(samples, "orgnode_statements_rejected_total", code=E.OVER_QUOTA) == 1
    assert value(samples, "orgnode_problems", code="over-quota") == 1


async def test_a_metrics_port_in_use_fails_the_start_naming_the_key_and_frees_the_federation_port(net: Net, tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        port = taken.getsockname()[1]
        with pytest.raises(UserError, match=rf"cannot listen for metrics on 127\.0\.0\.1:{port}: .*set metrics_listen"):
            await net.start("Clash", metrics_listen=f"127.0.0.1:{port}")
    finally:
        taken.close()
    service = NodeService.open(tmp_path / "clash")
    try:
        fed_port = service.config.listen_port
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", fed_port))  # the failed start released its federation port
        assert not service.home.admin_socket.exists()
    finally:
        service.close()
