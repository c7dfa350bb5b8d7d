"""Which protocol version to speak to each peer (docs/protocol.md section 1.1).

Every federation answer advertises the versions its sender speaks; a sync message is sent in the
highest version both sides share. Kept apart from the sync loops because it is one small rule with
its own memory: what each peer last advertised, and a version it refused while advertising it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from node.logs import log_event
from protocol.errors import UNKNOWN_VERSION
from protocol.sync import PullRequest
from protocol.versions import BASE_VERSION, MessageSet, Versions

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient, PeerAnswer


def encode_pull(request: PullRequest, messages: MessageSet) -> bytes:
    return messages.encode_pull(request)


@dataclass
class VersionNegotiation:
    """The versions each peer advertised (in memory: one answer relearns them after a restart)."""

    versions: Versions
    peer_versions: dict[bytes, frozenset[int]] = field(default_factory=dict)
    # The features each peer last advertised (``OrgNode-Features``); shared with the service so use
    # cases can ask before they sign a value an older peer would refuse (node/core/referrals.py).
    peer_features: dict[bytes, frozenset[str]] = field(default_factory=dict)
    # Per peer: the set it advertised when it refused a version with unknown-version, and that version.
    _refusals: dict[bytes, tuple[frozenset[int], int]] = field(default_factory=dict)

    async def post(self, client: FederationClient, url: str, path: str, peer_id: bytes,
                   encode: Callable[[MessageSet], bytes], headers: dict[str, str] | None = None,
                   ) -> tuple[PeerAnswer, MessageSet]:
        """POST a sync message in the highest version the peer and we share.

        Every answer updates what the peer advertises. Refused with ``unknown-version`` (the peer was
        downgraded, or never spoke it), the request is sent once more at once in the version chosen
        from what the refusal advertised, less the refused one (no header: version 1)."""
        messages = self.versions.choose(self.peer_versions.get(peer_id))
        answer = await client.post(url, path, peer_id, encode(messages), version=messages.version, headers=headers)
        if answer.error_code != UNKNOWN_VERSION:
            self.learn(peer_id, answer.versions, answer.features)
            return answer, messages
        # Never the refused version again while the peer advertises the same set (a peer that
        # advertises a version it refuses must not make us retry it forever).
        self._refusals[peer_id] = (answer.versions, messages.version)
        self.learn(peer_id, answer.versions, answer.features)
        fallback = self.versions.choose(self.peer_versions[peer_id])
        if fallback.version == messages.version:
            return answer, messages
        log_event("peer.version-fallback", logging.WARNING, peer=peer_id, refused=messages.version, now=fallback.version)
        answer = await client.post(url, path, peer_id, encode(fallback), version=fallback.version, headers=headers)
        self.learn(peer_id, answer.versions, answer.features)
        return answer, fallback

    def learn(self, peer_id: bytes, advertised: frozenset[int], features: frozenset[str] = frozenset()) -> None:
        """Record what a peer advertises, less a version it refused while advertising this same set;
        a changed set (the peer was upgraded or downgraded again) is taken as it is. Its features are
        taken as they are: a downgraded peer stops naming one at its next answer."""
        self.peer_features[peer_id] = features
        refusal = self._refusals.get(peer_id)
        if refusal is not None and refusal[0] == advertised:
            self.peer_versions[peer_id] = advertised - {refusal[1]} or frozenset({BASE_VERSION})
            return
        self._refusals.pop(peer_id, None)
        self.peer_versions[peer_id] = advertised
