"""How a running node is doing: counters, partner reachability, clock skew, and the problems an admin must see.

``Health`` is fed by the use cases as things happen (``Federation.take_batch`` counts what came in,
what was refused by code and statements stamped ahead of our clock; the sync loops report each
partner reached or not, and what they sent). It keeps only counts and times in memory, never a
statement's content, and reading it is free, so a Prometheus scrape (``node/http/metrics.py``) and
``orgnode status`` read current state at once: ``snapshot`` adds what the database knows cheaply
(peers by state, the outbox by peer, fork evidence, over-quota refusals: small tables or indexed
groups, never a scan of the log) and ``problems`` (node/core/problems.py) turns it all into
plain-words findings, each with a code, since when and what to do. Peers are labelled by a node-id prefix only: no names, no partner text.

Reachability is logged once per transition (``peer.unreachable`` at info on the first failure, at
warning once it has lasted ``unreachable_warn_after``; ``peer.reachable`` at info when it answers
again), not on every retry.
"""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from node.core.problems import PROBLEM_CODES, Problem, disk_usage, peer_label, problems
from node.core.views import iso
from node.logs import log_event
from protocol.statement import Statement
from protocol.sync import OUTCOME_APPENDED, OUTCOME_DUPLICATE, OUTCOME_FORK, OUTCOME_HELD, ItemResult
from storage.errors import StorageFull
from storage.peers import PeerStore

if TYPE_CHECKING:
    from node.config import Config
    from node.core.restore import StartCheck
    from node.core.service import NodeService

__all__ = ["Health", "Problem", "Snapshot", "disk_usage", "peer_label", "problems"]

VERDICTS = frozenset({OUTCOME_APPENDED, OUTCOME_DUPLICATE, OUTCOME_HELD, OUTCOME_FORK})

FORK_REMINDER_MS = 86_400_000  # a known fork is logged again (at info) at most this often
ALL_STATES = ("trusted", "pending_in", "pending_out", "removed", "blocked")


@dataclass
class Reach:
    """One partner's reachability as this node's own requests to it found it."""

    last_ok: int | None = None  # ms: the last push or pull it answered
    failing_since: int | None = None  # ms: the first failure since it last answered
    warned: bool = False  # the warning for this outage was logged


@dataclass
class Skew:
    """Statements of one partner stamped more than ``skew_warn`` ahead of our clock."""

    count: int = 0
    first: int = 0  # ms, our clock: the first one
    last: int = 0  # ms, our clock: the latest one
    ahead_ms: int = 0  # how far ahead the latest one was


@dataclass(frozen=True)
class Snapshot:
    """Everything ``/metrics`` shows, read at one moment; keys are peer labels, codes or states."""

    peers_by_state: dict[str, int]
    outbox: dict[str, tuple[int, float]]  # label -> (statements waiting, age of the oldest in seconds)
    received: dict[str, int]
    sent: dict[tuple[str, str], int]  # (label, push|pull) -> statements
    rejected: dict[str, int]  # code -> statements
    skewed: dict[str, int]
    clock_offset: dict[str, float]  # label -> its clock minus ours, seconds, from its latest signed request
    sync_lag: dict[str, float]  # label -> seconds since its last successful exchange
    unreachable: dict[str, int]  # label -> 1 while failing past the threshold, else 0
    forked_authors: int
    disk_free_bytes: int
    disk_total_bytes: int
    database_bytes: int
    problems: dict[str, int]  # code -> how many (every known code, 0 when absent)
    fork_answers: dict[str, int]  # label -> own statements a partner answered with ``fork`` since start


