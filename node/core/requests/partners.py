"""Admin requests of trust, invites, LAN pairing and notes (node/http/admin_api.py, node/lan/admin.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core import fields as F
from node.core.errors import UserError
from protocol.bodies import SECTORS

Body = dict[str, Any]

DEFAULT_INVITE_TTL_MS = 7 * 86_400_000
DEFAULT_BROWSE_S = 3.0


@dataclass(frozen=True, slots=True)
class InviteCreate:
    """POST /invite: a single-use invite, optionally naming the organization expected to use it."""

    ttl_ms: int = DEFAULT_INVITE_TTL_MS
    name: str | None = None
    sector: str | None = None

    @classmethod
    def from_json(cls, b: Body) -> InviteCreate:
        b = F.json_object(b)
        ttl_ms = DEFAULT_INVITE_TTL_MS if b.get("ttl_ms") is None else F.read_int(b["ttl_ms"], "ttl_ms")
        if not F.MIN_INVITE_TTL_MS <= ttl_ms <= F.MAX_INVITE_TTL_MS:
            raise UserError("an invite must expire between 1 minute and 90 days after it is made: give a duration in that range, like 24h or 7d", field="ttl_ms")
        name = F.read_opt_text(b.get("name"), "name")
        if name is not None and (not name.strip() or len(name) > 200):
            raise UserError("name must be the partner organization's name (1 to 200 characters)", field="name")
        sector = F.read_opt_text(b.get("sector"), "sector")
        if sector is not None and sector not in SECTORS:
            raise UserError(f"sector must be one of {', '.join(SECTORS)}", field="sector")
        return cls(ttl_ms, name.strip() if name else None, sector)


@dataclass(frozen=True, slots=True)
class InviteRevoke:
    """POST /invite/revoke."""

    invite_id: str

    @classmethod
    def from_json(cls, b: Body) -> InviteRevoke:
        return cls(F.read_id(F.json_object(b), "invite_id"))


@dataclass(frozen=True, slots=True)
class TrustAccept:
    """POST /trust/accept: an invite token a partner sent."""

    token: str

    @classmethod
    def from_json(cls, b: Body) -> TrustAccept:
        return cls(F.read_text(F.json_object(b).get("token"), "token", max_len=8192))


@dataclass(frozen=True, slots=True)
class PeerRef:
    """POST /trust/remove, /trust/block, /trust/unblock, /trust/approve: a partner's node id (or prefix)."""

    node_id: str

    @classmethod
    def from_json(cls, b: Body) -> PeerRef:
        return cls(F.read_id(F.json_object(b), "node_id"))


@dataclass(frozen=True, slots=True)
class ForkClear:
    """POST /trust/clear-fork: the admin's explicit decision to clear a peer's fork evidence, with why."""

    node_id: str
    reason: str
    admin: str
    confirmed: bool

    @classmethod
    def from_json(cls, b: Body) -> ForkClear:
        b = F.json_object(b)
        reason = F.read_text(b.get("reason"), "reason", max_len=2000).strip()
        if not reason:
            raise UserError("give the reason for clearing the fork evidence (it is recorded for audit)", field="reason")
        if b.get("confirmed") is not True:
            raise UserError("clearing fork evidence needs the admin's explicit confirmation: confirm it (confirmed: true)", field="confirmed")
        admin = F.read_text(b.get("admin"), "admin", default="unknown", max_len=200).strip() or "unknown"
        return cls(F.read_id(b, "node_id"), reason, admin, True)


@dataclass(frozen=True, slots=True)
class TrustRequest:
    """POST /trust/request: ask a node announced on the LAN to pair, after browsing ``seconds``."""

    node_id: str
    seconds: float = DEFAULT_BROWSE_S

    @classmethod
    def from_json(cls, b: Body) -> TrustRequest:
        b = F.json_object(b)
        return cls(F.read_id(b, "node_id"), F.read_seconds(b.get("seconds"), "seconds", DEFAULT_BROWSE_S,
                                                           F.MIN_BROWSE_S, F.MAX_BROWSE_S))


@dataclass(frozen=True, slots=True)
class NotePost:
    """POST /note: a short private message to trusted partners."""

    text: str
    hops: int = 1

    @classmethod
    def from_json(cls, b: Body) -> NotePost:
        b = F.json_object(b)
        text = F.read_text(b.get("text"), "text", max_len=4096)
        if not text.strip():
            raise UserError("a note needs some text: give the note's text", field="text")
        return cls(text, F.parse_hops(b.get("hops")))


@dataclass(frozen=True, slots=True)
class SetUrl:
    """POST /set-url: move the running node to a new URL (and, at the next start, listen address)."""

    url: str
    listen: str | None

    @classmethod
    def from_json(cls, b: Body) -> SetUrl:
        body = F.json_object(b)
        return cls(F.read_text(body.get("url"), "url", max_len=512), F.read_opt_text(body.get("listen"), "listen"))
