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

    def clear(self) -> None:
        self.heads.clear()
        self.histories.clear()
        self.forked.clear()
        self.usage.clear()
        self.held.clear()
        self.rejected.clear()
        self.charged.clear()
        self.expired_at = None


class BatchReads:
    """A mixin of ``LogStore``: the memoised reads its ``_ingest`` makes."""

    db: sqlite_utils.Database
    _memo: IngestMemo | None = None

    if TYPE_CHECKING:
        def head(self, author: bytes) -> LogHead: ...
        def key_history(self, author: bytes) -> KeyHistory | None: ...

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

    def _forget_all(self) -> None:
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
