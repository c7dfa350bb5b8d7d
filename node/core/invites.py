"""The invites a node issues and the pairing requests that redeem them (inviter side): making,
listing, revoking and checking one-time invite tokens, and the expected name and sector an admin
can tie an invite to. A mixin of ``Federation``: it uses the federation's peers, clock and trust.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from node.core.errors import UserError
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import RemoteProtocolError
from protocol.invite import InviteToken, PairRequest, check_invite_proof
from storage import peers as P

if TYPE_CHECKING:
    from node.core.clock import Clock, RandomBytes
    from node.core.service import NodeService
    from storage.peers import PeerStore


class Invites:
    """Invite tokens this node issued, and accepting a pairing request made with one."""

    service: NodeService
    peers: PeerStore

    if TYPE_CHECKING:
        @property
        def me(self) -> bytes: ...
        @property
        def clock(self) -> Clock: ...
        @property
        def random(self) -> RandomBytes: ...
        def _trusted(self, node_id: bytes, via: str) -> None: ...
        def _trust_in_transaction(self, verified: VerifiedCard, via: str, now: int) -> P.Peer: ...

    def create_invite(self, ttl_ms: int, expected_name: str | None = None, expected_sector: str | None = None) -> InviteToken:
        """A one-time invite; ``expected_name``/``expected_sector`` are what the admin expects the
        partner's card to say (a partner whose card differs is refused at accept, with the reason)."""
        now = self.clock()
        token = InviteToken(self.service.config.url, self.me, self.random(16), self.random(32), now + ttl_ms)
        self.peers.add_invite(token.invite_id, token.secret, now, token.expires_at,
                              expected_name=expected_name, expected_sector=expected_sector)
        log_event("invite.created", expires_at=token.expires_at)
        return token

    def revoke_invite(self, text: str) -> P.InviteRow:
        """Revoke an outstanding invite by its id (or a unique 8+ hex prefix): it is refused at accept."""
        invite = self.find_invite(text)
        if invite.used_at is not None:
            raise UserError(f"invite {invite.invite_id.hex()[:16]} was already used: remove the peer instead (`orgnode trust remove`)")
        if invite.revoked_at is not None:
            raise UserError(f"invite {invite.invite_id.hex()[:16]} is already revoked; nothing changed (see `orgnode invite list`)")
        self.peers.revoke_invite(invite.invite_id, self.clock())
        log_event("invite.revoked", invite=invite.invite_id)
        found = self.peers.invite(invite.invite_id)
        assert found is not None
        return found

    def find_invite(self, text: str) -> P.InviteRow:
        wanted = text.strip().lower()
        if len(wanted) < 8 or any(c not in "0123456789abcdef" for c in wanted):
            raise UserError("give the invite id from `orgnode invite list` (its 32 hex characters or the first 8+)")
        matches = [i for i in self.peers.invites() if i.invite_id.hex().startswith(wanted)]
        if not matches:
            raise UserError(f"no invite {wanted} (see `orgnode invite list`)")
        if len(matches) > 1:
            raise UserError(f"{wanted} matches {len(matches)} invites: give more characters")
        return matches[0]

    def accept_pair(self, origin: bytes, request: PairRequest, verified: VerifiedCard | None = None) -> VerifiedCard:
        """Inviter side: check the invite and the invitee's card (verified once by the caller), then trust it."""
        now = self.clock()
        if verified is None:
            verified = verify_bundle(request.card_bundle, expected_node_id=origin)
        invite = self.peers.invite(request.invite_id)
        if invite is None:
            raise RemoteProtocolError(E.BAD_INVITE, "unknown invite: it was never issued by this node")
        check_invite_proof(invite.secret, self.me, origin, request.invite_id, request.proof)
        if invite.revoked_at is not None:
            raise RemoteProtocolError(E.INVITE_REVOKED, "this invite was revoked by the inviting node's admin: ask for a new one")
        if now > invite.expires_at:
            raise RemoteProtocolError(E.EXPIRED, "this invite has expired: ask for a new one")
        self._check_expected(invite, verified)
        # One transaction: the invite is used up exactly when the peer becomes trusted (a blocked
        # node is refused by the trust list itself, and then the invite stays unused).
        with self.service.db.atomic():
            if not self.peers.use_invite(request.invite_id, origin, now):
                raise RemoteProtocolError(E.BAD_INVITE, "this invite was already used")
            self._trust_in_transaction(verified, "invite", now)
        self._trusted(verified.node_id, "invite")
        return verified

    def _check_expected(self, invite: P.InviteRow, verified: VerifiedCard) -> None:
        """Refuse a partner whose card is not what the inviting admin said it expects; the reason is
        returned to the invitee and kept on the invite (`orgnode invite list`)."""
        problems = []
        if invite.expected_name is not None and name_key(verified.card.name) != name_key(invite.expected_name):
            problems.append(f"name {verified.card.name!r}, but the invite is for {invite.expected_name!r}")
        if invite.expected_sector is not None and verified.card.sector != invite.expected_sector:
            problems.append(f"sector {verified.card.sector!r}, but the invite is for sector {invite.expected_sector!r}")
        if problems:
            reason = "the accepting node's org card says " + " and ".join(problems)
            self.peers.refuse_invite(invite.invite_id, reason[:300])
            log_event("invite.refused", logging.WARNING, invite=invite.invite_id, peer=verified.node_id)
            raise RemoteProtocolError(E.CARD_MISMATCH, f"{reason[:300]}: nothing was trusted; check with the inviting "
                                                       "organization which organization the invite is for")


def name_key(name: str) -> str:
    """Names compare case- and whitespace-insensitively ("Open  Hands" is "open hands")."""
    return " ".join(name.split()).casefold()