@dataclass
class Health:
    unreachable_warn_ms: int
    skew_warn_ms: int
    started_at: int
    received: Counter[bytes] = field(default_factory=Counter)
    sent: Counter[tuple[bytes, str]] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    skews: dict[bytes, Skew] = field(default_factory=dict)
    # Per partner: its clock minus ours (ms) from its latest signed request, and since when (our clock)
    # that has been beyond ``skew_warn`` (None: within it).
    offsets: dict[bytes, tuple[int, int | None]] = field(default_factory=dict)
    reach: dict[bytes, Reach] = field(default_factory=dict)
    disk_low_since: int | None = None
    # Forks of peers' logs seen in their batches: per author, when it was last logged (once per new evidence,
    # then at most a reminder a day: the same forked statements come back at every pull).
    fork_logged: dict[bytes, int] = field(default_factory=dict)
    # Partners that answered our own statements with ``fork``: since when (our clock), and how many answers.
    told_fork: dict[bytes, int] = field(default_factory=dict)
    fork_answers: Counter[bytes] = field(default_factory=Counter)
    disk_full: dict[bytes, int] = field(default_factory=dict)  # partners answering our pushes 507 disk-full: since
    refused_since: dict[bytes, tuple[str, str, int]] = field(default_factory=dict)  # peer -> (kind, reason, since)
    start_check: StartCheck | None = None  # the own-log check at start (node/core/restore.py), set by Federation
    metrics_url: str | None = None  # set by the runtime once the metrics listener is up
    dashboard_url: str | None = None  # set by the runtime once the dashboard listener is up (node/web/)

    @classmethod
    def of(cls, config: Config, now: int) -> Health:
        return cls(unreachable_warn_ms=int(config.unreachable_warn_after * 1000), skew_warn_ms=int(config.skew_warn * 1000),
                   started_at=now)

    # --- events ---------------------------------------------------------------------------------

    def took(self, peer: bytes, appended: list[Statement], results: list[ItemResult], now: int) -> None:
        """A batch from ``peer`` was stored: count what entered the log (and check its stamps) and what
        was refused, by code (every outcome that is not a verdict is an error code)."""
        self.received[peer] += len(appended)
        for statement in appended:
            self.stamped(peer, statement.header.ts, now)
        self.rejected.update(r.outcome for r in results if r.outcome not in VERDICTS or r.outcome == OUTCOME_FORK)

    def fork_seen(self, author: bytes, seq: int, new: bool, now: int) -> None:
        """A statement of ``author`` conflicting with its log as we hold it: a warning for new evidence, else a
        reminder at info at most once a day (a forked peer's pulls bring the same statements every interval)."""
        last = self.fork_logged.get(author)
        if new or last is None:
            log_event("peer.fork", logging.WARNING, author=author, seq=seq)
        elif now - last >= FORK_REMINDER_MS:
            log_event("peer.fork", logging.INFO, author=author, seq=seq, reminder=True)
        else:
            return
        self.fork_logged[author] = now

    def pushed(self, peer: bytes, results: list[ItemResult], now: int, store: PeerStore | None = None) -> None:
        """``peer`` answered a push of our own statements: ``fork`` means it holds another version of our log
        (logged once, shown in status until a push is appended without it); any answer ends a disk-full spell."""
        self.disk_full.pop(peer, None)
        forks = sum(1 for r in results if r.outcome == OUTCOME_FORK)
        if not forks:
            if any(r.outcome == OUTCOME_APPENDED for r in results) and peer in self.told_fork:  # held proves nothing
                self.told_fork.pop(peer, None)
                _persist(store, peer, None)
            return
        self.fork_answers[peer] += forks
        if peer not in self.told_fork:
            self.told_fork[peer] = now
            _persist(store, peer, now)  # kept across restarts: the answered statements left the outbox
            log_event("push.partner-holds-fork", logging.WARNING, peer=peer, statements=forks)

    def partner_disk_full(self, peer: bytes, now: int) -> None:
        if peer not in self.disk_full:
            self.disk_full[peer] = now
            log_event("push.partner-disk-full", logging.WARNING, peer=peer)

    def refused(self, peer: bytes, kind: str | None, reason: str, now: int) -> None:
        """A request to ``peer`` was refused before connecting (``kind``: certificate or address); None clears it."""
        if kind is None:
            self.refused_since.pop(peer, None)
            return
        since = self.refused_since.get(peer, (kind, reason, now))[2]
        self.refused_since[peer] = (kind, reason, since)

    def stamped(self, peer: bytes, ts: int, now: int) -> None:
        """A statement from ``peer`` stamped ``ts`` by its author, received at ``now``: flag it if it is
        ahead of our clock by more than ``skew_warn`` (behind is normal: statements wait in outboxes)."""
        ahead = ts - now
        if ahead <= self.skew_warn_ms:
            return
        skew = self.skews.setdefault(peer, Skew(first=now))
        if skew.count == 0:
            log_event("peer.clock-skew", logging.WARNING, peer=peer, ahead_s=ahead // 1000)
        skew.count += 1
        skew.last, skew.ahead_ms = now, ahead

    def request_clock(self, peer: bytes, offset_ms: int, now: int) -> None:
        """A request from ``peer`` signed at its clock ``offset_ms`` from ours (accepted, so within the
        5 min freshness window): the direct measure of clock skew, ahead or behind."""
        _, since = self.offsets.get(peer, (0, None))
        beyond = abs(offset_ms) > self.skew_warn_ms
        if beyond and since is None:
            log_event("peer.clock-offset", logging.WARNING, peer=peer, offset_s=offset_ms // 1000)
        self.offsets[peer] = (offset_ms, (since or now) if beyond else None)

    def delivered(self, peer: bytes, via: str, count: int) -> None:
        if count:
            self.sent[(peer, via)] += count

    def reached(self, peer: bytes, now: int) -> None:
        """``peer`` answered one of our requests."""
        reach = self.reach.setdefault(peer, Reach())
        if reach.failing_since is not None:
            log_event("peer.reachable", logging.INFO, peer=peer, unreachable_since=iso(reach.failing_since),
                      down_s=(now - reach.failing_since) // 1000)
        reach.last_ok, reach.failing_since, reach.warned = now, None, False

    def last_heard(self, peer: bytes, stored: int | None) -> int | None:
        """When ``peer`` was last heard from: the later of its last answer to us (kept here) and its
        last signed request to us (``stored``: the peers table's ``last_contact``). The one source for
        every page and command that says it (partners, peer health, where a job travelled, trust list)."""
        reach = self.reach.get(peer)
        times = [t for t in (reach.last_ok if reach is not None else None, stored) if t is not None]
        return max(times) if times else None

    def unreachable(self, peer: bytes, now: int) -> None:
        """A request to ``peer`` found nobody: info the first time, warning once past the threshold."""
        reach = self.reach.setdefault(peer, Reach())
        if reach.failing_since is None:
            reach.failing_since = now
            log_event("peer.unreachable", logging.INFO, peer=peer, since=iso(now))
        elif not reach.warned and now - reach.failing_since >= self.unreachable_warn_ms:
            reach.warned = True
            log_event("peer.unreachable", logging.WARNING, peer=peer, since=iso(reach.failing_since),
                      down_s=(now - reach.failing_since) // 1000)

    def down_since(self, peer: bytes, now: int) -> int | None:
        """When ``peer`` became unreachable, if it has been for at least the threshold."""
        reach = self.reach.get(peer)
        if reach is None or reach.failing_since is None or now - reach.failing_since < self.unreachable_warn_ms:
            return None
        return reach.failing_since

    # --- reading --------------------------------------------------------------------------------

    def snapshot(self, service: NodeService, now: int) -> Snapshot:
        peers = PeerStore(service.db)
        trusted = [p.node_id for p in peers.trusted()]
        states = dict.fromkeys(ALL_STATES, 0) | peers.state_counts()
        disk = disk_usage(service.home.path)
        found = problems(service, self, now)
        return Snapshot(
            peers_by_state=states,
            outbox={peer_label(p): (0, 0.0) for p in trusted}
            | {peer_label(p): (n, max(0.0, (now - oldest) / 1000)) for p, (n, oldest) in peers.outbox_by_peer().items()},
            received={peer_label(p): n for p, n in self.received.items()},
            sent={(peer_label(p), via): n for (p, via), n in self.sent.items()},
            rejected=dict(self.rejected),
            skewed={peer_label(p): s.count for p, s in self.skews.items()},
            clock_offset={peer_label(p): offset / 1000 for p, (offset, _) in self.offsets.items()},
            sync_lag={peer_label(p): max(0.0, (now - last) / 1000) for p in trusted
                      if (last := self.last_exchange(p)) is not None},
            unreachable={peer_label(p): int(self.down_since(p, now) is not None) for p in trusted},
            forked_authors=len(service.log.fork_summary()),
            disk_free_bytes=disk[0], disk_total_bytes=disk[1],
            database_bytes=database_bytes(service.home.db_path),
            problems=dict.fromkeys(PROBLEM_CODES, 0) | dict(Counter(p.code for p in found)),
            fork_answers={peer_label(p): n for p, n in self.fork_answers.items()},
        )

    def last_exchange(self, peer: bytes) -> int | None:
        reach = self.reach.get(peer)
        return reach.last_ok if reach is not None else None


def _persist(store: PeerStore | None, peer: bytes, since: int | None) -> None:
    """Record a partner holding a fork of our log; our own full disk only loses it at the next restart."""
    if store is not None:
        with contextlib.suppress(StorageFull):
            store.set_partner_fork(peer, since)


def database_bytes(db_path: Path) -> int:
    """The database's size on disk: the main file and its write-ahead log."""
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += (db_path.parent / (db_path.name + suffix)).stat().st_size
        except FileNotFoundError:
            pass
    return total
