"""Running a node's reactions to the statements it takes in (re-sharing, the on-appended hooks), in
the ingest's transaction, all of a page under one savepoint, with failures queued in
``pending_reactions`` for a retry: the part of ``Federation`` that decides what happens after a
statement is stored (node/core/federation.py).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, cast

from node.core import resharing
from node.core.restore import signing_paused
from node.logs import log_event
from protocol.errors import ProtocolError
from protocol.statement import Statement

if TYPE_CHECKING:
    from node.core.clock import Clock
    from node.core.federation import Federation
    from node.core.service import NodeService
    from storage.reactions import ReactionStore

MAX_REACTION_ATTEMPTS = 5


class Reacting:
    """Mixed into ``Federation``, which provides these attributes."""

    service: NodeService
    reactions: ReactionStore
    _after_commit: list[Callable[[], None]]
    on_appended: list[Callable[[list[Statement]], None]]

    if TYPE_CHECKING:
        @property
        def clock(self) -> Clock: ...

    def react(self, appended: list[Statement]) -> None:
        """Run every reaction to each of these stored statements of peers that are still queued in
        ``pending_reactions`` (``retry_reactions``), in one transaction; then the after-commit actions."""
        with self.service.db.atomic():
            actions = self._react_in_transaction(appended, self.clock(), queued=True)
        for action in actions:
            action()

    def _react_in_transaction(self, statements: list[Statement], now: int, *, queued: bool) -> list[Callable[[], None]]:
        """Run the statements' reactions inside the caller's transaction, all under one savepoint
        (``_react_together``); returns the after-commit actions of those that succeeded. A reaction
        that fails unexpectedly rolls that savepoint back; then the reactions before it run again, a
        savepoint each, and the failed one leaves its statement in ``pending_reactions`` (added now
        unless ``queued``: it is already there) to be retried (``retry_reactions``) — the statement
        itself is stored either way; those after it are taken the same way, all at once first.
        While a restore is pending nothing runs (reactions may sign, node/core/restore.py): all wait."""
        if signing_paused(cast("Federation", self)):
            if not queued:
                for statement in statements:
                    self.reactions.add(statement.id, now)
            return []
        actions: list[Callable[[], None]] = []
        rest = statements
        while len(rest) > 1:
            failed_at, exc, together = self._react_together(rest, queued)
            if exc is None:
                return actions + together
            # All of that attempt was rolled back: the reactions before the failed one run again, one
            # savepoint each; the failed one is not run twice (it fails once, is queued, as always).
            actions += self._react_each(rest[:failed_at], now, queued)
            self._failed(rest[failed_at], exc, now, queued)
            rest = rest[failed_at + 1:]
        return actions + self._react_each(rest, now, queued)

    def _react_each(self, statements: list[Statement], now: int, queued: bool) -> list[Callable[[], None]]:
        actions: list[Callable[[], None]] = []
        for statement in statements:
            self._after_commit.clear()
            try:
                with self.service.db.atomic():
                    self._react(statement, queued)
            except Exception as exc:
                self._failed(statement, exc, now, queued)
                continue
            actions.extend(self._after_commit)
        self._after_commit.clear()
        return actions

    def _react_together(self, statements: list[Statement], queued: bool) -> tuple[int, Exception | None, list[Callable[[], None]]]:
        """Every statement's reactions under one savepoint (issue 11 item 3: a savepoint each was 5% of
        ingest). On a failure all of it is rolled back (nothing was committed or sent) and the index of
        the statement whose reaction failed is returned with the exception."""
        self._after_commit.clear()
        done = 0  # reactions that ran without failing
        try:
            with self.service.db.atomic():
                for statement in statements:
                    self._react(statement, queued)
                    done += 1
        except Exception as exc:
            self._after_commit.clear()
            return done, exc, []
        actions = list(self._after_commit)
        self._after_commit.clear()
        return done, None, actions

    def _failed(self, statement: Statement, exc: Exception, now: int, queued: bool) -> None:
        if not queued:
            self.reactions.add(statement.id, now)
        self._reaction_failed(statement, exc)

    def _react(self, statement: Statement, queued: bool) -> None:
        try:
            resharing.maybe_reshare(cast("Federation", self), statement)
        except ProtocolError as exc:
            log_event("reshare.skipped", logging.WARNING, id=statement.id, code=exc.code)
        for hook in self.on_appended:
            hook([statement])
        if queued:
            self.reactions.done(statement.id)

    def after_commit(self, action: Callable[[], None]) -> None:
        """Run ``action`` once the current reaction's transaction has committed (e.g. a WAL checkpoint)."""
        self._after_commit.append(action)

    def _reaction_failed(self, statement: Statement, exc: Exception) -> None:
        attempts = self.reactions.failed(statement.id)
        if attempts >= MAX_REACTION_ATTEMPTS:
            self.reactions.done(statement.id)
            log_event("reaction.abandoned", logging.ERROR, id=statement.id, kind=statement.kind, error=type(exc).__name__)
            return
        log_event("reaction.failed", logging.ERROR, id=statement.id, kind=statement.kind, error=type(exc).__name__,
                  attempts=attempts)

    def retry_reactions(self) -> int:
        """Re-run reactions left unfinished (a crash after storing, or a failure); returns how many ran."""
        ids = self.reactions.pending()
        statements = [s for sid in ids if (s := self.service.log.get(sid)) is not None]
        found = {s.id for s in statements}  # a set: a restart's queue can hold a whole page or more
        for sid in ids:
            if sid not in found:
                self.reactions.done(sid)
        if statements:
            self.react(statements)
        return len(statements)

