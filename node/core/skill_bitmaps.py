"""The skill index in memory, as bitmaps (issue 11 item 1): a match in a few milliseconds at 100,000.

Reading the SQL index gave every match the postings of all the job's skills (at 100,000 candidates,
some 100,000 rows grouped per query: 5x the goal). Here every held candidate with skills has an
ordinal; each skill concept key has an append-only array of ordinals (4 bytes a posting) and, for the
keys matched lately, a cached bitmap (a Python int, one bit per ordinal). A query adds the job's
bitmaps with a bit-sliced counter, so each score level (the candidates holding exactly ``s`` of the
job's weight) is one bitmap; levels are read best first and, within a level, in (created_at,
row id) order, lazily: the caller stops as soon as it has enough consented candidates, so a
candidate that cannot beat the last one taken is never looked at (early termination).

Ordinals are given in (created_at, row id) order when the index is built; a candidate added
later normally comes last in that order too (its created_at is the clock's now). One that does not
(a correction keeps its created_at, a clock set back, two candidates in one millisecond) is noted in
``disorder`` and merged into its level by sorting. A changed or erased candidate's old ordinal is
marked dead; when dead and disordered ordinals pile up, the node builds the index afresh. The node
keeps the index current from ``candidate_changes`` (storage/match_index.py, migration 026).
"""

from __future__ import annotations

import heapq
from array import array
from collections import OrderedDict
from collections.abc import Iterator

CACHED_BITMAPS = 256  # keys whose bitmap is kept (each ~N/8 bytes: 12.5 KB at 100,000 ordinals)

Ranked = tuple[int, int, bytes, frozenset[str]]  # (score, created_at, candidate_id, job keys held)


class SkillBitmaps:
    """Skill concept key -> candidates, for one vocabulary (``fingerprint``), current up to change ``seq``."""

    def __init__(self, fingerprint: str, seq: int) -> None:
        self.fingerprint = fingerprint
        self.seq = seq
        self.slot: dict[bytes, int] = {}
        self.ids: list[bytes] = []
        self.created = array("q")
        self.rowids = array("q")
        self.postings: dict[str, array[int]] = {}
        self.dead = bytearray()
        self.dead_count = 0
        self.disorder: set[int] = set()
        self.last: tuple[int, int] | None = None
        self._bitmaps: OrderedDict[str, tuple[int, int]] = OrderedDict()

    def __len__(self) -> int:
        return len(self.slot)

    def stale(self) -> bool:
        """True when dead or out-of-order ordinals are many enough that building afresh is cheaper."""
        waste = self.dead_count + len(self.disorder)
        return waste > 1_000 and waste * 4 > len(self.ids)

    def put(self, candidate_id: bytes, created_at: int, rowid: int, keys: tuple[str, ...]) -> None:
        """The candidate (its created_at and row id: the order of ties) now holds ``keys`` (none: it
        is not matched at all)."""
        self.remove(candidate_id)
        if not keys:
            return
        o = len(self.ids)
        self.slot[candidate_id] = o
        self.ids.append(candidate_id)
        self.created.append(created_at)
        self.rowids.append(rowid)
        if self.last is not None and (created_at, rowid) <= self.last:
            self.disorder.add(o)
        else:
            self.last = (created_at, rowid)
        for key in set(keys):
            self.postings.setdefault(key, array("I")).append(o)

    def remove(self, candidate_id: bytes) -> None:
        """The candidate is erased or changed: its ordinal no longer counts."""
        o = self.slot.pop(candidate_id, None)
        if o is None:
            return
        if len(self.dead) <= o >> 3:
            self.dead.extend(bytes((o >> 3) + 1 - len(self.dead)))
        self.dead[o >> 3] |= 1 << (o & 7)
        self.dead_count += 1
        self.disorder.discard(o)

    def _bitmap(self, key: str) -> int:
        """The key's postings as a bitmap, from the cache plus what was appended since."""
        postings = self.postings.get(key)
        if not postings:
            return 0
        used, bitmap = self._bitmaps.pop(key, (0, 0))
        if used < len(postings):
            buf = bytearray((len(self.ids) >> 3) + 1)
            for o in postings[used:]:
                buf[o >> 3] |= 1 << (o & 7)
            bitmap |= int.from_bytes(buf, "little")
        self._bitmaps[key] = (len(postings), bitmap)
        while len(self._bitmaps) > CACHED_BITMAPS:
            self._bitmaps.popitem(last=False)
        return bitmap

    def ranked(self, weights: dict[str, int]) -> Iterator[Ranked]:
        """Candidates holding any of the keys, best first: score (the sum of the weights of the keys
        they hold) descending, then created_at, then row id (first recorded first), the order of the old scan. Lazy:
        each level is read only when the one above it is used up."""
        live = ~int.from_bytes(self.dead, "little")
        bitmaps = {key: self._bitmap(key) & live for key in weights}
        digits: list[int] = []  # bit-sliced counter: digit j holds bit j of every candidate's score
        for key, weight in weights.items():
            for j in range(weight.bit_length()):
                if weight >> j & 1:
                    _add(digits, bitmaps[key], j)
        size = (len(self.ids) >> 3) + 1
        disorder = frozenset(self.disorder)  # as of now: another match may apply changes while this one waits
        held = {key: b.to_bytes(size, "little") for key, b in bitmaps.items() if b}
        for s in range(sum(weights.values()), 0, -1):
            level = _level(digits, s)
            if level:
                for o in self._in_order(level.to_bytes(size, "little"), disorder):
                    keys = frozenset(k for k, data in held.items() if data[o >> 3] >> (o & 7) & 1)
                    yield s, self.created[o], self.ids[o], keys

    def _in_order(self, level: bytes, disorder: frozenset[int]) -> Iterator[int]:
        """The level's ordinals in (created_at, row id) order: the ordered ones as they come,
        merged with the out-of-order ones sorted."""
        def key(o: int) -> tuple[int, int]:
            return self.created[o], self.rowids[o]

        odd = sorted((o for o in disorder if level[o >> 3] >> (o & 7) & 1), key=key)
        ordered = (o for o in _bits(level) if o not in disorder) if odd else _bits(level)
        return heapq.merge(ordered, odd, key=key) if odd else ordered


def _add(digits: list[int], bits: int, j: int) -> None:
    """Add ``bits << j`` (each candidate's bit, times 2**j) to the counter, with carries."""
    carry = bits
    while carry:
        while j >= len(digits):
            digits.append(0)
        digits[j], carry = digits[j] ^ carry, digits[j] & carry
        j += 1


def _level(digits: list[int], s: int) -> int:
    """The candidates whose score is exactly ``s``."""
    if s >> len(digits):
        return 0
    out = -1
    for j, digit in enumerate(digits):
        out &= digit if s >> j & 1 else ~digit
    return out if out >= 0 else 0


def _bits(data: bytes) -> Iterator[int]:
    """The set bits of a little-endian bitmap, ascending, skipping empty bytes."""
    for i, byte in enumerate(data):
        if byte:
            for b in range(8):
                if byte >> b & 1:
                    yield (i << 3) | b
