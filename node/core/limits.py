"""Per-peer request rate limits (token buckets) — THREATS row 20.

Each trusted peer has its own bucket, so a flooding peer exhausts only its own allowance; a
peer whose score fell below the graylist line is refused until its ``throttled_until``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

DAY_MS = 86_400_000

# Match queries a holder answers per asking partner per UTC day (issue 8 item 9). Honest use is a
# handful of open jobs matched a few times a day; a prober needs many jobs and many labels.
MATCH_QUERIES_PER_DAY = 200  # distinct query ids
MATCH_LABELS_PER_DAY = 300  # distinct requirement labels (case-folded) over all of them


@dataclass(frozen=True)
class MatchQuota:
    """The per-asker daily caps on match queries; a node may be configured with others (tests do)."""

    queries: int = MATCH_QUERIES_PER_DAY
    labels: int = MATCH_LABELS_PER_DAY


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = field(init=False)
    updated: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.burst

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


@dataclass
class PeerLimits:
    rate: float = 20.0  # requests per second, sustained
    burst: float = 60.0
    buckets: dict[bytes, TokenBucket] = field(default_factory=dict)

    def allow(self, peer: bytes, now: float) -> bool:
        bucket = self.buckets.get(peer)
        if bucket is None:
            bucket = self.buckets[peer] = TokenBucket(self.rate, self.burst, updated=now)
        return bucket.take(now)

    def retry_after(self, peer: bytes) -> float:
        """Seconds until ``peer``'s bucket holds a whole token again (0 if it does)."""
        bucket = self.buckets.get(peer)
        return 0.0 if bucket is None else max(0.0, (1 - bucket.tokens) / bucket.rate)


@dataclass
class DailyBytes:
    """Bytes this node sent each peer in one kind of answer per UTC day of the node's clock, capped
    (in memory: a restart forgets them, as it forgets the request buckets). Used for the bodies a
    partner makes us send by asking for them (wants, docs/protocol.md 14.2): the request bucket
    bounds how often it asks, this bounds how much it can make us send in a day."""

    cap: int
    used: dict[bytes, tuple[int, int]] = field(default_factory=dict)  # peer -> (day, bytes)

    def take(self, peer: bytes, size: int, now: int) -> bool:
        """Count ``size`` bytes for ``peer`` at ``now`` (ms) if they fit today's cap; else count nothing."""
        day = now // DAY_MS
        used_day, used = self.used.get(peer, (day, 0))
        used = used if used_day == day else 0
        if used + size > self.cap:
            return False
        self.used[peer] = (day, used + size)
        return True
