"""A database replaced by an older copy by any means never forks (issue 10 item 2): no `orgnode
restore`, only a plain file copy of an old orgnode.db (with or without the high-water mark that lives
beside it, the way a VM snapshot rolls everything back). At every start a node with partners confirms
its own head with them before it signs; recovered statements rebuild its own views (jobs)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from node.core.errors import UserError
from node.core.restore import HIGH_WATER, finish_restore, signing_paused
from node.runtime import NodeRuntime
from protocol.bodies import Note
from tests.node.federation_helpers import Net, head, pair, wait_until


def post(node: NodeRuntime, text: str) -> int:
    return node.federation.append(Note.KIND, Note(text, 1).to_value(), private=True).seq


def ids(node: NodeRuntime, author: bytes) -> list[bytes]:
    return [s.id for s in node.service.log.statements(author)]


def copy_db(home: Path, dest: Path, *, with_mark: bool) -> None:
    """A plain file copy of a stopped node's database (and, like a VM snapshot, its high-water mark)."""
    dest.mkdir()
    for name in ["orgnode.db", "orgnode.db-wal", *([HIGH_WATER] if with_mark else [])]:
        if (home / name).exists():
            shutil.copy2(home / name, dest / name)


def put_back(saved: Path, home: Path) -> None:
    for name in ["orgnode.db-wal", "orgnode.db-shm"]:
        (home / name).unlink(missing_ok=True)
    for item in saved.iterdir():
        shutil.copy2(item, home / item.name)


def job_states(node: NodeRuntime) -> dict[str, str]:
    return {j["title"]: j["status"] for j in node.talent.list_jobs(mine=True)}


async def roll_back_b(tmp_path: Path, *, with_mark: bool):
    """Three nodes; B's database is copied aside while stopped, B posts more (a note, a new job, closes
    an old one), B is stopped and the old copy put back. Returns the nodes and what partners held."""
    net = Net(tmp_path)
    a, b, c = await net.start("A"), await net.start("B"), await net.start("C")
    await pair(a, b)
    await pair(c, b)
    bid = b.service.node_id
    old_job = b.talent.post_job(title="Old job", skills=["python"])
    post(b, "before the copy")
    await wait_until(lambda: b.federation.peers.outbox_size() == 0, what="B's statements to reach A and C")
    home = await net.stop(b)
    copy_db(home, tmp_path / "saved", with_mark=with_mark)
    at_copy = None
    b = await net.restart(home)  # waits until A and C confirmed B's own log
    at_copy = head(b, bid)
    post(b, "after the copy")
    b.talent.post_job(title="New job", skills=["python"])
    b.talent.close_job(old_job.job_id, None)
    last = head(b, bid)
    assert job_states(b) == {"Old job": "closed", "New job": "open"}
    for holder in (a, c):
        await wait_until(lambda holder=holder: head(holder, bid) == last, what="partners to hold all of B's statements")
    before = ids(a, bid)
    await net.stop(b)
    put_back(tmp_path / "saved", home)
    return net, a, c, home, bid, at_copy, last, before


@pytest.mark.parametrize("with_mark", [False, True], ids=["old-db-copied-back", "whole-home-snapshot"])
async def test_a_database_rolled_back_by_a_file_copy_never_forks(tmp_path, with_mark):
    net, a, c, home, bid, at_copy, last, before = await roll_back_b(tmp_path, with_mark=with_mark)
    try:
        b = await net.restart(home, confirmed=False)
        assert b.service.log.head(bid).seq <= at_copy < last  # the old copy: it lost statements it signed
        await wait_until(lambda: not signing_paused(b.federation), what="B to relearn its own log from A and C")
        assert ids(b, bid) == before  # B's own log is complete again
        assert job_states(b) == {"Old job": "closed", "New job": "open"}  # recovered statements rebuilt its views
        assert post(b, "after the rollback") == last + 1
        for holder in (a, c):
            await wait_until(lambda holder=holder: head(holder, bid) == last + 1, what="partners to take B's new statement")
            assert ids(holder, bid) == ids(b, bid)
            assert holder.service.log.forks() == []
        assert b.service.log.forks() == []
    finally:
        await net.close()


