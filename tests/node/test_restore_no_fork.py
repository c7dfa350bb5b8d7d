"""A node restored from an old backup never forks (issue 10 item 2): it relearns its own statements
from its partners before it signs, and resumes after them."""

from __future__ import annotations

import pytest

from node.backup import pack, restore
from node.core.errors import UserError
from node.core.restore import restore_pending
from node.core.service import NodeService
from node.home import Home
from node.http.admin_api import status_info
from node.runtime import NodeRuntime
from protocol.bodies import Note
from storage.backup import copy_database
from tests.node.federation_helpers import Net, head, pair, wait_until


def post(node: NodeRuntime, text: str) -> int:
    return node.federation.append(Note.KIND, Note(text, 1).to_value(), private=True).seq


def ids(node: NodeRuntime, author: bytes) -> list[bytes]:
    return [s.id for s in node.service.log.statements(author)]


async def test_restore_from_an_old_backup_resyncs_before_signing_and_never_forks(tmp_path):
    net = Net(tmp_path)
    try:
        a, b, c = await net.start("A"), await net.start("B"), await net.start("C")
        await pair(a, b)
        await pair(c, b)
        bid = b.service.node_id
        await wait_until(lambda: b.federation.peers.outbox_size() == 0, what="B's pairing statements to reach A and C")
        post(b, "before the backup")
        snapshot = tmp_path / "snapshot.db"
        copy_database(b.service.db, snapshot)  # what the admin socket does for `orgnode backup`
        archive = pack(b.service.home, snapshot)
        at_backup = head(b, bid)
        post(b, "after the backup, 1")
        last = post(b, "after the backup, 2")  # private notes: their bodies are recovered sealed back to B
        for holder in (a, c):
            await wait_until(lambda holder=holder: head(holder, bid) == last, what="partners to hold all of B's statements")
        before = ids(a, bid)
        await net.stop(b)

        new_home = Home(tmp_path / "b-restored")
        restore(b"ORGNODE-BACKUP-1\n" + archive, new_home, None, now_ms=0)
        service = NodeService.open(new_home.path)
        assert service.log.head(bid).seq == at_backup == last - 2  # the old copy: it lost two statements it signed
        restored = NodeRuntime(service)
        with pytest.raises(UserError, match="restored from a backup"):
            post(restored, "too early")  # not started, not resynced: signing now would reuse seq 3
        assert service.log.head(bid).seq == at_backup
        await restored.start()
        net.runtimes.append(restored)
        await wait_until(lambda: not restore_pending(restored.federation), what="B to resync with A and C")
        assert ids(restored, bid) == before  # B's own log is complete again, bodies included
        assert [s.body is not None for s in restored.service.log.statements(bid)] == [True] * last
        assert post(restored, "after the restore") == last + 1
        for holder in (a, c):
            await wait_until(lambda holder=holder: head(holder, bid) == last + 1, what="partners to take B's new statement")
            assert ids(holder, bid) == ids(restored, bid)
            assert holder.service.log.forked_authors() == set()
            assert list(holder.service.db.query("SELECT * FROM forks")) == []
        assert restored.service.log.forked_authors() == set()
    finally:
        await net.close()


async def test_a_partner_paired_after_the_backup_is_named_in_status_until_re_paired(tmp_path, capsys):
    """B pairs with D after its backup. Restored, B's old trust list does not name D and its own
    partnership statement comes back without a body (no partner may read it), so B cannot reach D by
    itself: `orgnode status` says so and what to do; re-pairing clears it, and nothing forks."""
    import asyncio

    from node.cli.main import main
    from node.core.restore import lost_partnerships

    net = Net(tmp_path)
    try:
        a, b, d = await net.start("A"), await net.start("B"), await net.start("D")
        await pair(a, b)
        bid = b.service.node_id
        await wait_until(lambda: b.federation.peers.outbox_size() == 0, what="B's pairing statement to reach A")
        snapshot = tmp_path / "snapshot.db"
        copy_database(b.service.db, snapshot)
        archive = pack(b.service.home, snapshot)
        await pair(d, b)  # after the backup
        last = post(b, "after the backup")
        for holder in (a, d):
            await wait_until(lambda holder=holder: head(holder, bid) == last, what="A and D to hold all of B's statements")
        await net.stop(b)
        assert lost_partnerships(a.service) == []  # control: a node that lost nothing names nothing

        new_home = Home(tmp_path / "b-restored")
        restore(b"ORGNODE-BACKUP-1\n" + archive, new_home, None, now_ms=0)
        restored = NodeRuntime(NodeService.open(new_home.path))
        assert [p["code"] for p in status_info(restored.service, running=False)["problems"]] == ["restore-pending"]
        await restored.start()
        net.runtimes.append(restored)
        await wait_until(lambda: not restore_pending(restored.federation), what="B to resync with A, the partner it knows")
        assert ids(restored, bid) == ids(a, bid)
        lost = lost_partnerships(restored.service)
        assert len(lost) == 1 and d.service.node_id not in {p.node_id for p in restored.federation.peers.trusted()}
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["status", "--home", str(new_home.path)]) == 0
        out = capsys.readouterr().out
        assert "paired with a partner after its backup" in out and "re-pair" in out and "keeps this node's statements" in out
        assert [p["code"] for p in status_info(restored.service, running=True, health=restored.federation.health)["problems"]
                if p["code"] == "lost-partner"] == ["lost-partner"]

        await pair(d, restored)  # the admin re-pairs: D keeps trusting B, B trusts D again
        assert lost_partnerships(restored.service) == []
        newest = post(restored, "after re-pairing")
        await wait_until(lambda: head(d, bid) == newest, what="D to take B's new statement")
        assert d.service.log.forked_authors() == set() and a.service.log.forked_authors() == set()
    finally:
        await net.close()
