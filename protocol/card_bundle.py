"""The signed org card a node serves at ``/.well-known/orgnode``, verifiable with this package alone.

A bundle is ``[1, [envelope, ...]]``: the author's first statement (its genesis key hashes to the node
id), every ``key_rotation`` in order, and the latest ``org_card``. Verifying rebuilds the key history
and checks the card under the key valid at its sequence number.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.bodies import KeyRotation, OrgCard
from protocol.codec import Limits, decode, encode, expect_bytes, expect_list, expect_version
from protocol.errors import MALFORMED, WRONG_AUTHOR, RemoteProtocolError
from protocol.log import KeyHistory, history_for
from protocol.statement import MAX_ENVELOPE_BYTES, Envelope, Statement

MAX_BUNDLE_STATEMENTS = 64
BUNDLE_LIMITS = Limits(
    max_bytes=MAX_BUNDLE_STATEMENTS * 4096, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=MAX_BUNDLE_STATEMENTS, max_map_len=0, max_depth=3
)


@dataclass(frozen=True, slots=True)
class VerifiedCard:
    node_id: bytes
    card: OrgCard
    statement: Statement
    history: KeyHistory
    statements: tuple[Statement, ...]


def card_statements(log: list[Statement]) -> list[Statement]:
    """What a card bundle carries, from an author's log in order: its first statement, every key
    rotation and its latest org card."""
    if not log:
        return []
    chosen = {log[0].seq: log[0], **{s.seq: s for s in log if s.kind == KeyRotation.KIND}}
    cards = [s for s in log if s.kind == OrgCard.KIND]
    if cards:
        chosen[cards[-1].seq] = cards[-1]
    return [chosen[seq] for seq in sorted(chosen)]


def encode_bundle(statements: list[Statement]) -> bytes:
    return encode([PROTOCOL_VERSION, [Envelope.of(s).encode() for s in statements]])


def verify_bundle(data: bytes, expected_node_id: bytes | None = None) -> VerifiedCard:
    items = expect_list(decode(data, BUNDLE_LIMITS), "card bundle")
    expect_version(items, "bundle")
    expect_list(items, "card bundle", 2)
    raw = expect_list(items[1], "bundle.statements")
    if not raw:
        raise RemoteProtocolError(MALFORMED, "card bundle is empty")
    statements = [Envelope.decode(expect_bytes(e, "bundle.envelope")).open_plain() for e in raw]
    first = statements[0]
    for before, after in itertools.pairwise(statements):
        if after.seq <= before.seq:  # one order, so two verifiers never pick different "latest" cards
            raise RemoteProtocolError(MALFORMED, "a card bundle lists its statements in increasing seq order, each once")
    if any(s.kind not in (KeyRotation.KIND, OrgCard.KIND) for s in statements[1:]):
        raise RemoteProtocolError(MALFORMED, "a card bundle holds only the first statement, key rotations and the org card")
    if first.seq != 1:
        raise RemoteProtocolError(MALFORMED, "a card bundle starts with the author's first statement")
    author = first.author
    if expected_node_id is not None and author != expected_node_id:
        raise RemoteProtocolError(WRONG_AUTHOR, "card bundle is for another node")
    if any(s.author != author for s in statements):
        raise RemoteProtocolError(WRONG_AUTHOR, "card bundle mixes authors")
    rotations = [s for s in statements if s.kind == KeyRotation.KIND]
    history = history_for(first, rotations)
    cards = [s for s in statements if s.kind == OrgCard.KIND]
    if not cards:
        raise RemoteProtocolError(MALFORMED, "card bundle holds no org card")
    latest = max(cards, key=lambda s: s.seq)
    for statement in statements:
        history.check_key(statement.header.key, statement.seq)
    card = OrgCard.from_value(latest.body_value())
    return VerifiedCard(author, card, latest, history, tuple(statements))
