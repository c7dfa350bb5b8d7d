"""What one batch's ingest reads of the database once instead of once per statement (issue 11
item 3): every statement of a pushed or pulled batch has the same author and the same sender, so the
author's head, key history and fork-decision flag and the sender's quota account are read at the
first item and kept up to date by the writes of the items after it.

Only ``LogStore.batch_reads()`` turns it on, around the items of one batch (all in one transaction).
It is in memory only and dropped whenever the database may have changed behind it: an item refused
(its savepoint rolled back), a held statement, a refund, a rotation's new key history.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from protocol.log import KeyHistory, LogHead
from storage.quotas import PeerUsage

if TYPE_CHECKING:
    import sqlite_utils


@dataclass
class IngestMemo:
    heads: dict[bytes, LogHead] = field(default_factory=dict)
    histories: dict[bytes, KeyHistory | None] = field(default_factory=dict)
    forked: dict[bytes, bool] = field(default_factory=dict)
    usage: dict[bytes, PeerUsage] = field(default_factory=dict)
    held: dict[bytes, bool] = field(default_factory=dict)  # author -> whether any of its statements is held
    rejected: dict[bytes, bool] = field(default_factory=dict)  # author -> whether any of its statements was rejected
    charged: set[bytes] = field(default_factory=set)  # peers with a ``peer_usage`` row charged in this batch
    expired_at: int | None = None  # the ``now`` held statements were last expired at
    # Inside ``all_or_nothing``: quota charges are summed here, (peer, day) -> [bytes, re-shared
    # bytes], and written once (``usage`` already counts them); a refusal there discards them.
    defer_charges: bool = False
    pending_charges: dict[tuple[bytes, int], list[int]] = field(default_factory=dict)

    def clear(self) -> None:
        self.heads.clear()
        self.histories.clear()
        self.forked.clear()
        self.usage.clear()
        self.held.clear()
        self.rejected.clear()
        self.charged.clear()
        self.expired_at = None
        self.pending_charges.clear()


class BatchReads:
    """A mixin of ``LogStore``: the memoised reads its ``_ingest`` makes."""

    db: sqlite_utils.Database
    _memo: IngestMemo | None = None

    if TYPE_CHECKING:
        def head(self, author: bytes) -> LogHead: ...
        def key_history(self, author: bytes) -> KeyHistory | None: ...
        def _flush_charges(self) -> None: ...

    def forked_before(self, author: bytes) -> bool:
        """An admin once cleared this author's fork evidence (cheap check before reading the decision)."""
        return any(True for _ in self.db.query("SELECT 1 FROM fork_decisions WHERE author = ? LIMIT 1", [author]))

    @contextlib.contextmanager
    def batch_reads(self) -> Iterator[None]:
        """Around the items of one batch, inside its transaction (``Federation.take_batch``)."""
        self._memo = IngestMemo()
        try:
            yield
        finally:
            self._memo = None

    @contextlib.contextmanager
    def all_or_nothing(self) -> Iterator[None]:
        """Inside ``batch_reads``: the batch's items under one savepoint instead of one each
        (``ingest(alone=False)``), their quota charges written once at the end. Any exception rolls
        back everything done inside, forgets what the memo learnt, and propagates."""
        memo = self._memo
        assert memo is not None, "all_or_nothing() only inside batch_reads()"
        memo.defer_charges = True
        try:
            with self.db.atomic():
                yield
                self._flush_charges()
        except BaseException:
            memo.clear()  # the savepoint rolled back: the pending charges and everything read are gone
            raise
        finally:
            memo.defer_charges = False

    @contextlib.contextmanager
    def _charging_now(self) -> Iterator[None]:
        """Charges written at once inside, even under ``all_or_nothing``: for work with savepoints
        of its own (held statements released), whose rollback must take its charge with it."""
        memo = self._memo
        if memo is None or not memo.defer_charges:
            yield
            return
        self._flush_charges()
        memo.defer_charges = False
        try:
            yield
        finally:
            memo.defer_charges = True

    def _forget_all(self) -> None:
        """Something was rolled back: nothing the memo holds can be trusted (charges not yet written
        were rolled back with it: only ``all_or_nothing`` defers them, and it rolls back as a whole)."""
        if self._memo is not None:
            self._memo.clear()

    def _may_be_rejected(self, author: bytes) -> bool:
        """Whether a statement of ``author`` (or its predecessor, same author) can be on the rejected
        list: false when none of the author's is (a recorded rejection drops the memo first)."""
        memo = self._memo
        if memo is None:
            return True
        if (known := memo.rejected.get(author)) is None:
            rows = self.db.query("SELECT 1 FROM rejected WHERE author = ? LIMIT 1", [author])
            known = memo.rejected[author] = any(True for _ in rows)
        return known

    def _ingest_head(self, author: bytes) -> LogHead:
        memo = self._memo
        if memo is None:
            return self.head(author)
        if (head := memo.heads.get(author)) is None:
            head = memo.heads[author] = self.head(author)
        return head

    def _ingest_history(self, author: bytes) -> KeyHistory | None:
        memo = self._memo
        if memo is None:
            return self.key_history(author)
        if author not in memo.histories:
            memo.histories[author] = self.key_history(author)
        return memo.histories[author]

    def _ingest_forked(self, author: bytes) -> bool:
        memo = self._memo
        if memo is None:
            return self.forked_before(author)
        if (forked := memo.forked.get(author)) is None:
            forked = memo.forked[author] = self.forked_before(author)
        return forked

    def _stored(self, head: LogHead) -> None:
        """An entry was inserted: the author's head moves to it (a higher seq only)."""
        memo = self._memo
        if memo is not None and (known := memo.heads.get(head.author)) is not None and head.seq > known.seq:
            memo.heads[head.author] = head

    def _history_changed(self, author: bytes) -> None:
        if self._memo is not None:
            self._memo.histories.pop(author, None)
