"""How a running node is doing: counters, partner reachability, clock skew, and the problems an admin must see.

``Health`` is fed by the use cases as things happen (``Federation.take_batch`` counts what came in,
what was refused by code and statements stamped ahead of our clock; the sync loops report each
partner reached or not, and what they sent). It keeps only counts and times in memory, never a
statement's content, and reading it is free, so a Prometheus scrape (``node/http/metrics.py``) and
``orgnode status`` read current state at once: ``snapshot`` adds what the database knows cheaply
(peers by state, the outbox by peer, fork evidence, over-quota refusals: small tables or indexed
groups, never a scan of the log) and ``problems`` turns it all into plain-words findings, each with
since when and what to do. Peers are labelled by a node-id prefix only: no names, no partner text.

Reachability is logged once per transition (``peer.unreachable`` at info on the first failure, at
warning once it has lasted ``unreachable_warn_after``; ``peer.reachable`` at info when it answers
again), not on every retry.
"""

from __future__ import annotations

import logging
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from node.core.views import iso
from node.logs import log_event
from protocol.statement import Statement
from protocol.sync import OUTCOME_APPENDED, OUTCOME_DUPLICATE, OUTCOME_FORK, OUTCOME_HELD, ItemResult
from storage.peers import PeerStore

if TYPE_CHECKING:
    from node.config import Config
    from node.core.service import NodeService

VERDICTS = frozenset({OUTCOME_APPENDED, OUTCOME_DUPLICATE, OUTCOME_HELD, OUTCOME_FORK})

LABEL_HEX = 16  # a peer is labelled by this many hex digits of its node id (an organization's id, no name)
SKEW_SHOWN_MS = 86_400_000  # a clock-skew finding is shown while the last skewed statement is this recent
OVER_QUOTA_SHOWN_MS = 86_400_000  # an over-quota refusal is shown for a day
ALL_STATES = ("trusted", "pending_in", "pending_out", "removed", "blocked")


def peer_label(node_id: bytes) -> str:
    """The label a peer gets in metrics and logs: a prefix of its node id (not personal data)."""
    return node_id.hex()[:LABEL_HEX]


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
class Problem:
    """One thing wrong, in plain words: ``detail`` says what, ``action`` what to do, ``since`` since when (ms)."""

    code: str  # peer-unreachable | clock-skew | disk-low | fork-evidence | over-quota
    since: int
    detail: str
    action: str
    peer: bytes | None = None

    def view(self) -> dict[str, object]:
        return {"code": self.code, "peer": self.peer.hex() if self.peer else None, "since": iso(self.since),
                "detail": self.detail, "action": self.action}


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
    problems: dict[str, int]  # code -> how many


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
    metrics_url: str | None = None  # set by the runtime once the metrics listener is up

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
        self.rejected.update(r.outcome for r in results if r.outcome not in VERDICTS)

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
            outbox={peer_label(p): (n, max(0.0, (now - oldest) / 1000)) for p, (n, oldest) in peers.outbox_by_peer().items()},
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
            problems=dict(Counter(p.code for p in found)),
        )

    def last_exchange(self, peer: bytes) -> int | None:
        reach = self.reach.get(peer)
        return reach.last_ok if reach is not None else None


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes free to this user, bytes in total) on the file system holding ``path``."""
    usage = shutil.disk_usage(path)
    return int(usage.free), int(usage.total)


def database_bytes(db_path: Path) -> int:
    """The database's size on disk: the main file and its write-ahead log."""
    total = 0
    for suffix in ("", "-wal"):
        try:
            total += (db_path.parent / (db_path.name + suffix)).stat().st_size
        except FileNotFoundError:
            pass
    return total


# --- problems, in plain words --------------------------------------------------------------------


def partner_name(service: NodeService, node_id: bytes) -> str:
    """A partner as the admin knows it: its confirmed name, else its declared one, else its id prefix.
    The name is the partner's own text: the CLI escapes it before printing (node/terminal.py)."""
    peer = PeerStore(service.db).get(node_id)
    if peer is not None and peer.name:
        return peer.name
    declared = PeerStore(service.db).declared_card(node_id)
    return declared[0] if declared else peer_label(node_id)


def _ago(ms: int) -> str:
    """A duration for a person: hours, minutes, or seconds under a minute (never "0 min")."""
    hours = ms / 3_600_000
    if hours >= 1:
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"
    if ms < 60_000:
        return f"{max(0, ms) // 1000} s"
    return f"{ms // 60_000} min"


