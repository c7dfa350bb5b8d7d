"""The fault suite's invariants (tests/faults/invariants.py), over in-process peers.

Each check reads the peers' stores through the real storage code (between rules the loop is idle)
and raises AssertionError naming the peer and what is wrong:

- nothing acknowledged lost: every own statement a use case returned from is in the author's log;
- none applied twice: one row per id and per (author, seq); every own log is 1..n;
- no fork: no fork evidence anywhere;
- logs verify: every author's chain each peer holds, replayed from seq 1 through the protocol's log
  rules (``protocol.log.check`` with the key history rebuilt from the chain's own rotations) and
  every signature checked again (``verify_signature``);
- consent honoured: a candidate with no consent was never disclosed, and its (unique) name is in no
  other peer's database files (positive control: it is in its holder's);
- withdrawn never released: a candidate whose consent was withdrawn (or expired) has no disclosure
  beyond those made before that moment;
- converged (after heal): every mutual partner holds every acknowledged statement, and every
  recipient of a withdrawn candidate's profile has erased it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from protocol.bodies import KeyRotation
from protocol.log import KeyHistory, LogHead, Verdict, check
from protocol.statement import verify_signature
from tests.node.federation_helpers import db_bytes as home_bytes
from tests.statemachine.harness import Peer, Peers


@dataclass
class CandidateModel:
    """What the machine knows of one candidate: who holds it, its marker, and its consent's fate."""

    holder: int
    candidate_id: bytes
    marker: bytes  # a unique name: found in a database file means the person's data is there
    consented: bool
    expires_at: int | None = None
    released_before_end: set[bytes] | None = None  # disclosures (referral ids) when consent ended; None: in force
    withdrawn: bool = False


@dataclass
class Model:
    candidates: list[CandidateModel] = field(default_factory=list)

    def ended(self) -> list[CandidateModel]:
        return [c for c in self.candidates if c.released_before_end is not None]


def nothing_lost(peers: Peers) -> None:
    for peer in running(peers):
        log = peer.rt.service.log
        lost = [sid for sid in peer.acked if log.get(sid) is None]
        assert not lost, f"{peer.name} lost {len(lost)} acknowledged statement(s)"


def none_twice(peers: Peers) -> None:
    for peer in running(peers):
        db = peer.rt.service.db
        assert list(db.query("SELECT id FROM entries GROUP BY id HAVING COUNT(*) > 1")) == [], f"{peer.name}: an id twice"
        assert list(db.query("SELECT author FROM entries GROUP BY author, seq HAVING COUNT(*) > 1")) == [], \
            f"{peer.name}: an (author, seq) twice"
        seqs = [s.seq for s in peer.rt.service.log.statements(peer.node_id)]
        assert seqs == list(range(1, len(seqs) + 1)), f"{peer.name}: its own log is not 1..n"


def no_forks(peers: Peers) -> None:
    for peer in running(peers):
        assert not peer.rt.service.log.forks(), f"{peer.name} holds fork evidence"


def logs_verify(peers: Peers) -> None:
    for peer in running(peers):
        log = peer.rt.service.log
        for author in log.have_vector():
            head, history = LogHead(author), None
            for statement in log.statements(author):
                header = verify_signature(statement.header_bytes, statement.signature)
                assert header == statement.header, f"{peer.name}: a stored header differs from its signed bytes"
                verdict = check(statement, head, history, None)
                assert verdict is Verdict.APPEND, f"{peer.name}: {author.hex()[:8]}'s seq {statement.seq} is a {verdict.value}"
                if history is None:
                    history = KeyHistory.genesis(author, statement.header.key)
                if statement.kind == KeyRotation.KIND:
                    history = history.rotated(statement)
                head = LogHead(author, statement.seq, statement.id)


def db_bytes(peer: Peer) -> bytes:
    return home_bytes(peer.home)


def consent_honoured(peers: Peers, model: Model) -> None:
    raws = {i: db_bytes(p) for i, p in enumerate(peers.peers)}
    for c in model.candidates:
        if c.consented:
            continue
        holder = peers.peers[c.holder]
        if holder.runtime is not None:
            assert not holder.rt.talent.store.disclosures(c.candidate_id), f"{holder.name} disclosed a candidate without consent"
        assert c.marker in raws[c.holder], "positive control: the holder's database holds its candidate"
        leaked = [peers.peers[i].name for i, raw in raws.items() if i != c.holder and c.marker in raw]
        assert not leaked, f"a candidate of {holder.name} without consent is in the database of {leaked}"


def withdrawn_never_released(peers: Peers, model: Model) -> None:
    for c in model.ended():
        holder = peers.peers[c.holder]
        if holder.runtime is None:
            continue
        now = {d.referral_id for d in holder.rt.talent.store.disclosures(c.candidate_id)}
        assert c.released_before_end is not None
        extra = now - c.released_before_end
        assert not extra, (f"{holder.name} released a candidate after their consent "
                           f"{'was withdrawn' if c.withdrawn else 'expired'} ({len(extra)} disclosure(s))")


def running(peers: Peers) -> list[Peer]:
    return [p for p in peers.peers if p.runtime is not None]


def missing(peers: Peers) -> dict[str, int]:
    """For each pair (holder <- author) of peers, how many of the author's acknowledged statements the holder lacks."""
    gaps = {}
    for holder in peers.peers:
        for author in peers.peers:
            if holder is author:
                continue
            lack = [sid for sid in author.acked if holder.rt.service.log.get(sid) is None]
            if lack:
                gaps[f"{holder.name}<-{author.name}"] = len(lack)
    return gaps


def unerased(peers: Peers, model: Model) -> list[str]:
    """Recipients still holding the profile of a withdrawn candidate."""
    out = []
    for c in model.candidates:
        if not c.withdrawn:
            continue
        holder = peers.peers[c.holder]
        for d in holder.rt.talent.store.disclosures(c.candidate_id):
            recipient = next(p for p in peers.peers if p.node_id == d.recipient)
            if recipient.rt.talent.store.profile(d.referral_id):
                out.append(f"{recipient.name} still holds {holder.name}'s withdrawn candidate")
    return out


async def converged(peers: Peers, model: Model) -> None:
    """After every link is healed: wait (bounded) until nothing is missing and every withdrawn
    candidate's profile is erased at its recipients."""
    await peers.wait(lambda: not missing(peers) and not unerased(peers, model),
                     what=f"convergence after heal (missing {missing(peers)}, unerased {unerased(peers, model)})")


def cheap(peers: Peers, model: Model) -> None:
    """The invariants checked after every step."""
    nothing_lost(peers)
    none_twice(peers)
    no_forks(peers)
    logs_verify(peers)
    consent_honoured(peers, model)
    withdrawn_never_released(peers, model)


def summary(peers: Peers, model: Model) -> str:
    """What a program did, for ``pytest -s``: statements acknowledged, referrals, disclosures, ended consents."""
    referrals = sum(len(p.rt.talent.store.referrals()) for p in running(peers))
    disclosures = sum(len(p.rt.talent.store.disclosures()) for p in running(peers))
    rotations = sum(1 for p in running(peers) for s in p.rt.service.log.statements(p.node_id) if s.kind == KeyRotation.KIND)
    return (f"{sum(len(p.acked) for p in peers.peers)} statements acknowledged, {len(model.candidates)} candidates, "
            f"{referrals} referral rows, {disclosures} disclosures, {len(model.ended())} consents ended, {rotations} key rotations")
