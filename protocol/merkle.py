"""Merkle trees over a log, as RFC 9162 (Certificate Transparency v2) section 2.1 defines them.

A tree commits to an ordered list of leaves (in orgnode, 32-byte statement ids; any bytes are
accepted). Hashing is SHA-256 with domain separation between leaves and interior nodes:

* ``MTH([]) = SHA-256("")``
* ``MTH([d]) = SHA-256(0x00 || d)``
* ``MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))`` for ``n > 1``, where ``k`` is the
  largest power of two smaller than ``n``.

Inclusion proofs (``PATH``, section 2.1.3) and consistency proofs (``PROOF``, section 2.1.4) are
tuples of 32-byte node hashes, in the order the RFC generates them. The verifiers follow the RFC's
verification algorithms (sections 2.1.3.2 and 2.1.4.2) and raise
``RemoteProtocolError(BAD_PROOF, ...)`` on every failure, including malformed arguments; nothing else
escapes them. ``MerkleLog`` keeps a compact frontier (one hash per set bit of the size) so that a
log's root is maintained in O(log n) per appended leaf.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from protocol.errors import BAD_PROOF, LocalProtocolError, RemoteProtocolError

HASH_LEN = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
# Tree sizes are 64-bit (RFC 9162 tree_size is uint64), so no valid proof has more than 64 hashes.
MAX_TREE_SIZE = (1 << 64) - 1
MAX_PROOF_LEN = 64


def leaf_hash(leaf: bytes) -> bytes:
    """``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(LEAF_PREFIX + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


def _root_of_hashes(hashes: Sequence[bytes], lo: int, hi: int) -> bytes:
    """MTH of the leaves whose leaf hashes are ``hashes[lo:hi]``, in one left-to-right pass.

    Perfect subtrees are merged as soon as they are complete (a compact frontier), and the frontier
    is folded right to left at the end, which gives exactly the RFC's split at the largest power of
    two: O(hi - lo) hashes and O(log n) memory.
    """
    if hi <= lo:
        return EMPTY_ROOT
    frontier: list[bytes] = []
    for count, i in enumerate(range(lo, hi)):
        h = hashes[i]
        while count & 1:
            h = node_hash(frontier.pop(), h)
            count >>= 1
        frontier.append(h)
    root = frontier.pop()
    while frontier:
        root = node_hash(frontier.pop(), root)
    return root


def _leaf_hashes(leaves: Sequence[bytes]) -> list[bytes]:
    return [leaf_hash(bytes(leaf)) for leaf in leaves]


def tree_root(leaves: Sequence[bytes]) -> bytes:
    """The Merkle Tree Hash of ``leaves`` (``SHA-256("")`` for no leaves)."""
    return _root_of_hashes(_leaf_hashes(leaves), 0, len(leaves))


# --- proof generation ---------------------------------------------------------------------------


def inclusion_proof(leaves: Sequence[bytes], index: int) -> tuple[bytes, ...]:
    """The audit path ``PATH(index, leaves)`` of RFC 9162 section 2.1.3.1, leaf side first.

    Raises ``LocalProtocolError(BAD_PROOF)`` if ``index`` is not a leaf of the tree.
    """
    n = len(leaves)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise LocalProtocolError(BAD_PROOF, f"no leaf {index!r} in a tree of size {n}")
    hashes = _leaf_hashes(leaves)
    path: list[bytes] = []
    lo, hi, m = 0, n, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(_root_of_hashes(hashes, lo + k, hi))
            hi = lo + k
        else:
            path.append(_root_of_hashes(hashes, lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()  # PATH lists the sibling nearest the leaf first
    return tuple(path)


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> tuple[bytes, ...]:
    """``PROOF(old_size, leaves)`` of RFC 9162 section 2.1.4.1: the tree of ``leaves`` extends its prefix.

    Empty when ``old_size`` is 0 or ``len(leaves)`` (nothing to prove). Raises
    ``LocalProtocolError(BAD_PROOF)`` unless ``0 <= old_size <= len(leaves)``.
    """
    n = len(leaves)
    if isinstance(old_size, bool) or not isinstance(old_size, int) or not 0 <= old_size <= n:
        raise LocalProtocolError(BAD_PROOF, f"no prefix of size {old_size!r} in a tree of size {n}")
    if old_size in (0, n):
        return ()
    hashes = _leaf_hashes(leaves)
    # SUBPROOF(m, D[lo:hi], b), unrolled; the hashes come out root side first, so reverse at the end.
    proof: list[bytes] = []
    lo, hi, m, complete = 0, n, old_size, True
    while True:
        size = hi - lo
        if m == size:
            if not complete:
                proof.append(_root_of_hashes(hashes, lo, hi))
            break
        k = _split(size)
        if m <= k:
            proof.append(_root_of_hashes(hashes, lo + k, hi))
            hi = lo + k
        else:
            proof.append(_root_of_hashes(hashes, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    proof.reverse()
    return tuple(proof)


# --- verification -------------------------------------------------------------------------------


def _fail(detail: str) -> RemoteProtocolError:
    return RemoteProtocolError(BAD_PROOF, detail)


def _size(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_TREE_SIZE:
        raise _fail(f"{name} is not a tree size")
    return value


def _hash(value: Any, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray | memoryview):
        raise _fail(f"{name} is not bytes")
    data = bytes(value)
    if len(data) != HASH_LEN:
        raise _fail(f"{name} is not a {HASH_LEN}-byte hash")
    return data


def _path(proof: Any) -> list[bytes]:
    if isinstance(proof, bytes | bytearray | memoryview | str) or not isinstance(proof, Sequence):
        raise _fail("proof is not a sequence of hashes")
    if len(proof) > MAX_PROOF_LEN:
        raise _fail("proof is too long")
    return [_hash(item, "proof element") for item in proof]


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> None:
    """Check that ``leaf`` is leaf number ``index`` of the tree of ``size`` leaves whose MTH is ``root``.

    The algorithm of RFC 9162 section 2.1.3.2; ``leaf`` is the leaf itself (it is hashed here).
    Raises ``RemoteProtocolError(BAD_PROOF)`` on any failure.
    """
    if not isinstance(leaf, bytes | bytearray | memoryview):
        raise _fail("leaf is not bytes")
    index = _size(index, "index")
    size = _size(size, "size")
    path = _path(proof)
    root = _hash(root, "root")
    if index >= size:
        raise _fail("index is not below the tree size")
    fn, sn = index, size - 1
    r = leaf_hash(bytes(leaf))
    for p in path:
        if sn == 0:
            raise _fail("proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail("proof is too short")
    if r != root:
        raise _fail("proof does not lead to the root")


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """Check that the tree of ``new_size`` leaves (``new_root``) extends the one of ``old_size`` (``old_root``).

    The algorithm of RFC 9162 section 2.1.4.2 for ``0 < old_size < new_size``. The cases the RFC
    leaves to the caller are decided here: equal sizes need equal roots and an empty proof; an empty
    old tree needs ``old_root == SHA-256("")`` and an empty proof (every tree extends it). Raises
    ``RemoteProtocolError(BAD_PROOF)`` on any failure, including ``old_size > new_size``.
    """
    old_size = _size(old_size, "old_size")
    new_size = _size(new_size, "new_size")
    old_root = _hash(old_root, "old_root")
    new_root = _hash(new_root, "new_root")
    path = _path(proof)
    if old_size > new_size:
        raise _fail("old_size is larger than new_size")
    if old_size == new_size:
        if path:
            raise _fail("proof between equal sizes must be empty")
        if old_root != new_root:
            raise _fail("roots of equal sizes differ")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise _fail("root of the empty tree is not SHA-256 of nothing")
        return
    if old_size == 0:
        if path:
            raise _fail("proof from the empty tree must be empty")
        if old_root != EMPTY_ROOT:
            raise _fail("root of the empty tree is not SHA-256 of nothing")
        return
    if not path:
        raise _fail("proof is empty")
    if old_size & (old_size - 1) == 0:  # an exact power of two: the old root is itself a node of the path
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise _fail("proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise _fail("proof is too short")
    if fr != old_root:
        raise _fail("proof does not lead to the old root")
    if sr != new_root:
        raise _fail("proof does not lead to the new root")


# --- incremental root ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MerkleLog:
    """The compact state of an append-only tree: its size and one subtree hash per set bit of it.

    ``frontier`` holds the roots of the perfect subtrees the leaves decompose into, largest (leftmost)
    first. Immutable: ``append`` returns the next state, in O(log n) hashes.
    """

    size: int = 0
    frontier: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        if self.size < 0 or len(self.frontier) != self.size.bit_count():
            raise LocalProtocolError(BAD_PROOF, "frontier does not match the size")

    @classmethod
    def of(cls, leaves: Iterable[bytes]) -> MerkleLog:
        return cls().extend(leaves)

    def append(self, leaf: bytes) -> MerkleLog:
        frontier = list(self.frontier)
        h = leaf_hash(bytes(leaf))
        count = self.size
        while count & 1:
            h = node_hash(frontier.pop(), h)
            count >>= 1
        frontier.append(h)
        return MerkleLog(self.size + 1, tuple(frontier))

    def extend(self, leaves: Iterable[bytes]) -> MerkleLog:
        frontier = list(self.frontier)
        size = self.size
        for leaf in leaves:
            h = leaf_hash(bytes(leaf))
            count = size
            while count & 1:
                h = node_hash(frontier.pop(), h)
                count >>= 1
            frontier.append(h)
            size += 1
        return MerkleLog(size, tuple(frontier))

    def root(self) -> bytes:
        """``tree_root`` of every leaf appended so far."""
        if not self.frontier:
            return EMPTY_ROOT
        root = self.frontier[-1]
        for h in reversed(self.frontier[:-1]):
            root = node_hash(h, root)
        return root
