"""Moving a node to a new address (`orgnode set-url`): the new URL goes into the config and into a
new signed org card; partners follow the URL of the latest card in our own log (docs/protocol.md,
card updates), so they contact the new address without being told out of band."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from node.core.errors import UserError
from node.core.service import NodeService
from node.home import Config
from protocol.peer_url import normalise_base_url
from protocol.statement import Statement
from storage.peers import PeerStore


@dataclass(frozen=True, slots=True)
class Move:
    """What `set-url` did: the card it published and whether the listen address changed (restart)."""

    url: str
    listen: str
    card: Statement
    listen_changed: bool


def move_view(moved: Move) -> dict[str, object]:
    """What `set-url` reports (CLI --json and the admin API)."""
    return {"url": moved.url, "listen": moved.listen, "card_seq": moved.card.seq, "listen_changed": moved.listen_changed}


def checked_url(url: str) -> str:
    """``url`` normalised by the base-URL rule partners apply to cards, or a clear error."""
    try:
        return normalise_base_url(url)
    except ValueError as exc:
        raise UserError(f"URL must be a base URL like https://orgnode.example.org (http(s), a host, optional port and "
                        f"path, no user name, query or fragment): {url!r} is not ({exc})", field="url") from exc


def move(service: NodeService, url: str, listen: tuple[str, int] | None) -> Move:
    """Save the new URL (and listen address) and publish a signed org card naming the URL.

    The config is validated and written first: if it is refused nothing is published; the card is
    appended after, so a card never names a URL the config does not hold."""
    service.refuse_if_rolled_back()  # before the config changes: a refused card must leave nothing changed
    old = service.config
    if old.serves_tls and not checked_url(url).lower().startswith("https://"):
        raise UserError(f"give an https:// URL: this node serves HTTPS (tls_cert is set), so partners must reach it "
                        f"at https://…; {url!r} is not one", field="url")
    host, port = listen if listen is not None else (old.listen_host, old.listen_port)
    config = dataclasses.replace(old, url=checked_url(url), listen_host=host, listen_port=port)
    save_config(service, config)
    card = publish_and_queue(service)
    return Move(config.url, config.listen, card, config.listen != old.listen)


def publish_and_queue(service: NodeService) -> Statement:
    """Append the new card and queue it for every trusted partner in one transaction: partners
    cannot pull it from the old address, so the node pushes it from the new one when it starts."""
    peers = PeerStore(service.db)
    with service.db.atomic():
        card = service.publish_org_card()
        peers.enqueue(card.id, card.seq, [p.node_id for p in peers.trusted()], service.clock())
    service.note_high_water()
    return card


def save_config(service: NodeService, config: Config) -> None:
    """The one place `set-url` writes the config (kept small: the file format may change)."""
    service.home.save_config(config)
    service.config = config
