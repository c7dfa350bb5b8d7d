"""Clearing fork evidence only by the admin's explicit, recorded decision (issue 10 item 2): a real
fork (a rolled-back node that signs on top of its old copy: two signed statements for one position),
`orgnode trust clear-fork` refused without a terminal or --yes, then cleared with a reason; the decision
is in `trust history` and the log, the evidence is archived, and the peer's new statements flow again
from after the highest seq seen on either branch. A partner that did not clear stays forked."""

from __future__ import annotations

import asyncio
import json
import logging

from node.cli.main import main
from node.core.restore import finish_restore
from tests.node.federation_helpers import head, wait_until
from tests.node.test_rollback_no_fork import post, roll_back_b


async def cli(capsys, *argv: str) -> tuple[int, str, str]:
    """The real CLI in a thread (it talks to the admin socket of a node running in this event loop)."""
    capsys.readouterr()

    def run() -> int:
        try:
            return main(list(argv))
        except SystemExit as exc:  # argparse refusing the command line
            return int(exc.code or 0)

    code = await asyncio.to_thread(run)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


async def test_clear_fork_needs_confirmation_is_recorded_and_lets_new_statements_flow(tmp_path, capsys, caplog):
    net, a, c, home, bid, at_copy, last, _ = await roll_back_b(tmp_path, with_mark=False)
    try:
        b = await net.restart(home, confirmed=False)
        finish_restore(b.federation, "override")  # the fork: B signs on top of its old copy
        post(b, "a reused seq")
        for holder in (a, c):
            await wait_until(lambda holder=holder: holder.service.log.forked_authors() == {bid}, what="A and C to record B's fork")
        evidence = [(f.seq, f.id.hex()) for f in a.service.log.forks()]
        a_home = str(a.service.home.path)

        code, _, err = await cli(capsys, "trust", "clear-fork", bid.hex()[:16], "--reason", "B was restored from an old copy",
                                 "--home", a_home)
        assert code != 0 and "--yes" in err  # no terminal, no --yes: refused
        assert a.service.log.forked_authors() == {bid}  # nothing changed
        code, _, err = await cli(capsys, "trust", "clear-fork", bid.hex()[:16], "--home", a_home, "--yes")
        assert code != 0 and "--reason" in err  # the reason is required

        with caplog.at_level(logging.WARNING, logger="orgnode"):
            code, out, _ = await cli(capsys, "trust", "clear-fork", bid.hex()[:16], "--reason", "B was restored from an old copy",
                                     "--home", a_home, "--yes", "--json")
        assert code == 0
        decision = json.loads(out)
        assert decision["resume_after"] == last and decision["reason"] == "B was restored from an old copy"
        assert [(e["seq"], e["statement_id"]) for e in decision["evidence"]] == evidence
        assert any(r.getMessage() == "fork.cleared" or "fork.cleared" in r.getMessage() for r in caplog.records)
        assert a.service.log.forked_authors() == set() and a.service.log.forks() == []
        archived = [(r["seq"], bytes(r["id"]).hex()) for r in a.service.db.query("SELECT seq, id FROM fork_archive")]
        assert archived == evidence  # kept for audit, not deleted

        code, out, _ = await cli(capsys, "trust", "history", bid.hex()[:16], "--home", a_home, "--json")
        assert code == 0 and [d["decision"] for d in json.loads(out)] == [decision["decision"]]
        code, out, _ = await cli(capsys, "trust", "history", "--home", a_home)
        assert code == 0 and "B was restored from an old copy" in out and f"after position {last}" in out

        # B's log goes on (on its own branch); positions up to `last` are settled, the next ones flow to A.
        while head(b, bid) <= last + 1:
            post(b, "after the decision")
        await wait_until(lambda: head(a, bid) == head(b, bid), what="A to take B's statements after the settled positions")
        assert a.service.log.forked_authors() == set()  # the settled positions did not become evidence again
        assert head(c, bid) == last and c.service.log.forked_authors() == {bid}  # control: C did not clear
        # The decision record is append-only.
        try:
            a.service.db.execute("DELETE FROM fork_decisions")
            raise AssertionError("fork_decisions must refuse deletes")
        except Exception as exc:  # sqlite3.IntegrityError from the trigger
            assert "append-only" in str(exc)
    finally:
        await net.close()
