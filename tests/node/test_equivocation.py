"""Split views across real nodes: one organization (one identity, two copies of its home) shows a
different history to each of two honest peers; checkpoints and witnesses flow and the honest nodes
catch it, keep the evidence, and raise it in ``status`` and the trust list. Honest nodes that
checkpoint and witness each other never flag each other, and the checkpoint/witness loop stops."""

from __future__ import annotations

import asyncio
import json
import shutil
from dataclasses import replace

from node.core.service import NodeService
from node.core.views import peer_view
from node.home import Home
from node.http.admin_api import status_info
from node.runtime import NodeRuntime
from protocol.bodies import Note
from protocol.provenance import Checkpoint
from protocol.statement import verify_signature
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode
from tests.node.federation_helpers import Net, head, pair, wait_until


def forks_at(node: NodeRuntime) -> list[dict]:
    return [dict(r) for r in node.service.db.query("SELECT * FROM forks")]


def trust_entry(node: NodeRuntime, peer_id: bytes) -> dict:
    peer = next(p for p in node.federation.peers.trusted() if p.node_id == peer_id)
    return peer_view(node.service, peer)


async def settle(nodes: list[NodeRuntime], pairs: list[tuple[NodeRuntime, NodeRuntime]] | None = None) -> None:
    """Wait until every holder holds every author's whole log (for the given holder/author pairs)."""
    wanted = pairs or [(h, a) for h in nodes for a in nodes if h is not a]
    for holder, author in wanted:
        want = head(author, author)
        await wait_until(lambda holder=holder, author=author, want=want: head(holder, author) >= want,
                         what=f"{holder.service.config.name} to hold {author.service.config.name}'s log")


async def twin(net: Net, original: NodeRuntime, name: str) -> NodeRuntime:
    """A second running copy of ``original``'s home: same identity and log so far, its own port."""
    home = await net.stop(original)
    copy = home.with_name(name)
    shutil.copytree(home, copy, ignore=shutil.ignore_patterns("admin.sock", "node.pid", "*.sock"))
    config = Home(copy).load_config()
    port = free_port()
    Home(copy).save_config(replace(config, listen_port=port, url=f"http://127.0.0.1:{port}"))
    service = NodeService.open(copy)
    service.publish_org_card()  # the copy's card names its own address, as a second server of one org would
    return await net._run(service)


async def test_equivocating_node_is_caught_by_its_honest_peers(net):
    alice = await net.start("Alice Works", sector="nonprofit")
    bob = await net.start("Bob Jobs", sector="company")
    evil = await net.start("Two Faced", sector="company")
    evil_id = evil.service.node_id
    evil_home = evil.service.home.path
    shown_to_bob = await twin(net, evil, "two-faced-copy")
    shown_to_alice = await net.restart(evil_home)
    shown_to_alice.service.publish_org_card()  # the same number of statements on both sides
    assert shown_to_alice.service.node_id == shown_to_bob.service.node_id == evil_id
    assert shown_to_alice.port != shown_to_bob.port
    await pair(alice, bob)
    await pair(alice, shown_to_alice)
    await pair(bob, shown_to_bob)
    # From here on the one identity tells two stories, one per peer (the same number of statements each).
    for text in ("we hired 3 people via Alice", "funding report: 40 placements"):
        shown_to_alice.federation.append(Note.KIND, Note(text).to_value(), private=True)
    for text in ("we hired nobody", "funding report: 2 placements"):
        shown_to_bob.federation.append(Note.KIND, Note(text).to_value(), private=True)
    await settle([], [(alice, shown_to_alice), (bob, shown_to_bob), (alice, bob), (bob, alice)])
    assert head(alice, evil_id) == head(bob, evil_id)
    assert alice.service.log.statements(evil_id)[-1].id != bob.service.log.statements(evil_id)[-1].id
    assert not forks_at(alice) and not forks_at(bob), "nothing to compare yet: each honest node holds one consistent story"

    # Checkpoints, then witnesses: each honest node passes on the checkpoint it holds of the equivocator.
    cp_alice = shown_to_alice.provenance.checkpoint(force=True)
    cp_bob = shown_to_bob.provenance.checkpoint(force=True)
    assert cp_alice is not None and cp_bob is not None and cp_alice.seq == cp_bob.seq and cp_alice.id != cp_bob.id
    await settle([], [(alice, shown_to_alice), (bob, shown_to_bob)])
    assert not forks_at(alice) and not forks_at(bob), "each checkpoint matches the history its holder was shown"
    assert alice.provenance.witness() is not None
    assert bob.provenance.witness() is not None
    await wait_until(lambda: forks_at(alice) and forks_at(bob), what="both honest nodes to detect the split view")

    for node, shown, other in ((alice, cp_bob, bob), (bob, cp_alice, alice)):
        evidence = forks_at(node)
        assert {bytes(r["author"]) for r in evidence} == {evil_id}
        row = next(r for r in evidence if bytes(r["id"]) == shown.id)
        # The evidence is the equivocator's own signed checkpoint, received from the honest witness.
        assert bytes(row["received_from"]) == other.service.node_id
        assert row["seq"] == shown.seq
        assert verify_signature(bytes(row["header"]), bytes(row["signature"])).author == evil_id
        assert bytes(row["conflicts_with"]) == node.service.log.id_at(evil_id, shown.seq)
        # Raised where staff look: `orgnode status` and `orgnode trust list`.
        assert status_info(node.service, running=True)["forked_authors"] == [evil_id.hex()]
        assert trust_entry(node, evil_id)["forked"] is True
        assert trust_entry(node, other.service.node_id)["forked"] is False
    # The evidence survives a restart of the honest node.
    alice_home = await net.stop(alice)
    alice = await net.restart(alice_home)
    assert status_info(alice.service, running=True)["forked_authors"] == [evil_id.hex()]
    # The real command shows it too.
    result = await asyncio.to_thread(orgnode, "--home", str(alice_home), "status", "--json")
    assert json.loads(result.stdout)["forked_authors"] == [evil_id.hex()]
    trust = await asyncio.to_thread(orgnode, "--home", str(alice_home), "trust", "list", "--json")
    entries = json.loads(trust.stdout)
    entries = entries if isinstance(entries, list) else entries.get("peers", entries)
    assert any(e["node_id"] == evil_id.hex() and e["forked"] for e in entries)