async def test_positive_control_without_the_check_the_same_rollback_forks(tmp_path):
    """The same steps with the start check overridden at once (what the old code did): B reuses a seq
    and both partners record fork evidence, so the test above would catch a missing check."""
    net, a, c, home, bid, at_copy, last, before = await roll_back_b(tmp_path, with_mark=False)
    try:
        b = await net.restart(home, confirmed=False)
        with pytest.raises(UserError, match="older than its own log"):
            post(b, "too early")  # the old copy is caught locally (the mark beside it is newer)
        finish_restore(b.federation, "override")  # no check: sign on top of the old copy
        post(b, "a reused seq")
        for holder in (a, c):
            await wait_until(lambda holder=holder: holder.service.log.forked_authors() == {bid},
                             what="partners to record B's fork")
    finally:
        await net.close()


async def test_a_rolled_back_database_is_not_called_restored(tmp_path):
    """acc10: after a hand-copied orgnode.db, `note post` said "this node was restored from a backup" and
    status said RESTORED, though nobody ran `orgnode restore`: both now say it was rolled back (a
    copied-back file or a VM snapshot). The `orgnode restore` wording is kept for a real restore
    (tests/e2e/test_cli_backup.py::test_a_restored_node_signs_nothing_until_resynced_or_overridden)."""
    from node.cli.lifecycle import status_text
    from node.http.admin_api import status_info

    net, a, c, home, bid, at_copy, last, before = await roll_back_b(tmp_path, with_mark=False)
    try:
        await net.stop(a)
        await net.stop(c)  # nobody answers: B stays paused while we look
        b = await net.restart(home, confirmed=False)
        with pytest.raises(UserError) as refused:
            post(b, "too early")
        message = str(refused.value)
        assert "older than its own log (rolled back: a copied-back orgnode.db or a VM snapshot)" in message
        assert "restored from a backup" not in message
        info = status_info(b.service, True, b.federation.health)
        assert info["restore_pending"] is True and info["restore_reason"] == "rolled-back"
        human = status_text(info)
        assert "ROLLED BACK: its database is older than its own log" in human and "RESTORED" not in human
    finally:
        await net.close()


async def test_a_start_with_no_partner_answering_keeps_waiting_and_status_says_so(tmp_path):
    """A node whose partners are all down at start does not sign; status names who did not answer;
    the logged override lets it sign; a node with no partners at all signs freely."""
    net = Net(tmp_path)
    try:
        a, b = await net.start("A"), await net.start("B")
        loner = await net.start("Loner")
        assert post(loner, "no partner: nothing to fork against") >= 1  # positive: signs freely
        await pair(a, b)
        await wait_until(lambda: b.federation.peers.outbox_size() == 0, what="pairing to settle")
        home = await net.stop(b)
        await net.stop(a)
        b = await net.restart(home, confirmed=False)
        with pytest.raises(UserError, match="confirm its own log with its partners"):
            post(b, "partners unreachable")
        from node.core.restore import check_view
        await wait_until(lambda: check_view(b.federation)["own_log_check_errors"], what="B to note A's silence")
        view = check_view(b.federation)
        assert view["own_log_check_pending"] is True and view["own_log_check_waiting_for"] == [a.service.node_id.hex()]
        finish_restore(b.federation, "override")
        assert post(b, "the admin decided") >= 1
    finally:
        await net.close()


async def test_an_offline_set_url_on_a_rolled_back_home_signs_nothing_and_changes_nothing(tmp_path, capsys):
    """`orgnode set-url` on a stopped node signs a card with no partner to ask: on a home whose
    database is below its high-water mark it is refused before the config changes; then the node
    starts, relearns its log, and the same command (now on the running node) works without a fork."""
    import asyncio

    from node.cli.main import main

    net, a, c, home, bid, at_copy, last, _ = await roll_back_b(tmp_path, with_mark=False)
    try:
        config_before = (home / "config.toml").read_bytes()
        url = "http://127.0.0.1:1/moved"
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["set-url", url, "--home", str(home)]) != 0
        assert "older than what it already signed" in capsys.readouterr().err
        assert (home / "config.toml").read_bytes() == config_before  # nothing changed
        b = await net.restart(home)  # relearns its own log from A and C first
        assert head(b, bid) == last
        assert await asyncio.to_thread(main, ["set-url", url, "--home", str(home)]) == 0  # positive control
        for holder in (a, c):
            await wait_until(lambda holder=holder: head(holder, bid) == last + 1, what="partners to take B's new card")
            assert holder.service.log.forks() == []
    finally:
        await net.close()
