"""Sending a want (``POST /federation/v1/want``, docs/protocol.md 14.2) and handing its answer back.

Kept apart from node/core/reshare_offers.py (pure bookkeeping on the store) because this is the one
part that talks to the network: the sync engine gives each want a task of its own, so a slow
offerer never delays the others; a transport failure, a refusal or an undecodable answer is a
failed offerer and the tracker asks the next one (its timeout covers an offerer that never answers).
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from node.core.errors import PeerUnavailable
from node.core.reshare_offers import WANT_PATH
from node.logs import log_event
from protocol.errors import ProtocolError
from protocol.reshare_want import Want, WantRequest
from protocol.sync import Batch

if TYPE_CHECKING:
    from node.core.federation import Federation
    from node.http.client import FederationClient

_TASKS: set[asyncio.Task[None]] = set()  # strong references: a running want is not collected


def start_want(fed: Federation, client: FederationClient, want: Want, timeout_s: float) -> None:
    task = asyncio.get_running_loop().create_task(send_want(fed, client, want, timeout_s), name="orgnode-want")
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)


async def send_want(fed: Federation, client: FederationClient, want: Want, timeout_s: float) -> None:
    peer = fed.peers.get(want.peer)
    batch: Batch | None = None
    if peer is not None and fed.peers.is_trusted(want.peer):
        try:
            async with asyncio.timeout(timeout_s):
                answer = await client.post(peer.url, WANT_PATH, want.peer, WantRequest((want.seq,)).encode())
            if answer.status == 200:
                batch = Batch.decode(answer.body)
            else:
                log_event("reshare.want-refused", logging.WARNING, peer=want.peer, code=answer.error_code)
        except (PeerUnavailable, TimeoutError, ProtocolError) as exc:
            log_event("reshare.want-unreachable", logging.INFO, peer=want.peer, error=type(exc).__name__)
    await fed.writes.wait()
    fed.wants.answered(want, batch)
