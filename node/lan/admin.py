"""Admin side of LAN pairing: ``trust request`` (ask a discovered node) and ``trust approve``.

Request: the admin names a node id; it must be among the LAN announcements browsed now (the
announced URL is the only address contacted, and only after ``check_lan_url``). The card served
there must name exactly that node id; then a signed ``pair-request`` carries our card bundle and
the target becomes ``pending_out`` here. Approve works only on a ``pending_in`` peer: a signed
``pair-confirm`` carrying our card bundle goes to the URL in the requester's verified card, and
only when the requester accepts it do we trust it; if it cannot be reached nothing changes.

``install`` wires discovery and both route sets into a ``NodeRuntime``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from node.core.errors import UserError
from node.core.federation import Federation
from node.core.pairing import CARD_PATH
from node.core.requests import PeerRef, TrustRequest
from node.core.views import peer_view
from node.http.admin_api import Handler, read
from node.http.client import FederationClient, PeerAddressRefused, PeerUnavailable
from node.http.part import Part
from node.lan.discovery import Found, LanDiscovery, check_lan_url, listens_on_loopback
from node.lan.pairing_api import PAIR_CONFIRM_PATH, PAIR_REQUEST_PATH, LanPairingEndpoints
from node.logs import log_event
from protocol import errors as E
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import ProtocolError
from protocol.lan_pairing import ANSWER_TRUSTED, LanPairAnswer, LanPairConfirm, LanPairRequest
from protocol.peer_url import endpoint_url
from storage import peers as P

if TYPE_CHECKING:
    from node.home import Config

REQUEST_ERRORS = {
    E.UNTRUSTED_SENDER: "the node refused: it has blocked this node",
    E.RATE_LIMITED: "the node is receiving too many pairing requests right now: try again in a minute",
    E.STALE: "the two nodes' clocks differ by more than 5 minutes: fix the system clock (NTP) and try again",
    E.BAD_BODY: "the node cannot use this node's URL (check `--url` at init: it must be reachable from the LAN)",
}
CONFIRM_ERRORS = {
    E.UNTRUSTED_SENDER: "the requesting node no longer expects this approval (it did not ask, or it was removed there); nothing changed",
    E.RATE_LIMITED: "the requesting node is receiving too many pairing requests right now: try again in a minute; nothing changed",
    E.STALE: "the two nodes' clocks differ by more than 5 minutes: fix the system clock (NTP); nothing changed",
    E.CARD_MISMATCH: ("the requesting node refused: this node's org card changed since it asked to pair, and its admin "
                      "saw the old one; it must `orgnode trust request` again. Nothing changed here"),
}


def parse_node_id(text: str) -> str:
    text = text.strip().lower()
    if not 8 <= len(text) <= 64 or any(c not in "0123456789abcdef" for c in text):
        raise UserError("give a node id in hex (at least its first 8 characters), as `orgnode discover` shows it")
    return text


@dataclass
class LanAdmin:
    federation: Federation
    client: FederationClient
    discovery: LanDiscovery
    allow_loopback: bool
    # The federation pairing-request endpoints; None with ``lan_discovery`` off (they are not served).
    endpoints: LanPairingEndpoints | None = None

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("POST", "/trust/request", self.handle_request), ("POST", "/trust/approve", self.handle_approve)]

    def part(self) -> Part:
        """LAN discovery as a lifecycle, the pairing-request endpoints (if on) and the admin routes."""
        federation = tuple(self.endpoints.routes()) if self.endpoints is not None else ()
        return Part("lan", federation, tuple(self.routes()), lifecycle=self.discovery)

    # --- request ---------------------------------------------------------------------------------

    async def find(self, wanted: str, seconds: float) -> Found:
        """The one announcement for the node id (or unique prefix) ``wanted``."""
        results = await self.discovery.browse(seconds, lambda f: f.announcement.node_id.hex() == wanted)
        matches = [f for f in results if f.announcement.node_id.hex().startswith(wanted)]
        if not matches:
            raise UserError(f"no node with id {wanted[:16]} was announced on the LAN within {seconds:g} s: check it is running "
                            "with LAN discovery on this network (`orgnode discover`), or pair with an invite")
        if len({f.announcement.node_id for f in matches}) > 1:
            raise UserError(f"{wanted} matches several announced nodes: give more characters of the node id")
        urls = sorted({f.announcement.url for f in matches})
        if len(urls) > 1:
            raise UserError(f"different URLs are announced for node {wanted[:16]} ({', '.join(urls)}): refusing to guess; pair with an invite")
        return matches[0]

    async def request(self, node_id_text: str, seconds: float) -> dict[str, Any]:
        federation = self.federation
        if not federation.service.config.lan_discovery:
            # The target's approval would arrive at our pair-confirm endpoint, which is not served.
            raise UserError('LAN pairing is off on this node (lan_discovery = false in config.toml): set it to true and '
                            "restart the node, or pair with an invite (`orgnode invite`)")
        wanted = parse_node_id(node_id_text)
        if federation.me.hex().startswith(wanted) and len(wanted) == 64:
            raise UserError("that is this node's own id: give the id of the node you want to pair with")
        found = await self.find(wanted, seconds)
        node_id, url = found.announcement.node_id, found.announcement.url
        if node_id == federation.me:
            raise UserError("that is this node's own id: give the id of the node you want to pair with")
        existing = federation.peers.get(node_id)
        if existing is not None and existing.state == P.BLOCKED:
            raise UserError(f"that node is blocked here: unblock it first (`orgnode trust unblock {node_id.hex()}`), then request again")
        if existing is not None and existing.state == P.TRUSTED:
            raise UserError("that node is already trusted (see `orgnode trust list`)")
        if existing is not None and existing.state == P.PENDING_IN:
            raise UserError(f"that node already asked to pair with this one: compare fingerprints, then `orgnode trust approve {node_id.hex()}`")
        await check_lan_url(url, self.allow_loopback)
        try:
            verified = verify_bundle(await self.client.get(endpoint_url(url, CARD_PATH)), expected_node_id=node_id)
            await check_lan_url(verified.card.url, self.allow_loopback)
            body = LanPairRequest(federation.service.card_bundle()).encode()
            answer = await self.client.post(url, PAIR_REQUEST_PATH, node_id, body)
        except PeerAddressRefused as exc:
            raise UserError(f"{exc}; nothing was sent. If its address cannot change, pair by invite instead "
                            "(`orgnode invite` on one node, `orgnode trust accept TOKEN` on the other)") from exc
        except PeerUnavailable as exc:
            raise UserError(f"cannot reach the node at {url} ({exc}): check that it is running and reachable from "
                            "here, then request again") from exc
        except ProtocolError as exc:
            raise UserError(f"the node at {url} is not the one announced as {node_id.hex()[:16]} ({exc.code}): do not "
                            "trust it; compare node ids with its admin by phone (`orgnode discover` lists what is "
                            "announced) before requesting again") from exc
        if answer.status != 200:
            raise UserError(REQUEST_ERRORS.get(answer.error_code or "", f"the node refused the request ({answer.error_code or answer.status})"))
        try:
            state = LanPairAnswer.decode(answer.body).state
        except ProtocolError as exc:
            raise UserError(f"the node answered the request with something unreadable ({exc.code}): check that both "
                            "nodes run a current orgnode release (`orgnode status`), then request again") from exc
        peer = self._remember(verified)
        log_event("peer.pair-request-sent", peer=node_id, answer=state)
        view = peer_view(federation.service, peer, federation.clock())
        view["answer"] = state
        view["note"] = (
            "it already trusts this node: ask its admin to `orgnode trust remove` it, then request again"
            if state == ANSWER_TRUSTED else "waiting for its admin to approve (`orgnode trust approve`)"
        )
        return view

    def _remember(self, verified: VerifiedCard) -> P.Peer:
        service = self.federation.service
        now = self.federation.clock()
        with service.db.atomic():
            service.log.learn_card(verified, now)
            return self.federation.peers.upsert(verified.node_id, verified.card.url, P.PENDING_OUT, "lan", now)

    # --- approve ---------------------------------------------------------------------------------

    async def approve(self, node_id_text: str) -> dict[str, Any]:
        federation = self.federation
        node_id = federation.resolve_peer(node_id_text)
        peer = federation.peers.get(node_id)
        assert peer is not None
        if peer.state != P.PENDING_IN:
            raise UserError(f"{node_id.hex()[:16]} is not waiting for approval (state {peer.state}): only a pending LAN pairing "
                            "request can be approved (see `orgnode trust pending`)")
        await check_lan_url(peer.url, self.allow_loopback)
        try:
            body = LanPairConfirm(federation.service.card_bundle()).encode()
            answer = await self.client.post(peer.url, PAIR_CONFIRM_PATH, node_id, body)
        except PeerAddressRefused as exc:
            raise UserError(f"{exc}; nothing changed. Ask its admin to announce an address this node can reach "
                            "(`orgnode set-url URL` on that node), then approve again") from exc
        except PeerUnavailable as exc:
            raise UserError(f"cannot reach the requesting node at {peer.url} ({exc}); nothing changed: "
                            "approve again when it is running") from exc
        if answer.status != 200:
            raise UserError(CONFIRM_ERRORS.get(answer.error_code or "", f"the requesting node refused ({answer.error_code or answer.status}); nothing changed"))
        try:
            verified = verify_bundle(answer.body, expected_node_id=node_id)
        except ProtocolError as exc:
            raise UserError(f"the requesting node answered with an invalid card ({exc.code}); nothing changed: check "
                            "that both nodes run a current orgnode release (`orgnode status`), then approve again") from exc
        shown = federation.peers.declared_card(node_id)
        if shown != (verified.card.name, verified.card.sector):
            # The admin approved the card `trust pending` showed; the node now presents another one.
            # Nothing is trusted on it: the new card is recorded (shown by `trust pending`) for review.
            federation.service.log.learn_card(verified, federation.clock())
            raise UserError(f"{node_id.hex()[:16]}'s card changed since it asked: it now says {verified.card.name!r} "
                            f"({verified.card.sector}); nothing was trusted. Check `orgnode trust pending` with its admin, "
                            "then approve again")
        current = federation.peers.get(node_id)
        if current is None or current.state != P.PENDING_IN:
            raise UserError(f"{node_id.hex()[:16]} changed state to {current.state if current else 'unknown'} meanwhile; "
                            "not trusted here: see `orgnode trust list` for its state now")
        trusted = federation.trust(verified, via="lan")
        return peer_view(federation.service, trusted, federation.clock())

    # --- admin API handlers ------------------------------------------------------------------

    async def handle_request(self, request: web.Request) -> web.Response:
        req = await read(request, TrustRequest.from_json)
        return web.json_response(await self.request(req.node_id, req.seconds))

    async def handle_approve(self, request: web.Request) -> web.Response:
        return web.json_response(await self.approve((await read(request, PeerRef.from_json)).node_id))


def lan_admin(config: Config, federation: Federation, client: FederationClient, port: Callable[[], int | None]) -> LanAdmin:
    """LAN discovery and pairing by request for one node; ``port`` is the federation port once listening.

    With ``lan_discovery`` off the federation pairing-request endpoints are not served at all (a
    stranger gets the 404 of any unknown route, and nothing is stored), and ``trust request`` is
    refused; ``trust approve`` of a request taken earlier still works (it only sends).
    """
    allow_loopback = listens_on_loopback(config)
    discovery = LanDiscovery(config, federation.me, port)
    endpoints = (LanPairingEndpoints(federation, allow_loopback, allow_private=config.allow_private_peers)
                 if config.lan_discovery else None)
    return LanAdmin(federation, client, discovery, allow_loopback, endpoints)
