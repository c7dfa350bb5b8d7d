"""The ``proofs`` path call (docs/protocol.md 17.7, "op = proofs"): a referrer asks the employer it reached through the
trust path for what an audit bundle needs of the employer's side, and checks what comes back.

Request content: ``[1, [statement_id, ...]]``, the employer's statements the referrer holds (the job,
the referral request, the statuses). Reply content: ``[1, card_bundle, checkpoint_envelope,
[[statement_id, [hash, ...]], ...]]``: the employer's card, a checkpoint of its log covering them and
an RFC 9162 inclusion proof for each against it. The referrer checks every proof before it uses one,
so a bundle it exports verifies offline with the same checks as one between partners.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.codec import Limits, decode, encode, expect_bytes, expect_list, expect_version
from protocol.errors import BAD_BODY, BAD_PROOF, MALFORMED, RemoteProtocolError
from protocol.merkle import verify_inclusion
from protocol.provenance import Checkpoint
from protocol.statement import MAX_ENVELOPE_BYTES, Envelope, Statement

MAX_PROVED = 64
PROOF_LIMITS = Limits(max_bytes=MAX_ENVELOPE_BYTES * 2, max_bin_len=MAX_ENVELOPE_BYTES, max_array_len=MAX_PROVED,
                      max_map_len=0, max_depth=5)


def encode_request(statement_ids: list[bytes]) -> bytes:
    if not 1 <= len(statement_ids) <= MAX_PROVED:
        raise RemoteProtocolError(MALFORMED, f"a proofs call names 1 to {MAX_PROVED} statements")
    return encode([PROTOCOL_VERSION, statement_ids])


def decode_request(data: bytes) -> list[bytes]:
    items = expect_list(decode(data, PROOF_LIMITS), "proofs request")
    expect_version(items, "proofs request")
    expect_list(items, "proofs request", 2)
    ids = [expect_bytes(i, "proofs.statement", 32) for i in expect_list(items[1], "proofs.statements")]
    if not 1 <= len(ids) <= MAX_PROVED:
        raise RemoteProtocolError(MALFORMED, f"a proofs call names 1 to {MAX_PROVED} statements")
    return ids


@dataclass(frozen=True)
class EmployerProofs:
    card_bundle: bytes
    checkpoint: Statement
    proofs: dict[bytes, tuple[bytes, ...]]

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.card_bundle, Envelope.of(self.checkpoint).encode(),
                       [[sid, list(path)] for sid, path in self.proofs.items()]])


def decode_reply(data: bytes) -> EmployerProofs:
    items = expect_list(decode(data, PROOF_LIMITS), "proofs reply")
    expect_version(items, "proofs reply")
    expect_list(items, "proofs reply", 4)
    checkpoint = Envelope.decode(expect_bytes(items[2], "proofs.checkpoint")).open_plain()
    proofs: dict[bytes, tuple[bytes, ...]] = {}
    for raw in expect_list(items[3], "proofs.list"):
        parts = expect_list(raw, "proof", 2)
        proofs[expect_bytes(parts[0], "proof.statement", 32)] = tuple(
            expect_bytes(h, "proof.path[]", 32) for h in expect_list(parts[1], "proof.path"))
    return EmployerProofs(expect_bytes(items[1], "proofs.card"), checkpoint, proofs)


def check_reply(reply: EmployerProofs, employer: bytes, statements: list[Statement]) -> VerifiedCard:
    """Every statement is proven included in the employer's checkpoint, signed by a key of its card."""
    card = verify_bundle(reply.card_bundle, expected_node_id=employer)
    cp = reply.checkpoint
    if cp.author != employer or cp.kind != Checkpoint.KIND or cp.body is None:
        raise RemoteProtocolError(BAD_BODY, "the proofs reply carries no checkpoint of the employer")
    card.history.check_key(cp.header.key, cp.seq)
    body = Checkpoint.from_value(cp.body_value())
    for statement in statements:
        path = reply.proofs.get(statement.id)
        if path is None or statement.seq > body.size:
            raise RemoteProtocolError(BAD_PROOF, "the employer's checkpoint does not cover a statement the bundle needs")
        verify_inclusion(statement.id, statement.seq - 1, body.size, path, body.root)
    return card
