"""One-time invite tokens and the proof an invitee gives when it accepts one.

A token carries the inviter's endpoint, node id, an invite id and a 32-byte secret. The invitee
proves it holds the secret without sending it: ``HMAC-SHA256(secret, INVITE_PROOF_TAG || inviter ||
invitee || invite_id)``; binding both node ids means a proof cannot be reused by another node or for
another inviter. The inviter keeps the secret, the expiry and whether the invite was used.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass

from protocol import PROTOCOL_VERSION
from protocol.codec import Limits, decode, encode, expect_bytes, expect_int, expect_list, expect_str, expect_version
from protocol.errors import BAD_INVITE, EXPIRED, UNKNOWN_VERSION, RemoteProtocolError
from protocol.identity import fingerprint_for
from protocol.peer_url import base_url_problem
from protocol.strict_text import TextFormatError, decode_base64url

TOKEN_PREFIX = "orgnode1:"
TOKEN_SPACE = " \t\r\n"  # what may surround a pasted token; nothing else is stripped (section 12.5)
INVITE_PROOF_TAG = b"orgnode/invite-proof/v1\x00"
SECRET_LEN = 32
INVITE_ID_LEN = 16
TOKEN_LIMITS = Limits(max_bytes=2048, max_str_len=512, max_bin_len=64, max_array_len=8, max_map_len=0, max_depth=2)
PAIR_LIMITS = Limits(max_bytes=128 * 1024, max_str_len=512, max_bin_len=96 * 1024, max_array_len=8, max_map_len=0, max_depth=2)


@dataclass(frozen=True, slots=True)
class InviteToken:
    url: str
    node_id: bytes
    invite_id: bytes
    secret: bytes
    expires_at: int

    @property
    def fingerprint(self) -> str:
        return fingerprint_for(self.node_id)

    def encode(self) -> str:
        raw = encode([PROTOCOL_VERSION, self.url, self.node_id, self.invite_id, self.secret, self.expires_at])
        return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> InviteToken:
        text = text.strip(TOKEN_SPACE)
        if not text.startswith(TOKEN_PREFIX):
            raise RemoteProtocolError(BAD_INVITE, f"an invite token starts with {TOKEN_PREFIX!r}")
        body = text[len(TOKEN_PREFIX) :]
        try:
            raw = decode_base64url(body)
        except TextFormatError as exc:
            raise RemoteProtocolError(BAD_INVITE, "the invite token is damaged (not base64)") from exc
        try:
            items = expect_list(decode(raw, TOKEN_LIMITS), "invite")
            expect_version(items, "invite")
            expect_list(items, "invite", 6)
            token = cls(
                url=expect_str(items[1], "invite.url", 512),
                node_id=expect_bytes(items[2], "invite.node_id", 32),
                invite_id=expect_bytes(items[3], "invite.id", INVITE_ID_LEN),
                secret=expect_bytes(items[4], "invite.secret", SECRET_LEN),
                expires_at=expect_int(items[5], "invite.expires_at"),
            )
        except RemoteProtocolError as exc:
            if exc.code in (UNKNOWN_VERSION,):
                raise
            raise RemoteProtocolError(BAD_INVITE, "the invite token is damaged or incomplete: copy the whole token again") from exc
        problem = base_url_problem(token.url)
        if problem:  # the inviter's address is a base URL only (section 12.1)
            raise RemoteProtocolError(BAD_INVITE, f"the invite's URL is not a usable node address: {problem}")
        return token

    def check_not_expired(self, now: int) -> None:
        if now > self.expires_at:
            raise RemoteProtocolError(EXPIRED, "this invite has expired: ask the inviting organization for a new one")


def invite_proof(secret: bytes, inviter: bytes, invitee: bytes, invite_id: bytes) -> bytes:
    return hmac.new(secret, INVITE_PROOF_TAG + inviter + invitee + invite_id, hashlib.sha256).digest()


def check_invite_proof(secret: bytes, inviter: bytes, invitee: bytes, invite_id: bytes, proof: bytes) -> None:
    if not hmac.compare_digest(invite_proof(secret, inviter, invitee, invite_id), proof):
        raise RemoteProtocolError(BAD_INVITE, "invite proof does not match: the token was forged or altered")


@dataclass(frozen=True, slots=True)
class PairRequest:
    """``[1, invite_id, proof, card_bundle]``: body of ``POST /federation/v1/pair``."""

    invite_id: bytes
    proof: bytes
    card_bundle: bytes

    def encode(self) -> bytes:
        return encode([PROTOCOL_VERSION, self.invite_id, self.proof, self.card_bundle])

    @classmethod
    def decode(cls, data: bytes) -> PairRequest:
        items = expect_list(decode(data, PAIR_LIMITS), "pair request")
        expect_version(items, "pair")
        expect_list(items, "pair request", 4)
        return cls(
            invite_id=expect_bytes(items[1], "pair.invite_id", INVITE_ID_LEN),
            proof=expect_bytes(items[2], "pair.proof", 32),
            card_bundle=expect_bytes(items[3], "pair.card_bundle", max_len=96 * 1024),
        )


