"""Protocol version negotiation (docs/protocol.md section 1.1): which message set two nodes use.

Why: a node upgraded to a later protocol version must keep talking to partners that have not
upgraded yet, and must not need a flag day. Every node advertises the versions it speaks in the
``OrgNode-Versions`` response header of every federation answer (a version-1 node that predates the
header advertises nothing, which means ``1``). A sender speaks, per peer, the highest version both
support (version 1 until it has seen the peer's header); a receiver answers in the version it was
asked in and refuses any version it does not speak with ``unknown-version`` before reading the
body, so nothing is stored. A sender refused with ``unknown-version`` (the peer was downgraded, or
its header was wrong) records what the refusal advertises and falls back.

A **message set** is what changes between versions: how the sync messages (``Batch``,
``PushResults``, ``PullRequest``, section 13.1) are encoded and decoded, and the ``v=`` of the
request's ``Authorization`` header. Statements, envelopes and their signatures are not part of it
(a statement's bytes are its id). This module is pure: it parses and chooses, the node shell sends.

A **feature** is a smaller addition that needs no new message set: a value a statement body may carry
that older nodes would refuse (e.g. the referral stages ``interview``/``offer``, section 15.9). Nodes
name the features they understand in ``OrgNode-Features``; a node sends such a value only to a peer
whose last answer named the feature. Older nodes send no such header and ignore it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from protocol.corrections import CORRECTIONS_FEATURE
from protocol.errors import UNKNOWN_VERSION, LocalProtocolError, RemoteProtocolError
from protocol.referrals import STAGES_FEATURE
from protocol.reshare_want import FEATURE as RESHARE_WANT_FEATURE
from protocol.sync import Batch, PullRequest, PushResults

VERSIONS_HEADER = "OrgNode-Versions"
FEATURES_HEADER = "OrgNode-Features"
MAX_FEATURES_CHARS = 256
BASE_VERSION = 1  # every node speaks it; the version used until a peer has advertised more
MAX_HEADER_CHARS = 64
MAX_ADVERTISED = 16


@dataclass(frozen=True, slots=True)
class MessageSet:
    """The sync messages of one protocol version: encoders and decoders that check their version."""

    version: int
    encode_batch: Callable[[Batch], bytes]
    decode_batch: Callable[[bytes], Batch]
    encode_results: Callable[[PushResults], bytes]
    decode_results: Callable[[bytes], PushResults]
    encode_pull: Callable[[PullRequest], bytes]
    decode_pull: Callable[[bytes], PullRequest]


V1 = MessageSet(1, Batch.encode, Batch.decode, PushResults.encode, PushResults.decode, PullRequest.encode,
                PullRequest.decode)


@dataclass(frozen=True, slots=True)
class Versions:
    """The message sets one node speaks (a registry: the reference node has only ``V1``)."""

    sets: tuple[MessageSet, ...]
    features: frozenset[str] = field(default_factory=frozenset)  # advertised in ``OrgNode-Features``

    def __post_init__(self) -> None:
        numbers = [s.version for s in self.sets]
        if BASE_VERSION not in numbers or len(set(numbers)) != len(numbers) or not all(1 <= n <= 255 for n in numbers):
            raise LocalProtocolError("malformed", "a node speaks version 1 and each version in 1-255 once")

    @property
    def supported(self) -> tuple[int, ...]:
        return tuple(sorted(s.version for s in self.sets))

    def header_value(self) -> str:
        """What this node advertises in ``OrgNode-Versions``: ascending, comma-separated."""
        return ",".join(str(v) for v in self.supported)

    def features_value(self) -> str:
        """What this node advertises in ``OrgNode-Features``: sorted, comma-separated."""
        return ",".join(sorted(self.features))

    def get(self, version: int) -> MessageSet:
        """The message set of ``version``; ``unknown-version`` if this node does not speak it."""
        for message_set in self.sets:
            if message_set.version == version:
                return message_set
        raise RemoteProtocolError(UNKNOWN_VERSION, f"protocol version {version} is not supported "
                                  f"(this node speaks {self.header_value()})")

    def choose(self, peer_versions: Iterable[int] | None) -> MessageSet:
        """The highest version both sides speak; version 1 while the peer's versions are unknown."""
        common = set(self.supported) & set(peer_versions or (BASE_VERSION,))
        return self.get(max(common) if common else BASE_VERSION)


SUPPORTED = Versions((V1,), frozenset({STAGES_FEATURE, CORRECTIONS_FEATURE, RESHARE_WANT_FEATURE}))
# A node of the release before lazy re-sharing (docs/protocol.md 14.2): eager re-shares only. Kept for
# mixed-network tests and benchmarks; a node may also be built with it to turn the feature off.
WITHOUT_RESHARE_WANT = Versions((V1,), SUPPORTED.features - {RESHARE_WANT_FEATURE})


def parse_versions(value: str | None) -> frozenset[int]:
    """The versions a peer advertises in its ``OrgNode-Versions`` header.

    Absent (a node from before negotiation) means ``{1}``. A header that breaks the form (decimal
    integers 1-255 separated by commas, optional spaces, at most 64 characters and 16 entries) is
    ignored the same way, as version-1 receivers ignore what they do not understand: it can only
    make a sender fall back to version 1, never pick a version the peer did not name."""
    if value is None or len(value) > MAX_HEADER_CHARS:
        return frozenset({BASE_VERSION})
    found: set[int] = set()
    parts = value.split(",")
    if len(parts) > MAX_ADVERTISED:
        return frozenset({BASE_VERSION})
    for part in parts:
        text = part.strip()
        if not text.isascii() or not text.isdigit() or len(text) > 3 or not 1 <= int(text) <= 255:
            return frozenset({BASE_VERSION})
        found.add(int(text))
    return frozenset(found)


def parse_features(value: str | None) -> frozenset[str]:
    """The features a peer advertises in its ``OrgNode-Features`` header.

    Absent means none. A header that breaks the form (names of lowercase ASCII letters, digits and
    ``-``, 1-32 characters, separated by commas with optional spaces, at most 256 characters and 16
    names) means none as well: it can only make a sender hold back a value, never send one the peer
    did not name."""
    if value is None or len(value) > MAX_FEATURES_CHARS:
        return frozenset()
    parts = [part.strip() for part in value.split(",")]
    if len(parts) > MAX_ADVERTISED:
        return frozenset()
    for name in parts:
        if not 1 <= len(name) <= 32 or not all(c.isascii() and (c.islower() or c.isdigit() or c == "-") for c in name):
            return frozenset()
    return frozenset(parts)
