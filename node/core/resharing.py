"""Re-sharing: passing a partner's job on to our other partners, within the hops its author allowed.

Why a module of its own: whether to pass a statement on is a consent question (the card we attach is
the identity the next node will judge consent against, docs/protocol.md §12.7), apart from storing it.
``Federation.react`` calls ``maybe_reshare`` for each new statement of a peer.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from node.core.invites import name_key
from node.logs import log_event
from protocol.audience import Audience
from protocol.card_bundle import VerifiedCard, encode_bundle, verify_bundle
from protocol.kinds import is_reshareable
from protocol.reshare import hops_of, make_reshare, reshare_exclusions, reshare_path, verify_reshare
from protocol.statement import Statement

if TYPE_CHECKING:
    from node.core.federation import Federation


def maybe_reshare(fed: Federation, statement: Statement) -> None:
    if statement.author == fed.me or statement.body is None:
        return
    if is_reshareable(statement.kind):
        path = reshare_path(fed.me, statement.author, hops_of(statement))
        if path is not None:
            bundle = fed.card_bundle_of(statement.author)
            if passes_on(fed, statement, verify_bundle(bundle, expected_node_id=statement.author)):
                reshare(fed, statement, bundle, path)
    elif statement.kind == "reshare":
        verified = verify_reshare(statement)
        if fed.peers.is_blocked(verified.root.author):
            return  # a blocked author's content is neither kept nor passed on (docs/protocol.md)
        local = fed.service.log.key_history(verified.root.author)
        if local is not None:
            local.check_key(verified.root.header.key, verified.root.seq)  # same rule as keeping it
        path = reshare_path(fed.me, verified.root.author, verified.hops, verified.path)
        if path is not None and passes_on(fed, verified.root, verified.author_card):
            bundle = encode_bundle(list(verified.author_card.statements))
            reshare(fed, verified.root, bundle, path)


def passes_on(fed: Federation, root: Statement, card: VerifiedCard) -> bool:
    """Whether the card a re-share would carry is the identity this node judges consent against
    for its author (confirmed by our admin, or vouched for at first sight). The receiver vouches
    for the attached card at first sight, so passing on a newer self-declared card (a company now
    calling itself a non-profit) would launder the claim through us (docs/protocol.md §12.7): such
    an author is not re-shared until our admin re-confirms it by pairing again."""
    identity = fed.peers.consent_identity(card.node_id)
    same = identity is not None and card.card.sector == identity.sector and (
        not identity.name or name_key(card.card.name) == name_key(identity.name))
    if not same:
        log_event("reshare.withheld", logging.WARNING, id=root.id, author=card.node_id, code="card-changed")
    return same


def reshare(fed: Federation, root: Statement, bundle: bytes, path: tuple[bytes, ...]) -> None:
    if fed.reshares.has(root.id):
        return
    reshare = make_reshare(root, bundle, path)
    audience = Audience.all_trusted(exclude=reshare_exclusions(root.author, path))
    with fed.service.db.atomic():
        statement = fed.append("reshare", reshare.to_value(), private=True, audience=audience)
        fed.reshares.record(root.id, statement.id, fed.clock())
    log_event("reshare.appended", root=root.id, distance=len(path) + 1)
