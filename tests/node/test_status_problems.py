"""Every warning `orgnode status` shows is an entry of ``problems`` (issue 10 acceptance items 7, 14, 15).

Real nodes: an expiring certificate, ``tls_verify = false``, a partner whose certificate is refused, a
start waiting for its own log to be confirmed, a partner whose disk is full. Each is in ``--json``
``problems`` with its code, in the status text (never under "no problems found") and in the
``orgnode_problems`` metric, which has a 0 sample for every other code; the outbox metric has a 0
sample per trusted partner with nothing waiting."""

from __future__ import annotations

import datetime
from dataclasses import replace

from node.cli.lifecycle import status_text
from node.core.problems import PROBLEM_CODES
from node.home import Home
from node.http.admin_api import status_info
from tests.faults.disk import fill, free
from tests.node.federation_helpers import Net, pair, synced, wait_until
from tests.node.test_metrics import posts, scrape, value
from tests.node.test_rollback_no_fork import post
from tests.node.test_tls import LOCAL, tls_fields
from tests.tls_ca import TestCA


def status(node, running: bool = True) -> dict:
    return status_info(node.service, running=running, health=node.federation.health if running else None)


def codes(node) -> list[str]:
    return sorted(p["code"] for p in status(node)["problems"])


async def problem_metric(node) -> dict[str, float]:
    samples, _, _ = await scrape(node)
    return {code: value(samples, "orgnode_problems", code=code) for code in PROBLEM_CODES
            if ("orgnode_problems", (("code", code),)) in samples}


async def test_tls_problems_are_problems_in_json_text_and_metric_with_zero_samples(net: Net, tmp_path):
    ca, other = TestCA.create(tmp_path / "ca"), TestCA.create(tmp_path / "other", "another CA")
    a = await net.start("Youth Futures", **tls_fields(ca, "a"))
    b = await net.start("Green Works", **tls_fields(ca, "b"))
    await pair(a, b)
    await synced(b, a)
    bid = b.service.node_id
    # Positive control: nothing wrong, every code has a 0 sample, the outbox a 0 sample for the partner.
    assert codes(a) == [] and "no problems found" in status_text(status(a))
    metric = await problem_metric(a)
    assert set(metric) == set(PROBLEM_CODES) and set(metric.values()) == {0.0}
    samples, _, _ = await scrape(a)
    assert ("orgnode_outbox_statements", (("peer", bid.hex()[:16]),)) in samples
    assert value(samples, "orgnode_outbox_statements", peer=bid.hex()[:16]) == 0

    # B now presents a certificate A does not trust: peer-cert-refused at A, until it is reachable again.
    home = Home(await net.stop(b))
    leaf = other.issue("b2", LOCAL)
    home.save_config(replace(home.load_config(), tls_cert=str(leaf.cert), tls_key=str(leaf.key)))
    b = await net.restart(home.path)
    await a.sync.pull_all()
    assert "peer-cert-refused" in codes(a)
    [refused] = [p for p in status(a)["problems"] if p["code"] == "peer-cert-refused"]
    assert refused["peer"] == bid.hex() and "TLS certificate" in refused["detail"]
    assert (await problem_metric(a))["peer-cert-refused"] == 1
    text = status_text(status(a))
    assert "no problems found" not in text and "CANNOT REACH" not in text and "its TLS certificate was refused" in text

    # C: an expiring certificate and tls_verify = false, each a problem (and the metric counts them).
    soon = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3, hours=1)
    expiring = ca.issue("c", LOCAL, not_after=soon)
    c = await net.start("Northwind", tls_cert=str(expiring.cert), tls_key=str(expiring.key), tls_verify=False)
    assert codes(c) == ["cert-expiring", "tls-verify-off"]
    assert codes(c) == sorted(p["code"] for p in status(c, running=False)["problems"])  # known to a stopped node too
    metric = await problem_metric(c)
    assert metric["cert-expiring"] == 1 and metric["tls-verify-off"] == 1 and metric["peer-cert-refused"] == 0
    text = status_text(status(c))
    assert "expires in 3 day(s)" in text and "tls_verify = false" in text and "WARNING" not in text
    assert "no problems found" not in text


async def test_a_start_waiting_for_its_own_log_is_a_problem(tmp_path):
    net = Net(tmp_path)
    try:
        a, b = await net.start("A"), await net.start("B")
        await pair(a, b)
        await wait_until(lambda: b.federation.peers.outbox_size() == 0, what="pairing to settle")
        home = await net.stop(b)
        await net.stop(a)
        b = await net.restart(home, confirmed=False)
        assert codes(b) == ["own-log-unconfirmed"]
        [waiting] = status(b)["problems"]
        assert a.service.node_id.hex()[:16] in waiting["detail"] and "restore-done --force" in waiting["action"]
        assert (await problem_metric(b))["own-log-unconfirmed"] == 1
        assert "WAITING" not in status_text(status(b)) and "no problems found" not in status_text(status(b))
    finally:
        await net.close()


async def test_a_partner_with_a_full_disk_is_a_problem_at_the_sender_until_pushes_succeed(net: Net):
    a, b = await net.start("A"), await net.start("B")
    await pair(a, b)
    await synced(b, a)
    bid = b.service.node_id
    fill(b)
    posts(a, "while B's disk is full")
    await wait_until(lambda: "partner-disk-full" in codes(a), what="A to see B's full disk")
    [full] = [p for p in status(a)["problems"] if p["code"] == "partner-disk-full"]
    assert full["peer"] == bid.hex() and "disk is full since" in full["detail"] and "keeps the statements queued" in full["action"]
    assert (await problem_metric(a))["partner-disk-full"] == 1
    assert a.federation.peers.outbox_size() >= 1  # still queued
    free(b)
    post(a, "space is back")
    await wait_until(lambda: a.federation.peers.outbox_size() == 0, what="A's statements to reach B")
    assert "partner-disk-full" not in codes(a)
    assert (await problem_metric(a))["partner-disk-full"] == 0
