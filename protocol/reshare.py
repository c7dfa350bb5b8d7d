"""Re-sharing a statement beyond the author's direct peers, within the author's hop limit.

When B receives A's statement of a re-shareable kind (a job, a note) whose ``hops`` allows more
travel, B appends its own private ``reshare`` statement carrying: A's statement exactly as signed
(header, signature, salt and body), A's card bundle (so a node that does not know A can check A's
keys: B vouches for it by signing the reshare), and the ``path`` of re-sharers so far, ending
with B. A receiver at distance ``len(path) + 1`` from A accepts it only while that distance is at
most ``hops``; it re-shares further only while ``distance + 1 <= hops``. A's signature verifies at
every hop, and each hop is attributable: the reshare statement is signed by the node that passed
it on. The limit is enforced by every honest node on the path; a dishonest re-sharer can only
over-share content it was already allowed to read, and its signature on the reshare proves it.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol import kinds
from protocol.card_bundle import VerifiedCard, verify_bundle
from protocol.errors import BAD_BODY, HOP_LIMIT, MALFORMED, WRONG_AUTHOR, RemoteProtocolError
from protocol.reshare_body import Reshare
from protocol.statement import Envelope, Statement

MAX_ROOT_BODY = 48 * 1024

# Which kinds may be re-shared is a column of protocol.kinds (the one registry); the ``reshare``
# body type itself is in protocol.reshare_body, so kinds and this module import without a cycle.


@dataclass(frozen=True, slots=True)
class VerifiedReshare:
    root: Statement
    author_card: VerifiedCard
    path: tuple[bytes, ...]
    hops: int

    @property
    def distance(self) -> int:
        """How many trust links separate the receiver of this reshare from the root's author."""
        return len(self.path) + 1

    @property
    def may_travel_further(self) -> bool:
        return self.distance + 1 <= self.hops


def hops_of(statement: Statement) -> int:
    body = kinds.body_of(statement)
    hops = getattr(body, "hops", None)
    if not isinstance(hops, int):
        raise RemoteProtocolError(BAD_BODY, f"{statement.kind} carries no hop limit")
    return hops


def reshare_path(me: bytes, root_author: bytes, hops: int, path: tuple[bytes, ...] = (),
                 reshared_at: int | None = None) -> tuple[bytes, ...] | None:
    """The path of this node's own ``reshare`` of a root it has just obtained, or ``None`` when the
    rules of docs/protocol.md section 14 say it must not re-share: ``path`` is the path the root
    arrived by (``()`` straight from its author). The one place the "when to re-share" rule lives
    (the node's reaction and bench/propagation both call it); dedupe by root is the caller's store.

    ``reshared_at``: the distance at which this node already re-shared the root, for the rule of
    section 14.2 (``reshare-want``): a root is re-shared again only from a strictly smaller distance,
    so a first copy that came the long way does not cut the nodes behind it off the hop limit."""
    if root_author == me or me in path:
        return None
    distance = len(path) + 1  # this node's distance from the root's author
    if distance + 1 > hops or (reshared_at is not None and distance >= reshared_at):
        return None
    return (*path, me)


def worth_wanting(held_at: int | None, offered_at: int, hops: int) -> bool:
    """Section 14.2: whether an offer of a root at distance ``offered_at`` is worth its body to a node
    that holds the root at ``held_at`` (``None``: not held): always when it is missing; when held, only
    from a strictly smaller distance that still lets this node re-share (``offered_at + 1 <= hops``)."""
    if held_at is None:
        return True
    return offered_at < held_at and offered_at + 1 <= hops


def reshare_exclusions(root_author: bytes, path: tuple[bytes, ...]) -> frozenset[bytes]:
    """Who a ``reshare`` of ``path`` is withheld from: the root's author and every node on the path."""
    return frozenset({root_author, *path})


def make_reshare(root: Statement, author_card_bundle: bytes, path: tuple[bytes, ...]) -> Reshare:
    if root.body is None or root.salt is None:
        raise RemoteProtocolError(BAD_BODY, "cannot re-share a statement whose body this node does not hold")
    return Reshare(Envelope.of(root).encode(), author_card_bundle, path)


def verify_reshare(reshare_statement: Statement) -> VerifiedReshare:
    """Check a received (signature-verified, opened) reshare statement and what it carries."""
    reshare = Reshare.from_value(reshare_statement.body_value())
    if reshare.path[-1] != reshare_statement.author:
        raise RemoteProtocolError(WRONG_AUTHOR, "the last node on a reshare path must be the re-sharer")
    card = verify_bundle(reshare.card)
    root = Envelope.decode(reshare.root).open_plain()
    if root.body is None:
        raise RemoteProtocolError(BAD_BODY, "a reshare must carry the root statement's body")
    if len(root.body) > MAX_ROOT_BODY:
        raise RemoteProtocolError(BAD_BODY, "re-shared statement too large")
    if root.author != card.node_id:
        raise RemoteProtocolError(WRONG_AUTHOR, "the carried org card is not the root author's")
    if root.author in reshare.path:
        raise RemoteProtocolError(MALFORMED, "the root's author cannot be on the reshare path")
    card.history.check_key(root.header.key, root.seq)
    if not kinds.is_reshareable(root.kind):
        raise RemoteProtocolError(BAD_BODY, f"{root.kind} statements may not be re-shared")
    hops = hops_of(root)
    verified = VerifiedReshare(root, card, reshare.path, hops)
    if verified.distance > hops:
        raise RemoteProtocolError(HOP_LIMIT, f"re-shared {verified.distance} hops but the author allowed {hops}")
    return verified