async def test_a_checkpoint_whose_root_lies_is_caught_directly(net):
    alice = await net.start("Alice Works")
    liar = await net.start("Liar Ltd", sector="company")
    await pair(alice, liar)
    liar.federation.append(Note.KIND, Note("a real statement").to_value(), private=True)
    size = head(liar, liar)
    bogus = liar.federation.append(Checkpoint.KIND, Checkpoint(size, b"\x42" * 32).to_value(), private=False)
    await wait_until(lambda: forks_at(alice), what="the lying checkpoint to be flagged")
    row = forks_at(alice)[0]
    assert bytes(row["id"]) == bogus.id and bytes(row["author"]) == liar.service.node_id
    assert trust_entry(alice, liar.service.node_id)["forked"] is True


async def test_honest_nodes_never_flag_each_other_and_the_loop_stops(net):
    nodes = [await net.start(name) for name in ("Alpha", "Beta", "Gamma")]
    a, b, c = nodes
    await pair(a, b)
    await pair(b, c)
    await pair(a, c)
    for i, node in enumerate(nodes):
        for j in range(3):
            node.federation.append(Note.KIND, Note(f"note {i}.{j}").to_value(), private=True)
    await settle(nodes)

    rounds = []
    for _ in range(5):
        made = [n.provenance.checkpoint() for n in nodes]
        await settle(nodes)
        witnessed = [n.provenance.witness() for n in nodes]
        await settle(nodes)
        rounds.append((sum(m is not None for m in made), sum(w is not None for w in witnessed)))
        if rounds[-1] == (0, 0):
            break
    assert rounds[0] == (3, 3), "the first round checkpoints new content and witnesses the peers' checkpoints"
    assert rounds[-1] == (0, 0) and len(rounds) <= 3, f"checkpoints/witnesses alone never trigger more: {rounds}"
    # Quiet from now on: nothing new, however often the loop ticks.
    heads = [head(n, n) for n in nodes]
    for _ in range(3):
        assert all(n.provenance.checkpoint() is None and n.provenance.witness() is None for n in nodes)
    assert [head(n, n) for n in nodes] == heads
    # Every node witnessed every other's checkpoint and compared it: no false alarm.
    for node in nodes:
        assert not forks_at(node)
        assert status_info(node.service, running=True)["forked_authors"] == []
        assert all(not peer_view(node.service, p)["forked"] for p in node.federation.peers.trusted())
    # New content starts exactly one more checkpoint round, still without alarms.
    a.federation.append(Note.KIND, Note("one more").to_value(), private=True)
    await settle(nodes)
    assert a.provenance.checkpoint() is not None and b.provenance.checkpoint() is None and c.provenance.checkpoint() is None
    await settle(nodes)
    assert b.provenance.witness() is not None and c.provenance.witness() is not None
    await settle(nodes)
    assert a.provenance.witness() is None
    assert not any(forks_at(n) for n in nodes)
