"""THREATS row 14 with separate processes: the receiver is down, the sender is killed -9 with a full outbox.

Stop B, post notes at A (A's outbox for B fills), kill -9 A, restart A, start B: B ends up with
everything, each statement applied once, and both databases pass ``PRAGMA integrity_check``.
"""

from __future__ import annotations

import signal
import sqlite3
from pathlib import Path

from tests.config_files import update_config
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode_json, query, start_node, wait_for

NOTES = 5


def init(home: Path, name: str) -> str:
    port = free_port()
    data = orgnode_json("--home", str(home), "init", "--name", name, "--sector", "nonprofit", "--listen", f"127.0.0.1:{port}")
    update_config(home, sync_interval=0.5, retry_base=0.3, retry_cap=2.0,
                  lan_discovery=False, allow_private_peers=True)  # partners on 127.0.0.1
    return str(data["node_id"])


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 0


def test_sender_killed_while_receiver_down(tmp_path):
    home_a, home_b = tmp_path / "a", tmp_path / "b"
    id_a = bytes.fromhex(init(home_a, "Sender Org"))
    id_b = bytes.fromhex(init(home_b, "Receiver Org"))
    proc_a = start_node(home_a)
    proc_b = start_node(home_b)
    procs = [proc_a, proc_b]
    try:
        token = orgnode_json("--home", str(home_a), "invite", "--expires", "1h")["token"]
        peer = orgnode_json("--home", str(home_b), "trust", "accept", token)
        assert peer["node_id"] == id_a.hex() and peer["state"] == "trusted"
        wait_for(lambda: query(home_b, "SELECT 1 FROM entries WHERE author = ?", (id_a,)), 10, "B to sync A's card")

        stop(proc_b)
        posted = [orgnode_json("--home", str(home_a), "note", "post", f"while B is down {i}")["statement_id"] for i in range(NOTES)]
        outbox = query(home_a, "SELECT statement_id FROM outbox WHERE peer = ?", (id_b,))
        assert {bytes(r[0]).hex() for r in outbox} >= set(posted)

        proc_a.kill()  # SIGKILL: no clean shutdown, no flush beyond what SQLite already made durable
        assert proc_a.wait(timeout=10) == -signal.SIGKILL
        assert {bytes(r[0]).hex() for r in query(home_a, "SELECT statement_id FROM outbox WHERE peer = ?", (id_b,))} >= set(posted)

        proc_a = start_node(home_a)
        procs.append(proc_a)
        proc_b = start_node(home_b)
        procs.append(proc_b)

        def b_has_all() -> bool:
            held = {bytes(r[0]).hex() for r in query(home_b, "SELECT id FROM entries WHERE author = ?", (id_a,))}
            return set(posted) <= held

        wait_for(b_has_all, 15, "B to hold every note A posted")
        wait_for(lambda: not query(home_a, "SELECT 1 FROM outbox WHERE peer = ?", (id_b,)), 15, "A's outbox for B to drain")
        notes = orgnode_json("--home", str(home_b), "note", "list")
        texts = [n["body"]["text"] for n in notes if n["author_node_id"] == id_a.hex()]
        assert texts == [f"while B is down {i}" for i in range(NOTES)]
        own_a = query(home_a, "SELECT id, seq FROM entries WHERE author = ? ORDER BY seq", (id_a,))
        at_b = query(home_b, "SELECT id, seq FROM entries WHERE author = ? ORDER BY seq", (id_a,))
        assert at_b == own_a  # A's whole log, in order, each statement once
        assert query(home_b, "SELECT id FROM entries GROUP BY id HAVING COUNT(*) > 1") == []
        assert query(home_b, "SELECT COUNT(*) FROM forks")[0][0] == 0
        stop(proc_a)
        stop(proc_b)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    for home in (home_a, home_b):
        with sqlite3.connect(home / "orgnode.db") as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
