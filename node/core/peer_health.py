"""How each partner is doing, for the dashboard's partners page: the facts `orgnode status` and
``/metrics`` use (node/core/health.py's ``Health`` and node/core/problems.py's ``problems``), read per
partner: reachable or since when not, last contact, its clock against ours, how long since the last
exchange (sync lag), what waits in the outbox for it, and the problems `orgnode status` lists about it
(fork evidence, over quota, its disk full, its certificate or address refused, clock skew)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.core.problems import Problem, problems

if TYPE_CHECKING:
    from node.core.health import Health
    from node.core.service import NodeService


@dataclass(frozen=True, slots=True)
class PeerHealth:
    node_id: bytes
    failing_since: int | None  # ms: its first unanswered request since it last answered (None: answering, or not tried)
    unreachable_since: int | None  # ms: as `orgnode status` reports it (failing past ``unreachable_warn_after``)
    last_contact: int | None  # ms: the latest of its last answer to us and its last request to us
    clock_offset_ms: int | None  # its clock minus ours, from its latest signed request (None: not measured yet)
    sync_lag_ms: int | None  # since our last successful exchange with it (None: none since this node started)
    waiting: int  # our statements it has not acknowledged yet
    waiting_since: int | None  # ms: when the oldest of them was queued
    problems: tuple[Problem, ...]  # what `orgnode status` says about it

    @property
    def reachable(self) -> bool | None:
        """True once it answered and is not failing, False while failing, None before any attempt."""
        if self.failing_since is not None:
            return False
        return True if self.sync_lag_ms is not None else None


def peer_health(service: NodeService, health: Health, now: int) -> dict[bytes, PeerHealth]:
    """Every trusted partner's health, by node id."""
    from storage.peers import PeerStore

    peers = PeerStore(service.db)
    outbox = peers.outbox_by_peer()
    found = problems(service, health, now)
    out = {}
    for peer in peers.trusted():
        node_id = peer.node_id
        reach = health.reach.get(node_id)
        last_ok = reach.last_ok if reach is not None else None
        offset = health.offsets.get(node_id)
        waiting, oldest = outbox.get(node_id, (0, None))
        out[node_id] = PeerHealth(
            node_id=node_id, failing_since=reach.failing_since if reach is not None else None,
            unreachable_since=health.down_since(node_id, now), last_contact=health.last_heard(node_id, peer.last_contact),
            clock_offset_ms=offset[0] if offset is not None else None,
            sync_lag_ms=max(0, now - last_ok) if last_ok is not None else None, waiting=waiting, waiting_since=oldest,
            problems=tuple(p for p in found if p.peer == node_id))
    return out
