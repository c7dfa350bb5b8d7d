"""Relaying statements to an organization that is not a direct peer, along the trust path.

When a node learns of a job through a re-share, its author is not on its trust list, yet a
referral (and the job's status replies) must reach it. The sender seals its statements end to end
to the final recipient (HPKE, with the recipient's keys from the org card the re-sharer vouched
for) and hands the sealed box, inside its own private ``relay`` statement, to the next peer on the
path; each peer forwards the same box in a ``relay`` of its own until it reaches ``to``. Relaying
nodes learn who talks to whom about which job (``route``), never the content. The recipient checks
every carried statement against the origin's card bundle, which travels inside the box.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol import PROTOCOL_VERSION
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_map, expect_version
from protocol.errors import MALFORMED, WRONG_AUTHOR, RemoteProtocolError
from protocol.identity import EncryptionPublicKeys, Identity
from protocol.sealing import DEFAULT_SUITE, open_bytes, seal_bytes
from protocol.statement import MAX_BODY_BYTES, MAX_ENVELOPE_BYTES, Envelope, SealedContent, Statement

RELAY_INFO_TAG = b"orgnode/relay/v1\x00"
MAX_TTL = 8
MAX_CARRIED = 8
PAYLOAD_LIMITS = Limits(max_bytes=MAX_BODY_BYTES, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=MAX_CARRIED + 2,
                        max_map_len=0, max_depth=4)


def relay_info(origin: bytes, to: bytes) -> bytes:
    return RELAY_INFO_TAG + origin + to


@dataclass(frozen=True, slots=True)
class Relay:
    KIND: ClassVar[str] = "relay"
    PRIVATE: ClassVar[bool] = True

    origin: bytes
    to: bytes
    route: bytes  # the job id the exchange is about: how relays find the next hop
    ttl: int
    suite: int
    sealed: bytes

    def to_value(self) -> dict[str, Any]:
        return {"origin": self.origin, "to": self.to, "route": self.route, "ttl": self.ttl, "suite": self.suite,
                "sealed": self.sealed}

    @classmethod
    def from_value(cls, value: Any) -> Relay:
        v = expect_map(value, "relay")
        return cls(
            origin=expect_bytes(v.get("origin"), "relay.origin", 32),
            to=expect_bytes(v.get("to"), "relay.to", 32),
            route=expect_bytes(v.get("route"), "relay.route", 16),
            ttl=expect_int(v.get("ttl"), "relay.ttl", 0, MAX_TTL),
            suite=expect_int(v.get("suite"), "relay.suite", 0, 255),
            sealed=expect_bytes(v.get("sealed"), "relay.sealed", max_len=MAX_BODY_BYTES - 512),
        )

    def forwarded(self) -> Relay:
        if self.ttl <= 0:
            raise RemoteProtocolError(MALFORMED, "relay has travelled too far")
        return Relay(self.origin, self.to, self.route, self.ttl - 1, self.suite, self.sealed)


@dataclass(frozen=True)
class Delivered:
    origin: VerifiedCard
    statements: tuple[Statement, ...]


def seal_relay(origin: Identity, card_bundle: bytes, statements: list[Statement], to: bytes, keys: EncryptionPublicKeys,
               route: bytes) -> Relay:
    """Seal ``statements`` (with bodies) of ``origin`` for ``to``; the caller checked it may disclose them."""
    if not 1 <= len(statements) <= MAX_CARRIED:
        raise RemoteProtocolError(MALFORMED, f"a relay carries 1 to {MAX_CARRIED} statements")
    plaintext = encode([PROTOCOL_VERSION, card_bundle, [Envelope.of(s).encode() for s in statements]])
    sealed = seal_bytes(plaintext, to, keys, relay_info(origin.node_id, to), DEFAULT_SUITE)
    return Relay(origin.node_id, to, route, MAX_TTL, sealed.suite, sealed.ciphertext)


def open_relay(relay: Relay, me: Identity) -> Delivered:
    """Open a relay addressed to us and verify what it carries against the origin's card bundle."""
    plaintext = open_bytes(SealedContent(relay.to, relay.suite, relay.sealed), me, relay_info(relay.origin, relay.to))
    items = expect_list(decode(plaintext, PAYLOAD_LIMITS), "relay payload")
    expect_version(items, "relay payload")
    expect_list(items, "relay payload", 3)
    card = verify_bundle(expect_bytes(items[1], "relay.card"), expected_node_id=relay.origin)
    carried = []
    raw_items = expect_list(items[2], "relay.statements")
    if not 1 <= len(raw_items) <= MAX_CARRIED:
        raise RemoteProtocolError(MALFORMED, f"a relay carries 1 to {MAX_CARRIED} statements")
    for raw in raw_items:
        statement = Envelope.decode(expect_bytes(raw, "relay.statement")).open_plain()
        if statement.author != relay.origin:
            raise RemoteProtocolError(WRONG_AUTHOR, "a relay may carry only its origin's statements")
        if statement.body is None:
            raise RemoteProtocolError(MALFORMED, "a relayed statement must carry its body")
        card.history.check_key(statement.header.key, statement.seq)
        carried.append(statement)
    return Delivered(card, tuple(carried))


# --- withdrawals not acknowledged in time (issue 8 item 8) ---------------------------------------

WITHDRAWAL_ACK_MS = 3_600_000  # a relayed withdrawal unanswered by an erasure receipt this long is re-sent
WITHDRAWAL_RETRY_CAP_MS = 86_400_000  # the wait between re-sends doubles up to a day, and re-sends go on
WITHDRAWAL_NO_PATH_RECHECK_MS = 60_000  # a withdrawal with no path yet is looked at again this often


def withdrawal_retry_at(last_sent_at: int, attempts: int) -> int:
    """When a relayed withdrawal sent ``attempts`` times, last at ``last_sent_at``, is due again if no
    erasure receipt has come: WITHDRAWAL_ACK_MS after the first send, then doubling, capped at a day.
    Pure, so the schedule follows whatever clock the caller passes in."""
    if attempts < 1:
        raise ValueError("a withdrawal is retried only after it was sent once")
    return last_sent_at + min(WITHDRAWAL_RETRY_CAP_MS, WITHDRAWAL_ACK_MS << min(attempts - 1, 16))


def next_retry_hop(candidates: list[bytes], tried: list[bytes]) -> bytes | None:
    """The hop for the next re-send: the first candidate not tried yet (a path that swallowed the
    withdrawal is not the first choice again), else the one whose last try lies furthest back, so
    every known path is tried in turn. ``tried`` is in the order the hops were used."""
    if not candidates:
        return None
    untried = [c for c in candidates if c not in tried]
    if untried:
        return untried[0]
    last_use = {hop: i for i, hop in enumerate(tried)}
    return min(candidates, key=lambda c: last_use[c])
