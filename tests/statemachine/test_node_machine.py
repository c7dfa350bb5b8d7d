"""Issue 15 item 4: hypothesis drives the whole node (tests/statemachine/machine.py) through random
programs of use cases, faults and clock steps; the fault suite's invariants hold after every step.

CI: a short setting (``SHORT``, well under a minute). Long: ``pytest tests/statemachine
--statemachine-long`` (``LONG``). The positive control runs the same machine against a node whose
consent check ignores a withdrawal or an expiry (an injected bug) and asserts hypothesis finds a
program that releases a candidate whose consent ended.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis.stateful import initialize, run_state_machine_as_test

from node.core.candidates import Candidates
from storage.talent_rows import ConsentRow
from tests.statemachine.conftest import long_run
from tests.statemachine.machine import NodeMachine

SHORT = settings(max_examples=6, stateful_step_count=20, deadline=None, database=None, suppress_health_check=list(HealthCheck))
LONG = settings(max_examples=25, stateful_step_count=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))


def test_node_state_machine(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    long = long_run(request.config)
    NodeMachine.root = tmp_path
    try:
        run_state_machine_as_test(NodeMachine, settings=LONG if long else SHORT)
    finally:
        NodeMachine.root = None


def _consent_ignoring_its_end(self: Candidates, candidate_id: bytes, purpose: str, org: bytes, now: int) -> ConsentRow | None:
    """The injected bug: any consent ever given for the purpose counts, withdrawn or expired."""
    return next((row for row in self.store.consents(candidate_id) if purpose in row.purposes), None)


class WithdrawnAtStart(NodeMachine):
    """The same machine, each program starting with every seeded lasting consent withdrawn, so that
    the injected bug is reachable in a few steps (a refer, or a match and its referral request)."""

    @initialize()
    def start_peers(self) -> None:
        super().start_peers()
        for c in [c for c in self.model.candidates if c.expires_at is None]:
            c.released_before_end, c.withdrawn = self._disclosed(c), True
            self._signing(c.holder, lambda rt, c=c: rt.talent.withdraw_consent(c.candidate_id))


def test_positive_control_a_consent_check_that_ignores_withdrawal_is_caught(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    WithdrawnAtStart.root = tmp_path
    hunt = settings(SHORT, max_examples=10, stateful_step_count=12, phases=[Phase.generate])  # found, not shrunk: time
    run_state_machine_as_test(WithdrawnAtStart, settings=settings(hunt, max_examples=3))  # the real code: every refusal holds
    monkeypatch.setattr(Candidates, "consent_in_force", _consent_ignoring_its_end)
    try:
        with pytest.raises(AssertionError, match=r"released a candidate after their consent|consent ended was not refused"):
            run_state_machine_as_test(WithdrawnAtStart, settings=hunt)
    finally:
        WithdrawnAtStart.root = None
