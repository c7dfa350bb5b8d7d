"""A hypothesis ``RuleBasedStateMachine`` over the whole node (issue 15 item 4).

Three in-process peers (tests/statemachine/harness.py: real protocol/, storage/ and node/core code,
real SQLite files, real aiohttp on loopback behind steerable links), pairwise partners. Rules, in
any order hypothesis picks: post a job, close one, add a candidate (with consent to match and
refer, perhaps expiring within a day, or with none), withdraw a consent, match a job and request a
referral of every offer, refer a candidate to a partner's job, move a referral a stage on, rotate a
signing key, partition or heal a pair, restart a peer from its home on disk, step every clock an
hour or a day on, sync a peer now, and settle (heal everything and wait for convergence).

After every step the cheap invariants of tests/statemachine/checks.py hold (nothing acknowledged
lost, none applied twice, no fork, logs verify, consent honoured, withdrawn or expired candidates
never released); after ``settle`` and at the end of every program, convergence after heal.

Refusals are part of the rules: a peer restarted while cut off from every partner refuses to sign
(its start check), a refer or a referral of a candidate whose consent ended is refused, a stage
cannot go back. Each is asserted to be the refusal the rules call for, and nothing is acknowledged.
"""

from __future__ import annotations

import itertools
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from node.core.errors import UserError
from node.core.matching import ask_peers
from tests.statemachine import checks
from tests.statemachine.checks import CandidateModel, Model
from tests.statemachine.harness import Peers

COUNT = 3
PEER = st.integers(0, COUNT - 1)
PAIR = st.sampled_from([(i, j) for i in range(COUNT) for j in range(i + 1, COUNT)])
HOUR_MS = 3_600_000
SKILLS = ["youth work", "first aid", "driving"]
NEXT_STAGE = {"received": "in_process", "in_process": "interview", "interview": "offer", "offer": "hired"}
WAITING = "waiting to confirm its own log"
ENDED = ("consent does not cover",)  # a refer of a candidate whose consent was withdrawn or expired
REPEATED = ("duplicate-referral", "cannot go from", "already", "no longer open")
_names = itertools.count()


