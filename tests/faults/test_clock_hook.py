"""The suite's injectable clock for node processes: ``ORGNODE_CLOCK_OFFSET`` (tests/faults/README.md)."""

from __future__ import annotations

import pytest

from node.core import clock
from tests.conftest import free_port
from tests.e2e.cli_helpers import orgnode, orgnode_json


def test_offset_shifts_every_wall_clock_read_and_a_bad_value_is_named(monkeypatch):
    monkeypatch.setattr(clock, "_wall_offset_ms", 0)
    before = clock.now_ms()
    assert clock.set_wall_offset_from_env({"ORGNODE_CLOCK_OFFSET": "3600"}) == 3600.0
    assert clock.now_ms() - before >= 3_600_000
    assert clock.set_wall_offset_from_env({}) == 0.0 and clock.now_ms() - before < 3_600_000  # unset: the real clock
    for bad in ("soon", "nan", "inf"):
        with pytest.raises(ValueError, match="ORGNODE_CLOCK_OFFSET must be a number of seconds"):
            clock.set_wall_offset_from_env({"ORGNODE_CLOCK_OFFSET": bad})


def test_orgnode_run_refuses_a_bad_offset_in_words(tmp_path):
    home = tmp_path / "a"
    orgnode_json("--home", str(home), "init", "--name", "Youth Futures", "--sector", "nonprofit", "--listen", f"127.0.0.1:{free_port()}")
    run = orgnode("--home", str(home), "run", check=False, extra_env={"ORGNODE_CLOCK_OFFSET": "soon"}, timeout=30)
    assert run.returncode != 0 and "ORGNODE_CLOCK_OFFSET must be a number of seconds" in run.stderr
    assert "Traceback" not in run.stderr