def size_text(n: float) -> str:
    """A byte count for a person: MiB under 1 GiB (a nearly full disk has far less than 0.01 GiB), else GiB."""
    if n < 1 << 30:
        return f"{n / (1 << 20):.0f} MiB" if n >= 10 << 20 else f"{n / (1 << 20):.1f} MiB"
    return f"{n / (1 << 30):.1f} GiB"


def problems(service: NodeService, health: Health | None, now: int) -> list[Problem]:
    """Everything wrong with this node now. ``health`` is None for a node that is not running: then
    only what the database and the disk say is known (forks, quotas, disk space)."""
    found: list[Problem] = []
    if health is not None:
        found += _unreachable(service, health, now) + _skewed(service, health, now)
    found += _disk(service, health, now) + _forks(service) + _over_quota(service, now)
    return found


def _unreachable(service: NodeService, health: Health, now: int) -> list[Problem]:
    out = []
    for peer in PeerStore(service.db).trusted():
        since = health.down_since(peer.node_id, now)
        if since is not None:
            out.append(Problem(
                "peer-unreachable", since,
                f"partner {partner_name(service, peer.node_id)} has been unreachable since {iso(since)} ({_ago(now - since)})",
                f"check their URL ({peer.url}) with `orgnode trust list`, or ask their admin whether their node runs",
                peer.node_id))
    return out


def _skewed(service: NodeService, health: Health, now: int) -> list[Problem]:
    """One finding per partner: from its statements' stamps (ahead of us), else from its requests' clock."""
    out = []
    for peer in {*health.skews, *health.offsets}:
        skew = health.skews.get(peer)
        offset, since = health.offsets.get(peer, (0, None))
        name = partner_name(service, peer)
        if skew is not None and skew.count and now - skew.last <= SKEW_SHOWN_MS:
            what = (f"clock skew with partner {name}: their statements are ~{_ago(skew.ahead_ms)} ahead of this node's "
                    f"clock ({skew.count} statement(s) so far, still accepted)")
            first = skew.first
        elif since is not None:
            what = (f"clock skew with partner {name}: their clock is ~{_ago(abs(offset))} "
                    f"{'ahead of' if offset > 0 else 'behind'} this node's (measured from their signed requests)")
            first = since
        else:
            continue
        out.append(Problem("clock-skew", first, what, "check this machine's clock and ask their admin to check theirs "
                           "(run NTP); beyond 5 min apart the nodes refuse each other's requests (stale)", peer))
    return sorted(out, key=lambda p: p.since)


def _disk(service: NodeService, health: Health | None, now: int) -> list[Problem]:
    free, total = disk_usage(service.home.path)
    config = service.config
    percent = 100.0 * free / total if total else 100.0
    low = free < config.disk_warn_free_bytes or percent < config.disk_warn_free_percent
    if health is not None:
        health.disk_low_since = (health.disk_low_since or now) if low else None
    if not low:
        return []
    since = health.disk_low_since if health is not None and health.disk_low_since is not None else now
    return [Problem("disk-low", since,
                    f"the disk holding {service.home.path} is nearly full: {size_text(free)} free ({percent:.1f} % of the disk "
                    f"is free; warning below {size_text(config.disk_warn_free_bytes)} or {config.disk_warn_free_percent:g} %)",
                    "free space there (old logs, backups elsewhere) or grow the disk; writes are refused when it is full "
                    "(thresholds: disk_warn_free_bytes, disk_warn_free_percent in config.toml)")]


def _forks(service: NodeService) -> list[Problem]:
    return [Problem("fork-evidence", first,
                    f"partner {partner_name(service, author)} signed two different statements for one position in its "
                    f"log (fork evidence: {n} kept); its later statements are refused",
                    "ask their admin whether they restored an old backup or copied their node; once you have decided, "
                    f"clear it with `orgnode trust clear-fork {peer_label(author)} --reason \"...\"` (logged)", author)
            for author, first, n in service.log.fork_summary()]


def _over_quota(service: NodeService, now: int) -> list[Problem]:
    return [Problem("over-quota", last,
                    f"partner {partner_name(service, peer)} is over its quota on this node: {refused} statement(s) "
                    f"refused, the latest at {iso(last)}",
                    "ask their admin why they send so much; `orgnode trust list` shows their usage", peer)
            for peer, refused, last in service.log.over_quota_since(now - OVER_QUOTA_SHOWN_MS)]
