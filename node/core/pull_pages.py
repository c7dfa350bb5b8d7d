"""Pulling pages of a partner's log, and our own log back from a partner after a rollback.

Split from ``node/core/sync.py`` (the loops and timers) because paging is its own job: the page size
shrinks after cut transfers, the asked version is negotiated, and a node whose database may be older
than its log first relearns its own statements (``node/core/restore.py``). ``SyncEngine`` calls it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from node.core.errors import PeerAddressRefused, PeerUnavailable
from node.core.negotiation import VersionNegotiation, encode_pull
from node.core.restore import own_recovery_request, partner_answered, partner_failed, signing_paused, take_own_recovered
from node.logs import log_event
from protocol.errors import MALFORMED, ProtocolError
from protocol.page_seal import ASK_SEALED_PAGES
from protocol.statement import Envelope, Header
from protocol.sync import Batch, BatchSize, PullRequest

if TYPE_CHECKING:
    from node.core.federation import Federation
    from node.http.client import FederationClient, PeerAnswer
    from protocol.versions import MessageSet

PULL_PATH = "/federation/v1/pull"
MAX_PULL_PAGES = 1000


@dataclass
class PullReport:
    peer: bytes
    ok: bool
    appended: int = 0
    error: str | None = None
    retry_after: float | None = None  # s (>= 1): the peer refused for now (rate-limited) and said when to retry


class PullHost(Protocol):
    """What paging needs of the sync engine (``node.core.sync.SyncEngine``)."""

    federation: Federation
    client: FederationClient
    negotiation: VersionNegotiation
    pull_sizes: dict[bytes, BatchSize]
    no_max_items: set[bytes]

    @property
    def resynced(self) -> set[bytes]: ...

    def contact(self, peer: bytes) -> None: ...

    def answered(self, peer_id: bytes) -> None: ...

    def note_failure(self, peer_id: bytes, exc: PeerUnavailable) -> None: ...


async def pull_from(engine: PullHost, peer_id: bytes, url: str) -> PullReport:
    if signing_paused(engine.federation) and peer_id not in engine.resynced:
        report = await recover_own_from(engine, peer_id, url)
        if not report.ok:
            partner_failed(engine.federation, peer_id, report.error or "no answer")
            return report
        partner_answered(engine.federation, peer_id, report.appended)
    appended = 0
    size = engine.pull_sizes.setdefault(peer_id, BatchSize())
    ahead: _Ahead | None = None  # the next page, asked for while this one is taken in
    try:
        for _ in range(MAX_PULL_PAGES):
            request = engine.federation.have_vector_for(peer_id, None if peer_id in engine.no_max_items else size.size)
            if ahead is not None and ahead.request.have == request.have:
                pending, request = ahead.task, ahead.request  # asked for exactly where we now are
            else:  # none ahead, or it was asked from where this page was expected to end, and it did not
                if ahead is not None:
                    _drop(ahead.task)
                pending = _ask(engine, url, peer_id, request)
            ahead = None
            try:
                answer, messages = await pending
            except PeerUnavailable as exc:
                engine.note_failure(peer_id, exc)
                if not isinstance(exc, PeerAddressRefused):  # a cut or failed page: ask for less next time
                    size.failed()
                return PullReport(peer_id, False, appended, str(exc)[:300])
            engine.answered(peer_id)
            if answer.status == 400 and answer.error_code == MALFORMED and request.max_items is not None:
                engine.no_max_items.add(peer_id)  # a node that predates max_items: ask it the 2-element way
            if answer.status != 200:
                return PullReport(peer_id, False, appended, answer.error_code or f"HTTP {answer.status}", answer.retry_after)
            try:
                batch = messages.decode_batch(answer.body)
            except ProtocolError as exc:
                log_event("pull.bad-answer", logging.WARNING, peer=peer_id, code=exc.code)
                return PullReport(peer_id, False, appended, exc.code)
            if batch.more and (following := _following(peer_id, request, batch)) is not None:
                ahead = _Ahead(following, _ask(engine, url, peer_id, following))
                await asyncio.sleep(0)  # one turn of the loop: the request goes out before the page is taken in
            await engine.federation.writes.wait()  # not inside SQLite's busy handler, holding the loop (off_loop_writes.py)
            try:
                results = engine.federation.take_batch(peer_id, batch)
            except ProtocolError as exc:  # e.g. trust was revoked while the page was on its way
                log_event("pull.refused", logging.WARNING, peer=peer_id, code=exc.code)
                return PullReport(peer_id, False, appended, exc.code)
            new = sum(1 for r in results.results if r.outcome == "appended")
            appended += new
            size.succeeded()
            engine.contact(peer_id)
            # Progress is our copy of the peer's log growing (a push may have brought this page's
            # statements first, answering them here as duplicates): never page on without it.
            if not batch.more or not batch.envelopes or engine.federation.have_vector_for(peer_id, request.max_items) == request:
                break
    finally:
        if ahead is not None:  # stopped (an error, the end, no progress): the page asked ahead is not taken
            _drop(ahead.task)
    if appended:
        log_event("pull.done", peer=peer_id, appended=appended)
    return PullReport(peer_id, True, appended)


@dataclass(frozen=True)
class _Ahead:
    """A pull sent before the page before it was taken in (pipelining, one page deep)."""

    request: PullRequest
    task: asyncio.Task[tuple[PeerAnswer, MessageSet]]


def _ask(engine: PullHost, url: str, peer_id: bytes, request: PullRequest) -> asyncio.Task[tuple[PeerAnswer, MessageSet]]:
    return asyncio.ensure_future(engine.negotiation.post(engine.client, url, PULL_PATH, peer_id,
                                                         functools.partial(encode_pull, request), ASK_SEALED_PAGES))


def _drop(task: asyncio.Task[tuple[PeerAnswer, MessageSet]]) -> None:
    """Abandon a pull asked ahead: cancelled if still on its way, its failure (if it failed) collected."""
    if not task.done():
        task.cancel()
    elif not task.cancelled():
        task.exception()


def _following(peer_id: bytes, request: PullRequest, batch: Batch) -> PullRequest | None:
    """The pull for the page after ``batch`` if it is taken in whole: the have vector at its last
    statement's seq (read from the header, not yet verified: it only shapes a request, and the answer
    is used only if our log really ends there once the page is taken in). None if the page cannot
    say (an envelope that does not decode, another author, no progress)."""
    try:
        header = Header.decode(Envelope.decode(batch.envelopes[-1]).header_bytes)
    except (ProtocolError, IndexError):
        return None
    if header.author != peer_id or header.seq <= dict(request.have).get(peer_id, 0):
        return None
    return PullRequest(((peer_id, header.seq),), request.max_items)


async def recover_own_from(engine: PullHost, peer_id: bytes, url: str) -> PullReport:
    """Own-log recovery (docs/protocol.md): page our own statements back from a partner that holds
    them, after our local head, until it has no more. A partner that answers with anything else
    (an older node that ignores the request) is not counted as resynced."""
    recovered = 0
    for _ in range(MAX_PULL_PAGES):
        request = own_recovery_request(engine.federation)
        try:
            answer, messages = await engine.negotiation.post(engine.client, url, PULL_PATH, peer_id,
                                                             functools.partial(encode_pull, request))
        except PeerUnavailable as exc:
            engine.note_failure(peer_id, exc)
            return PullReport(peer_id, False, recovered, str(exc)[:300])
        if answer.status != 200:
            return PullReport(peer_id, False, recovered, answer.error_code or f"HTTP {answer.status}")
        try:
            page = messages.decode_batch(answer.body)
            new = take_own_recovered(engine.federation, peer_id, page)
        except ProtocolError as exc:
            log_event("restore.bad-answer", logging.WARNING, peer=peer_id, code=exc.code)
            return PullReport(peer_id, False, recovered, exc.code)
        recovered += new
        if not page.more or new == 0:
            break
    return PullReport(peer_id, True, recovered)
