"""What one trusted peer may make this node keep (issue 8 item 12), and what it has made it keep."""

from __future__ import annotations

from dataclasses import dataclass

DAY_MS = 86_400_000


@dataclass
class PeerQuota:
    """Per-peer limits on what one trusted peer can make this node keep (issue 8 item 12): valid but
    large, re-shared data must not multiply into the disk, and out-of-order statements must not wait
    forever. Over-quota data is refused with ``over-quota`` and the peer is flagged in ``trust list``."""

    stored_bytes: int = 256 * 1024 * 1024  # statement bytes received from the peer, in total
    reshare_bytes_per_day: int = 32 * 1024 * 1024  # of which in ``reshare`` statements, per UTC day
    held: int = 2_000  # out-of-order statements from the peer waiting for their predecessors
    held_ttl_ms: int = DAY_MS  # a held statement is dropped this long after it arrived


@dataclass(frozen=True)
class PeerUsage:
    stored_bytes: int
    reshare_bytes_today: int
    held: int
    refused: int
    refused_at: int | None
