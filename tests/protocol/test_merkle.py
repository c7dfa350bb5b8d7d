"""RFC 9162 section 2.1 Merkle trees: reference vectors, a recursive oracle, tampering and fuzzing."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ALL_CODES, BAD_PROOF, LocalProtocolError, RemoteProtocolError
from protocol.merkle import (
    EMPTY_ROOT,
    MerkleLog,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_root,
    verify_consistency,
    verify_inclusion,
)

FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- reference vectors --------------------------------------------------------------------------
# The Certificate Transparency test inputs and results, as published by transparency-dev/merkle
# (testonly/constants.go: LeafInputs, RootHashes; proof/verify_test.go: inclusionProofs,
# consistencyProofs), the same values used by the C++ and Go CT implementations. Recomputed and
# checked here against the RFC 9162 definition.

CT_LEAVES = [
    bytes.fromhex(h)
    for h in (
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    )
]

# CT_ROOTS[n] is the root of the first n leaves.
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]

# (index, size, proof); indices are 0-based (transparency-dev lists them 1-based).
CT_INCLUSION = [
    (0, 1, []),
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (
        1,
        5,
        [
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]

# (old_size, new_size, proof)
CT_CONSISTENCY = [
    (1, 1, []),
    (
        1,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


def _hexes(proof: tuple[bytes, ...]) -> list[str]:
    return [h.hex() for h in proof]


def _code(call: Any, *args: Any) -> str | None:
    """None if the call verifies, else the code it failed with (anything but RemoteProtocolError escapes)."""
    try:
        call(*args)
    except RemoteProtocolError as exc:
        return exc.code
    return None


def test_hash_primitives() -> None:
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]
    assert leaf_hash(b"").hex() == CT_ROOTS[1]
    assert node_hash(leaf_hash(b""), leaf_hash(b"\x00")).hex() == CT_ROOTS[2]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_reference_roots(size: int) -> None:
    assert tree_root(CT_LEAVES[:size]).hex() == CT_ROOTS[size]
    assert MerkleLog.of(CT_LEAVES[:size]).root().hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("index", "size", "proof"), CT_INCLUSION)
def test_reference_inclusion(index: int, size: int, proof: list[str]) -> None:
    assert _hexes(inclusion_proof(CT_LEAVES[:size], index)) == proof
    root = bytes.fromhex(CT_ROOTS[size])
    verify_inclusion(CT_LEAVES[index], index, size, [bytes.fromhex(h) for h in proof], root)


@pytest.mark.parametrize(("old", "new", "proof"), CT_CONSISTENCY)
def test_reference_consistency(old: int, new: int, proof: list[str]) -> None:
    assert _hexes(consistency_proof(CT_LEAVES[:new], old)) == proof
    old_root, new_root = bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new])
    verify_consistency(old, new, old_root, new_root, [bytes.fromhex(h) for h in proof])


# --- an oracle written straight from the RFC's recursive definitions ----------------------------


def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return hashlib.sha256(b"\x00" + d[0]).digest()
    k = _k(len(d))
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = _k(len(d))
    return [*_path(m, d[:k]), _mth(d[k:])] if m < k else [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = _k(n)
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def _leaves(n: int, seed: int = 0) -> list[bytes]:
    return [hashlib.sha256(seed.to_bytes(8, "big") + i.to_bytes(8, "big")).digest() for i in range(n)]


def test_matches_recursive_definition() -> None:
    d = _leaves(40)
    log = MerkleLog()
    for n in range(41):
        assert tree_root(d[:n]) == _mth(d[:n]) == log.root(), n
        if n < 40:
            log = log.append(d[n])
        for m in range(n):
            assert list(inclusion_proof(d[:n], m)) == _path(m, d[:n])
        for m in range(1, n):
            assert list(consistency_proof(d[:n], m)) == _subproof(m, d[:n], True)


def test_merkle_log_is_incremental() -> None:
    d = _leaves(1000, seed=7)
    log = MerkleLog.of(d[:300])
    assert log.size == 300 and len(log.frontier) == bin(300).count("1")
    assert log.extend(d[300:]).root() == tree_root(d)
    with pytest.raises(LocalProtocolError):
        MerkleLog(3, (bytes(32),))


def test_large_log_root() -> None:
    d = _leaves(100_000, seed=1)
    root = tree_root(d)
    assert MerkleLog.of(d).root() == root
    verify_inclusion(d[54_321], 54_321, len(d), inclusion_proof(d, 54_321), root)
    verify_consistency(65_537, len(d), tree_root(d[:65_537]), root, consistency_proof(d, 65_537))


def test_generators_refuse_impossible_requests() -> None:
    d = _leaves(5)
    for bad in (-1, 5, 6):
        with pytest.raises(LocalProtocolError) as info:
            inclusion_proof(d, bad)
        assert info.value.code == BAD_PROOF
    for bad in (-1, 6):
        with pytest.raises(LocalProtocolError):
            consistency_proof(d, bad)
    assert consistency_proof(d, 0) == consistency_proof(d, 5) == ()


# --- edge cases of verification -----------------------------------------------------------------


def test_inclusion_edge_cases() -> None:
    leaf = b"data"
    h = leaf_hash(leaf)
    verify_inclusion(leaf, 0, 1, [], h)  # a one-leaf tree's root is the leaf hash
    for index, size in ((0, 0), (1, 0), (1, 1), (2, 1), (-1, 1), (0, -1), (0, 1 << 64)):
        assert _code(verify_inclusion, leaf, index, size, [], h) == BAD_PROOF
    assert _code(verify_inclusion, leaf, 0, 1, [], h[:31]) == BAD_PROOF
    assert _code(verify_inclusion, leaf, 0, 1, [h], h) == BAD_PROOF
    assert _code(verify_inclusion, leaf, True, 2, [h], h) == BAD_PROOF


def test_inclusion_is_checked_against_a_size_and_root_pair() -> None:
    # The proof for leaf 0 of 3 leaves has the same shape as one for leaf 0 of 4, so it also "verifies"
    # as size 4 against the size-3 root. A verifier must take size and root from the same checkpoint;
    # with the genuine size-4 root it fails.
    d = _leaves(4)
    proof = inclusion_proof(d[:3], 0)
    verify_inclusion(d[0], 0, 4, proof, tree_root(d[:3]))
    assert _code(verify_inclusion, d[0], 0, 4, proof, tree_root(d)) == BAD_PROOF


def test_a_subtree_root_is_not_the_root_of_a_larger_tree() -> None:
    # The path of leaf 0 of 2 leads to the size-2 root, which is also the left subtree of size 3 and 4:
    # claiming the larger size with that root must fail (the proof is too short for it).
    d = _leaves(5)
    r2, r4 = tree_root(d[:2]), tree_root(d[:4])
    verify_inclusion(d[0], 0, 2, inclusion_proof(d[:2], 0), r2)
    for size in (3, 4):
        assert _code(verify_inclusion, d[0], 0, size, inclusion_proof(d[:2], 0), r2) == BAD_PROOF
    proof = consistency_proof(d[:4], 2)
    verify_consistency(2, 4, r2, r4, proof)
    assert _code(verify_consistency, 2, 5, r2, r4, proof) == BAD_PROOF


def test_consistency_edge_cases() -> None:
    r1, r2 = _mth([b"a"]), _mth([b"a", b"b"])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(0, 5, EMPTY_ROOT, r2, [])  # every tree extends the empty one
    verify_consistency(1, 1, r1, r1, [])
    bad_cases: list[tuple[int, int, bytes, bytes, list[bytes]]] = [
        (0, 0, r1, r1, []),  # the empty tree has one root
        (0, 0, EMPTY_ROOT, r1, []),
        (0, 1, r1, r1, []),
        (0, 1, EMPTY_ROOT, r1, [EMPTY_ROOT]),  # proof must be empty
        (1, 1, r1, r2, []),  # equal sizes, different roots
        (1, 1, r1, r1, [r1]),
        (1, 0, r1, r1, []),  # time travel
        (2, 1, r2, r1, []),
        (1, 2, r1, r2, []),  # empty proof
        (-1, 2, r1, r2, []),
        (1, 1 << 64, r1, r2, [r1]),
        (1, 2, r1[:16], r2, [leaf_hash(b"b")]),
    ]
    for case in bad_cases:
        assert _code(verify_consistency, *case) == BAD_PROOF, case
    verify_consistency(1, 2, r1, r2, [leaf_hash(b"b")])


# --- property tests -----------------------------------------------------------------------------


def _flipped(data: bytes, at: int) -> bytes:
    at %= len(data)
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


@FAST
@given(size=st.integers(1, 300), seed=st.integers(0, 2**32), pick=st.integers(0, 2**32), at=st.integers(0, 63))
def test_inclusion_properties(size: int, seed: int, pick: int, at: int) -> None:
    d = _leaves(size + 1, seed)
    leaves, root = d[:size], tree_root(d[:size])
    for index in range(size):
        verify_inclusion(leaves[index], index, size, inclusion_proof(leaves, index), root)

    index = pick % size
    proof = inclusion_proof(leaves, index)
    leaf = leaves[index]
    for i in range(len(proof)):
        tampered = [*proof[:i], _flipped(proof[i], at), *proof[i + 1 :]]
        assert _code(verify_inclusion, leaf, index, size, tampered, root) == BAD_PROOF
    assert _code(verify_inclusion, _flipped(leaf, at), index, size, proof, root) == BAD_PROOF
    assert _code(verify_inclusion, leaf, index, size, proof, _flipped(root, at)) == BAD_PROOF
    for other in {index - 1, index + 1, index ^ 2, size}:
        assert _code(verify_inclusion, leaf, other, size, proof, root) == BAD_PROOF, other
    if proof:
        assert _code(verify_inclusion, leaf, index, size, proof[:-1], root) == BAD_PROOF
        assert _code(verify_inclusion, leaf, index, size, proof[1:], root) == BAD_PROOF
    assert _code(verify_inclusion, leaf, index, size, [*proof, root], root) == BAD_PROOF
    assert _code(verify_inclusion, leaf, index, size, [root, *proof], root) == BAD_PROOF
    # Another size, with that size's genuine root: only the honest proof for it could verify.
    for other_size in {size - 1, size + 1, size * 2, size // 2} - {size}:
        if index < other_size <= len(d):
            other_root = tree_root(d[:other_size])
            honest = inclusion_proof(d[:other_size], index) == proof
            assert (_code(verify_inclusion, leaf, index, other_size, proof, other_root) is None) == honest


@FAST
@given(new=st.integers(1, 300), old_pick=st.integers(0, 2**32), seed=st.integers(0, 2**32), at=st.integers(0, 63))
def test_consistency_properties(new: int, old_pick: int, seed: int, at: int) -> None:
    d = _leaves(new + 1, seed)
    old = old_pick % (new + 1)
    roots = {n: tree_root(d[:n]) for n in {old, new, old - 1, old + 1, new - 1, new + 1} if 0 <= n <= len(d)}
    proof = consistency_proof(d[:new], old)
    verify_consistency(old, new, roots[old], roots[new], proof)

    for i in range(len(proof)):
        tampered = [*proof[:i], _flipped(proof[i], at), *proof[i + 1 :]]
        assert _code(verify_consistency, old, new, roots[old], roots[new], tampered) == BAD_PROOF
    assert _code(verify_consistency, old, new, _flipped(roots[old], at), roots[new], proof) == BAD_PROOF
    if old > 0:  # from the empty tree nothing about the new root is provable
        assert _code(verify_consistency, old, new, roots[old], _flipped(roots[new], at), proof) == BAD_PROOF
    if proof:
        assert _code(verify_consistency, old, new, roots[old], roots[new], proof[:-1]) == BAD_PROOF
        assert _code(verify_consistency, old, new, roots[old], roots[new], [*proof, proof[0]]) == BAD_PROOF
        assert _code(verify_consistency, old, new, roots[old], roots[new], [proof[0], *proof]) == BAD_PROOF
    if old != new:
        assert _code(verify_consistency, old, new, roots[new], roots[old], proof) == BAD_PROOF
    assert _code(verify_consistency, new + 1, new, roots[new + 1], roots[new], proof) == BAD_PROOF
    # Other sizes with their genuine roots: only the honest proof for those sizes could verify.
    for o2, n2 in {(old - 1, new), (old + 1, new), (old, new - 1), (old, new + 1)} - {(old, new)}:
        if 0 <= o2 <= n2 <= len(d) and o2 in roots and n2 in roots:
            honest = consistency_proof(d[:n2], o2) == proof
            assert (_code(verify_consistency, o2, n2, roots[o2], roots[n2], proof) is None) == honest, (o2, n2)


# --- fuzzing: the verifiers only ever raise RemoteProtocolError ---------------------------------

_junk: st.SearchStrategy[Any] = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=4), st.binary(max_size=40), st.binary(min_size=32, max_size=32)
)
_hash_like = st.one_of(st.binary(min_size=32, max_size=32), _junk)
_size_like = st.one_of(st.integers(-3, 300), st.integers(), _junk)
_proof_like = st.one_of(st.lists(_hash_like, max_size=12), st.lists(st.binary(min_size=32, max_size=32), max_size=70), _junk)


def _only_remote(call: Any, *args: Any) -> None:
    try:
        call(*args)
    except RemoteProtocolError as exc:
        assert exc.code in ALL_CODES
        assert exc.code == BAD_PROOF


@settings(max_examples=300, deadline=None)
@given(leaf=_hash_like, index=_size_like, size=_size_like, proof=_proof_like, root=_hash_like)
def test_fuzz_verify_inclusion(leaf: Any, index: Any, size: Any, proof: Any, root: Any) -> None:
    _only_remote(verify_inclusion, leaf, index, size, proof, root)


@settings(max_examples=300, deadline=None)
@given(old=_size_like, new=_size_like, old_root=_hash_like, new_root=_hash_like, proof=_proof_like)
def test_fuzz_verify_consistency(old: Any, new: Any, old_root: Any, new_root: Any, proof: Any) -> None:
    _only_remote(verify_consistency, old, new, old_root, new_root, proof)
