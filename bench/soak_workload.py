"""The soak's steady mixed workload: what the staff of five organizations do all day, through each
node's admin API (the calls the CLI makes, with the CLI's client).

One operation every ``interval`` seconds, on a node drawn at random (a seeded RNG): post a job,
close one, add a candidate (most with consent to match and refer, some without), withdraw a
consent, match one of the node's jobs and request a referral of an offer (the holder sends the
profile when the consent covers it), move a received referral a stage on, list jobs and candidates.
Every few minutes one node rotates its signing key. The working set is bounded — at most
``MAX_OPEN_JOBS`` open jobs and ``MAX_CONSENTED`` consented candidates per node (the oldest is closed
or withdrawn) — so a flat node is the goal, not an artefact of an ever larger match.

Refusals the rules call for (``duplicate-referral``, a stage the referral already passed, the start
check right after a restart) are counted by code, not treated as failures; an answer without a code
(a crash, an HTTP 500) is.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.soak_cluster import SoakNode
from node.core.errors import UserError

SKILLS = ["youth work", "first aid", "driving", "excel", "forklift", "cooking", "bookkeeping", "teaching",
          "customer service", "carpentry"]
NEXT_STAGE = {"received": "in_process", "in_process": "interview", "interview": "offer", "offer": "hired"}
MAX_OPEN_JOBS = 12
MAX_CONSENTED = 20
MATCH_DEADLINE_S = 3.0


@dataclass
class NodeState:
    open_jobs: deque[str] = field(default_factory=deque)
    consented: deque[str] = field(default_factory=deque)


@dataclass
class Tally:
    done: Counter[str] = field(default_factory=Counter)
    refused: Counter[str] = field(default_factory=Counter)  # "op:code" for refusals the rules call for
    failed: Counter[str] = field(default_factory=Counter)  # "op:code" for everything else
    failures: list[str] = field(default_factory=list)  # the first few failure messages, for the report


# Codes an operation may be refused with by design; anything else is a failure of the soak.
EXPECTED = {"duplicate-referral", "invalid-transition", "start-check", "peer-lacks-feature", "not-found", "rate-limited",
            "quota"}


class Workload:
    def __init__(self, nodes: list[SoakNode], seed: int) -> None:
        self.nodes = nodes
        self.rng = random.Random(seed)
        self.state = {n.name: NodeState() for n in nodes}
        self.tally = Tally()
        self.counter = 0
        self.ops: list[tuple[int, Callable[[SoakNode], None]]] = [
            (4, self.post_job), (1, self.close_job), (4, self.add_candidate), (1, self.withdraw), (2, self.match_and_request),
            (3, self.advance_stage), (1, self.list_things)]

    def step(self, running: list[SoakNode]) -> None:
        node = self.rng.choice(running)
        weights = [w for w, _ in self.ops]
        op = self.rng.choices([fn for _, fn in self.ops], weights)[0]
        self._run(op.__name__, lambda: op(node))

    def rotate_key(self, node: SoakNode) -> None:
        self._run("rotate_key", lambda: node.call("POST", "/key/rotate", {}))

    def _run(self, name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
            self.tally.done[name] += 1
        except UserError as exc:
            code = classify(exc)
            if code in EXPECTED:
                self.tally.refused[f"{name}:{code}"] += 1
            else:
                self.tally.failed[f"{name}:{code}"] += 1
                if len(self.tally.failures) < 10:
                    self.tally.failures.append(f"{name}: {code}: {str(exc)[:200]}")

    def _next(self) -> int:
        self.counter += 1
        return self.counter

    # --- the operations ------------------------------------------------------------------------------

    def post_job(self, node: SoakNode) -> None:
        st = self.state[node.name]
        if len(st.open_jobs) >= MAX_OPEN_JOBS:
            self.close_job(node)
        skills = ", ".join(self.rng.sample(SKILLS, 3))
        data = node.call("POST", "/jobs/post", {"title": f"Soak job {self._next()}", "skills": skills, "location": None,
                                                "description": "A steady job for the soak.", "remote": False, "hybrid": False,
                                                "employment_type": None, "salary": None, "valid_through": None, "hops": 1})
        st.open_jobs.append(str(data["id"]))

    def close_job(self, node: SoakNode) -> None:
        st = self.state[node.name]
        if st.open_jobs:
            node.call("POST", "/jobs/close", {"id": st.open_jobs.popleft(), "filled_by": None})

    def add_candidate(self, node: SoakNode) -> None:
        st = self.state[node.name]
        consent = self.rng.random() < 0.8
        if consent and len(st.consented) >= MAX_CONSENTED:
            self.withdraw(node)
        n = self._next()
        data = node.call("POST", "/candidates/add", {
            "name": f"Soak Person {n}", "email": f"person{n}@example.org", "phone": None, "location": None,
            "skills": ", ".join(self.rng.sample(SKILLS, 3)), "medal": None, "for_job": None,
            "consent": "match,refer" if consent else None, "consent_scope": "all" if consent else None,
            "consent_expires": None, "consent_evidence": "signed form (soak)" if consent else None, "notes": None})
        if consent:
            st.consented.append(str(data["id"]))

    def withdraw(self, node: SoakNode) -> None:
        st = self.state[node.name]
        if st.consented:
            node.call("POST", "/consent/withdraw", {"id": st.consented.popleft()})

    def match_and_request(self, node: SoakNode) -> None:
        st = self.state[node.name]
        if not st.open_jobs:
            self.post_job(node)
        job = self.rng.choice(list(st.open_jobs))
        data = node.call("POST", "/match", {"id": job, "deadline": MATCH_DEADLINE_S}, timeout=MATCH_DEADLINE_S + 30)
        offers = data.get("results") or []
        if offers:
            offer = self.rng.choice(offers)
            self._run("referral_request", lambda: node.call("POST", "/referrals/request",
                                                            {"job_id": job, "pseudonym": offer["pseudonym"]}))

    def advance_stage(self, node: SoakNode) -> None:
        mine = [r for r in node.call("GET", "/referrals") if r.get("to") == node.node_id and r["status"] in NEXT_STAGE]
        if mine:
            r = self.rng.choice(mine)
            # Half go straight from in_process to an outcome, so referrals end as well as begin.
            status = NEXT_STAGE[r["status"]] if self.rng.random() < 0.5 or r["status"] == "received" else "not_hired"
            node.call("POST", "/referrals/update", {"id": r["id"], "status": status, "reason": None})

    def list_things(self, node: SoakNode) -> None:
        node.call("POST", "/jobs/list", {"limit": 50})
        node.call("GET", "/candidates?limit=50&offset=0")


def classify(exc: UserError) -> str:
    """The refusal's stable code; the start check (right after a restart) and a few plain-text
    refusals by their words, since they share the generic code."""
    text = str(exc)
    if "waiting to confirm its own log" in text:
        return "start-check"
    if text.startswith("duplicate-referral") or "duplicate-referral" in text:
        return "duplicate-referral"
    if "cannot go from" in text:
        return "invalid-transition"
    if "no such" in text:
        return "not-found"
    return exc.code
