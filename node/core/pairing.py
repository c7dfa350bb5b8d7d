"""The invitee's side of pairing: turn a pasted invite token into mutual trust.

The token's URL is the only address contacted (an admin pasted it); the card fetched there must be
the node the token names, or nothing is trusted.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from node.core.errors import PeerAddressRefused, PeerCertificateRefused, PeerUnavailable, UserError
from node.core.federation import Federation
from node.formats.json_text import loads_or_none
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import ProtocolError
from protocol.invite import InviteToken, PairRequest, invite_proof
from protocol.peer_url import endpoint_url
from storage import peers as P

if TYPE_CHECKING:  # the core takes the HTTP client as a parameter; it never imports aiohttp
    from node.http.client import FederationClient

PAIR_PATH = "/federation/v1/pair"
CARD_PATH = "/.well-known/orgnode"

MAX_PEER_TEXT = 200  # a partner's free text we show: one line, this long at most
PAIR_ERRORS = {
    E.BAD_INVITE: "the inviting node refused the invite: it was already used, or the token is not one it issued. Ask for a new invite",
    E.EXPIRED: "the invite has expired: ask the inviting organization for a new one",
    E.INVITE_REVOKED: "the inviting node's admin revoked this invite: ask the inviting organization for a new one",
    E.CARD_MISMATCH: "this node's org card is not the organization the invite is for: check with the inviting organization",
    E.UNTRUSTED_SENDER: "the inviting node has blocked this node: ask its admin to unblock it, then accept a new invite",
    E.STALE: "the two nodes' clocks differ by more than 5 minutes: fix the system clock (NTP) and try again",
}


async def accept_invite(federation: Federation, client: FederationClient, token_text: str) -> VerifiedCard:
    try:
        token = InviteToken.decode(token_text)
        token.check_not_expired(federation.clock())
    except ProtocolError as exc:
        if exc.code == E.EXPIRED:
            raise UserError(f"{exc.detail}: ask the inviting organization for a new invite", code=exc.code) from exc
        raise UserError(f"{exc.detail}: paste the whole token exactly as `orgnode invite` printed it on the inviting node",
                        code=exc.code) from exc
    if token.node_id == federation.me:
        raise UserError("this invite was made by this very node: give it to a partner organization instead")
    existing = federation.peers.get(token.node_id)
    if existing is not None and existing.state == P.BLOCKED:
        raise UserError(f"that node is blocked here: unblock it first (`orgnode trust unblock {token.node_id.hex()}`), then accept again")
    try:
        card_bytes = await client.get(endpoint_url(token.url, CARD_PATH))
        verify_bundle(card_bytes, expected_node_id=token.node_id)
        request = PairRequest(token.invite_id, invite_proof(token.secret, token.node_id, federation.me, token.invite_id),
                              federation.service.card_bundle())
        answer = await client.post(token.url, PAIR_PATH, token.node_id, request.encode())
    except (PeerAddressRefused, PeerCertificateRefused) as exc:
        raise UserError(f"{exc}; nothing was sent and nothing is trusted; check the invite's address with the inviting organization") from exc
    except PeerUnavailable as exc:
        raise UserError(f"cannot reach the inviting node at {token.url} ({exc}): check the address and that it is running") from exc
    except ProtocolError as exc:
        raise UserError(f"the node at {token.url} is not the one the invite names ({exc.code}): do not trust it; check "
                        "the invite's address with the inviting organization by phone") from exc
    if answer.status != 200:
        message = PAIR_ERRORS.get(answer.error_code or "", f"the inviting node refused ({answer.error_code or answer.status})")
        detail = _refusal_detail(answer.body) if answer.error_code in SPECIFIC_REFUSALS else None
        raise UserError(f"the inviting node refused the invite: {detail}" if detail else message)
    try:
        verified = verify_bundle(answer.body, expected_node_id=token.node_id)
    except ProtocolError as exc:
        raise UserError(f"the inviting node answered with an invalid card ({exc.code}): nothing is trusted; ask its "
                        "operator to check the node (`orgnode status` there), then accept a new invite") from exc
    federation.trust(verified, via="invite")
    return verified


# Refusals whose reason only the inviter knows (its admin revoked the invite, or the accepting
# node's card is not the organization the invite is for): the inviter's own words are shown.
SPECIFIC_REFUSALS = (E.INVITE_REVOKED, E.CARD_MISMATCH)


def _refusal_detail(body: bytes) -> str | None:
    """The inviter's stated reason, on one line and at most 200 characters (a partner's text is shown,
    never trusted); the CLI escapes control characters."""
    value = loads_or_none(body)
    detail = value.get("detail") if isinstance(value, dict) else None
    text = " ".join(detail.split())[:MAX_PEER_TEXT] if isinstance(detail, str) else ""
    return text or None