class NodeMachine(RuleBasedStateMachine):
    """Set ``root`` (a temporary directory) before running; each program gets fresh peers under it."""

    root: Path | None = None
    programs = itertools.count()

    @initialize()
    def start_peers(self) -> None:
        assert self.root is not None
        self.peers = Peers(self.root / f"program-{next(NodeMachine.programs)}", COUNT)
        self.model = Model()
        self.jobs: dict[int, list[bytes]] = {i: [] for i in range(COUNT)}
        # Every program starts from a working federation: a job at each peer that any candidate fits,
        # and at each a candidate whose consent lasts and one whose consent ends within a day, so that
        # a few steps reach matches, referrals, stages and ended consents.
        for i in range(COUNT):
            self.post_job(i, ", ".join(SKILLS))
            self.add_candidate(i, "lasting", SKILLS[i % len(SKILLS)])
            self.add_candidate(i, "a day", SKILLS[(i + 1) % len(SKILLS)])

    # --- use cases ---------------------------------------------------------------------------------

    def _signing(self, i: int, use_case, *, refusable: tuple[str, ...] = ()) -> object:
        """Run one signing use case on peer ``i``; whatever own statements it made are acknowledged
        once it returns. A refusal must be one the rules call for, and must have signed nothing."""
        peer = self.peers.peers[i]
        before = peer.own_seq()
        try:
            result = use_case(peer.rt)
        except UserError as exc:
            text = str(exc)
            assert any(words in text for words in (WAITING, *refusable)), f"{peer.name}: unexpected refusal: {text}"
            assert peer.own_seq() == before, f"{peer.name} signed something for a refused request"
            if WAITING in text and any(self.peers.reachable(i, j) for j in range(COUNT) if j != i):
                # Restarted while cut off, healed since: an admin repeats the request once a partner confirmed the log.
                self.peers.confirm(i)
                return self._signing(i, use_case, refusable=refusable)
            return None
        peer.acknowledge_since(before)
        self.peers.delivered(i)
        return result

    @rule(i=PEER, skill=st.sampled_from(SKILLS))
    def post_job(self, i: int, skill: str) -> None:
        job = self._signing(i, lambda rt: rt.talent.post_job(title=f"Job {next(_names)}", skills=skill.split(", "), hops=1))
        if job is not None:
            self.jobs[i].append(job.job_id)  # type: ignore[attr-defined]

    @precondition(lambda self: any(self.jobs.values()))
    @rule(data=st.data())
    def close_job(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from([i for i, js in self.jobs.items() if js]))
        job_id = data.draw(st.sampled_from(self.jobs[i]))
        if self._signing(i, lambda rt: rt.talent.close_job(job_id, None)) is not None:
            self.jobs[i].remove(job_id)

    @rule(i=PEER, consent=st.sampled_from(["none", "lasting", "a day"]), skill=st.sampled_from(SKILLS))
    def add_candidate(self, i: int, consent: str, skill: str) -> None:
        n = next(_names)
        marker = f"Canary{n:05d}Qx"
        expires = self.peers.now() + 20 * HOUR_MS if consent == "a day" else None
        kwargs = {} if consent == "none" else {"consent": ["match", "refer"], "consent_scope": "all",
                                               "consent_evidence": "signed form", "consent_expires": expires}
        added = self._signing(i, lambda rt: rt.talent.add_candidate(name=marker, email=f"canary{n}@example.org",
                                                                     skills=[skill], **kwargs))
        if added is not None:
            candidate, _ = added  # type: ignore[misc]
            self.model.candidates.append(CandidateModel(i, candidate.candidate_id, marker.encode(), consent != "none", expires))

    @precondition(lambda self: any(c.consented and c.released_before_end is None for c in self.model.candidates))
    @rule(data=st.data())
    def withdraw_consent(self, data: st.DataObject) -> None:
        c = data.draw(st.sampled_from([c for c in self.model.candidates if c.consented and c.released_before_end is None]))
        released = self._disclosed(c)
        if self._signing(c.holder, lambda rt: rt.talent.withdraw_consent(c.candidate_id)) is not None:
            c.released_before_end, c.withdrawn = released, True

    @precondition(lambda self: any(self.jobs.values()))
    @rule(data=st.data())
    def match_and_request(self, data: st.DataObject) -> None:
        i = data.draw(st.sampled_from([i for i, js in self.jobs.items() if js]))
        job_id = data.draw(st.sampled_from(self.jobs[i]))
        rt = self.peers.peers[i].rt
        answer = self.peers.run(ask_peers(rt.talent, rt.client, job_id, 2.0))
        for offer in answer["results"]:
            self._signing(i, lambda rt, offer=offer: rt.talent.request_referral(job_id, bytes.fromhex(offer["pseudonym"])),
                          refusable=REPEATED)

    @precondition(lambda self: any(c.consented for c in self.model.candidates) and any(self.jobs.values()))
    @rule(data=st.data())
    def refer(self, data: st.DataObject) -> None:
        """A holder refers one of its candidates to a partner's job it holds: refused unless consent covers it."""
        c = data.draw(st.sampled_from([c for c in self.model.candidates if c.consented]))
        rt = self.peers.peers[c.holder].rt
        held = [j for owner, js in self.jobs.items() if owner != c.holder for j in js if rt.talent.store.job(j) is not None]
        if not held:
            return
        job_id = data.draw(st.sampled_from(held))
        ended = c.released_before_end is not None
        made = self._signing(c.holder, lambda rt: rt.talent.refer(c.candidate_id, job_id), refusable=REPEATED + (ENDED if ended else ()))
        if made is not None:
            assert c.released_before_end is None, "a refer of a candidate whose consent ended was not refused"

    @rule(i=PEER, data=st.data())
    def advance_stage(self, i: int, data: st.DataObject) -> None:
        rt = self.peers.peers[i].rt
        mine = [r for r in rt.talent.store.referrals() if r.job_author == rt.service.node_id and r.status in NEXT_STAGE]
        if mine:
            r = data.draw(st.sampled_from(mine))
            self._signing(i, lambda rt: rt.talent.update_referral(r.referral_id, NEXT_STAGE[r.status], ""), refusable=REPEATED)

    @rule(i=PEER)
    def rotate_key(self, i: int) -> None:
        self._signing(i, lambda rt: rt.federation.rotate_key())

    # --- faults and time ---------------------------------------------------------------------------

    @rule(pair=PAIR)
    def partition(self, pair: tuple[int, int]) -> None:
        self.peers.partition(*pair)

    @precondition(lambda self: bool(self.peers.cut))
    @rule(data=st.data())
    def heal(self, data: st.DataObject) -> None:
        self.peers.heal(*data.draw(st.sampled_from(sorted(self.peers.cut))))

    @rule(i=PEER)
    def restart(self, i: int) -> None:
        self.peers.restart(i)

    @rule(hours=st.sampled_from([1, 25]))
    def step_clock(self, hours: int) -> None:
        """Every clock moves on: consents given for a day end at the 25-hour step."""
        for c in self.model.candidates:
            if c.expires_at is not None and c.released_before_end is None and self.peers.now() + hours * HOUR_MS >= c.expires_at:
                c.released_before_end = self._disclosed(c)
        self.peers.step_clock(hours * HOUR_MS)

    @rule(i=PEER)
    def sync_now(self, i: int) -> None:
        sync = self.peers.peers[i].rt.sync
        self.peers.run(sync.pull_all())
        self.peers.run(sync.push_all())

    @rule()
    def settle(self) -> None:
        self.peers.heal_all()
        self.peers.run(checks.converged(self.peers, self.model))

    def _disclosed(self, c: CandidateModel) -> set[bytes]:
        return {d.referral_id for d in self.peers.peers[c.holder].rt.talent.store.disclosures(c.candidate_id)}

    # --- invariants --------------------------------------------------------------------------------

    @invariant()
    def invariants_hold(self) -> None:
        if hasattr(self, "peers"):
            checks.cheap(self.peers, self.model)

    def teardown(self) -> None:
        if not hasattr(self, "peers"):
            return
        try:
            self.settle()
            checks.cheap(self.peers, self.model)
            print(f"node machine program: {checks.summary(self.peers, self.model)}")  # shown with `pytest -s`
        finally:
            self.peers.close()
