"""A cleared fork stays cleared, and the node that forked is told (issue 10 acceptance items 4, 5).

A real fork: B's database is rolled back to an old copy, `restore-done --force`, B signs on top of it.
A clears it; B's next checkpoint covers the settled positions of the other branch and must not make
A flag B again (it did: ``peer.split-view`` ~12 s after the clear), while a NEW conflict after the
settled positions still is evidence. The fork's penalty goes with the decision; ``peer.fork`` is a
warning once per new evidence, not at every pull. B learns from the ``fork`` answers to its pushes
that a partner holds another version of its log (status problem, one warning, a counter)."""

from __future__ import annotations

import logging

from node.cli.partners import _peer_lines
from node.core.forks import clear_fork
from node.core.restore import finish_restore
from node.http.admin_api import status_info
from tests.node.federation_helpers import head, note, push, wait_until
from tests.node.test_metrics import scrape, value
from tests.node.test_rollback_no_fork import post, roll_back_b
from tests.node.test_tls import admin


def codes(node, code: str) -> list[dict]:
    return [p for p in status_info(node.service, running=True, health=node.federation.health)["problems"] if p["code"] == code]


def fork_warnings(caplog) -> int:
    return sum(1 for r in caplog.records if "peer.fork" in r.getMessage() and r.levelno == logging.WARNING)


async def test_a_cleared_fork_stays_cleared_the_penalty_goes_and_the_forked_node_is_told(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="orgnode")
    net, a, c, home, bid, at_copy, last, _ = await roll_back_b(tmp_path, with_mark=False)
    try:
        b = await net.restart(home, confirmed=False)
        aid, cid = a.service.node_id, c.service.node_id
        finish_restore(b.federation, "override")  # the fork: B signs on top of its old copy
        while head(b, bid) <= last + 2:  # the other branch, on past the positions A and C hold
            post(b, "on the other branch")
        for holder in (a, c):
            await wait_until(lambda holder=holder: holder.service.log.forked_authors() == {bid}, what="A and C to flag B")

        # Item 5: B is told, by the `fork` answers to its pushes: a problem, one warning, a counter.
        await wait_until(lambda: {aid, cid} <= set(b.federation.health.told_fork), what="B to learn A and C hold a fork")
        told = codes(b, "partner-holds-fork")
        assert {p["peer"] for p in told} == {aid.hex(), cid.hex()}
        assert all(f"orgnode trust clear-fork {bid.hex()[:16]}" in p["action"] and "docs/deploy.md" in p["action"] for p in told)
        assert "holds a different version of this node's log (fork) since" in told[0]["detail"]
        samples, _, _ = await scrape(b)
        assert value(samples, "orgnode_problems", code="partner-holds-fork") == 2
        assert value(samples, "orgnode_partner_fork_answers_total", peer=aid.hex()[:16]) >= 1
        listing = {p["node_id"]: p for p in await admin(b, "/trust")}  # `orgnode trust list --json` of the running B
        assert listing[aid.hex()]["holds_our_fork"] and listing[cid.hex()]["holds_our_fork"]
        assert "HOLDS-OUR-FORK" in _peer_lines(list(listing.values()))
        warned = [r for r in caplog.records if "push.partner-holds-fork" in r.getMessage()]
        assert len(warned) == 2 and all(r.levelno == logging.WARNING for r in warned)  # once per partner

        # Item 4 (log noise): pulls that bring the same forked statements again are not new warnings.
        evidence = len(a.service.log.forks())
        url = b.service.config.url
        for _ in range(3):
            await a.sync.pull_from(bid, url)
        assert fork_warnings(caplog) <= evidence + len(c.service.log.forks())  # one per new evidence, not per pull
        # Item 15: A counts the refusals under `fork`.
        samples, _, _ = await scrape(a)
        assert value(samples, "orgnode_statements_rejected_total", code="fork") >= 3
        assert [p["code"] for p in codes(a, "fork-evidence")] == ["fork-evidence"]
        score = a.federation.peers.get(bid).score
        assert score < 0  # the fork lowered B's score at A

        decision = clear_fork(a.federation, bid, admin="test", reason="B was restored from an old copy")
        assert decision.resume_after >= last
        peer = a.federation.peers.get(bid)
        assert peer.score >= 0 and peer.throttled_until == 0  # the penalty went with the evidence
        assert codes(a, "fork-evidence") == []

        # B's log goes on; its checkpoint covers the settled positions of the other branch: not split view.
        post(b, "after the decision")
        checkpoint = b.provenance.checkpoint(force=True)
        assert checkpoint is not None and checkpoint.seq > decision.resume_after
        await wait_until(lambda: head(a, bid) == head(b, bid), what="A to take B's checkpoint")
        a.provenance.on_appended([a.service.log.get(checkpoint.id)])  # compared again, as a witness would make it
        assert a.service.log.forked_authors() == set() and codes(a, "fork-evidence") == []
        assert c.service.log.forked_authors() == {bid}  # control: C did not clear
        # A takes B's statements again, so B's problem for A ends; C's stays.
        await wait_until(lambda: aid not in b.federation.health.told_fork, what="B to see A take its statements")
        assert {p["peer"] for p in codes(b, "partner-holds-fork")} == {cid.hex()}
        assert {p["node_id"] for p in await admin(b, "/trust") if p["holds_our_fork"]} == {cid.hex()}
        assert set(b.federation.peers.partner_forks()) == {cid}  # recorded in the database
        b = await net.restart(await net.stop(b), confirmed=False)  # and still known after a restart
        assert {p["peer"] for p in codes(b, "partner-holds-fork")} == {cid.hex()}

        # Positive control: a NEW conflict after the settled positions is still fork evidence.
        at = head(a, bid)
        stray = note(b.service.identity, at, a.service.log.id_at(bid, at - 1), "a second version of a later position")
        answer = await push(b.service.identity, a, stray)
        assert answer.results() == ["fork"]
        assert a.service.log.forked_authors() == {bid}
        assert [p["code"] for p in codes(a, "fork-evidence")] == ["fork-evidence"]
    finally:
        await net.close()
