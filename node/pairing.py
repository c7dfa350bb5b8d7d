"""The invitee's side of pairing: turn a pasted invite token into mutual trust.

The token's URL is the only address contacted (an admin pasted it); the card fetched there must be
the node the token names, or nothing is trusted.
"""

from __future__ import annotations

from node.clock import now_ms
from node.errors import UserError
from node.federation import Federation
from node.federation_client import FederationClient, PeerAddressRefused, PeerUnavailable
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import ProtocolError
from protocol.invite import InviteToken, PairRequest, invite_proof
from protocol.peer_url import endpoint_url
from storage import peers as P

PAIR_PATH = "/federation/v1/pair"
CARD_PATH = "/.well-known/orgnode"

PAIR_ERRORS = {
    E.BAD_INVITE: "the inviting node refused the invite: it was already used, or the token is not one it issued. Ask for a new invite",
    E.EXPIRED: "the invite has expired: ask the inviting organization for a new one",
    E.UNTRUSTED_SENDER: "the inviting node has blocked this node",
    E.STALE: "the two nodes' clocks differ by more than 5 minutes: fix the system clock (NTP) and try again",
}


async def accept_invite(federation: Federation, client: FederationClient, token_text: str) -> VerifiedCard:
    try:
        token = InviteToken.decode(token_text)
        token.check_not_expired(now_ms())
    except ProtocolError as exc:
        raise UserError(exc.detail) from exc
    if token.node_id == federation.me:
        raise UserError("this invite was made by this very node: give it to a partner organization instead")
    existing = federation.peers.get(token.node_id)
    if existing is not None and existing.state == P.BLOCKED:
        raise UserError("that node is blocked here: unblock it first (`orgnode trust remove`, then accept again)")
    try:
        card_bytes = await client.get(endpoint_url(token.url, CARD_PATH))
        verify_bundle(card_bytes, expected_node_id=token.node_id)
        request = PairRequest(token.invite_id, invite_proof(token.secret, token.node_id, federation.me, token.invite_id),
                              federation.service.card_bundle())
        answer = await client.post(token.url, PAIR_PATH, token.node_id, request.encode())
    except PeerAddressRefused as exc:
        raise UserError(f"{exc}; nothing was sent and nothing is trusted") from exc
    except PeerUnavailable as exc:
        raise UserError(f"cannot reach the inviting node at {token.url} ({exc}): check the address and that it is running") from exc
    except ProtocolError as exc:
        raise UserError(f"the node at {token.url} is not the one the invite names ({exc.code}): do not trust it") from exc
    if answer.status != 200:
        message = PAIR_ERRORS.get(answer.error_code or "", f"the inviting node refused ({answer.error_code or answer.status})")
        raise UserError(message)
    try:
        verified = verify_bundle(answer.body, expected_node_id=token.node_id)
    except ProtocolError as exc:
        raise UserError(f"the inviting node answered with an invalid card ({exc.code})") from exc
    federation.trust(verified, via="invite")
    return verified
