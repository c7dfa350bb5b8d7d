"""Kind-specific tables kept from the logs: each kind's projector runs in the transaction that
appends (or fills the body of) one of its statements. ``PROJECTORS`` holds the projectors of
statements in the logs, ``FOREIGN_PROJECTORS`` those of statements that arrive re-shared; other
modules register theirs (storage/talent.py: jobs). Org cards and re-shares are projected here."""

from __future__ import annotations

from collections.abc import Callable

import sqlite_utils

from protocol.bodies import OrgCard
from protocol.errors import ProtocolError
from protocol.reshare import verify_reshare
from protocol.statement import Statement
from storage.cards import record_org_card
from storage.foreign import author_blocked, keep_foreign
from storage.key_histories import replicated_history
from storage.peers import follow_card_url

Projector = Callable[[sqlite_utils.Database, Statement, int], None]
PROJECTORS: dict[str, Projector] = {}

ForeignProjector = Callable[[sqlite_utils.Database, Statement, bytes, int], None]
# Projections of statements that arrive re-shared (root statement, the peer that passed it on, now).
FOREIGN_PROJECTORS: dict[str, ForeignProjector] = {}


def projector(kind: str) -> Callable[[Projector], Projector]:
    def register(fn: Projector) -> Projector:
        PROJECTORS[kind] = fn
        return fn

    return register


def project(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    """Run the projector of the statement's kind, if it has one and the body is held."""
    fn = PROJECTORS.get(statement.kind)
    if fn is not None and statement.body is not None:
        fn(db, statement, now)


@projector(OrgCard.KIND)
def _project_own_card(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    """Record a card from its author's own log, and follow its URL when it is the author's latest
    card known here: a partner that moved is contacted at its new address (docs/protocol.md, card
    updates). Cards that arrive re-shared or relayed are recorded elsewhere and never move a peer."""
    record_org_card(db, statement, now)
    latest = list(db.query("SELECT seq FROM org_cards WHERE node_id = ?", [statement.author]))
    if latest and int(latest[0]["seq"]) <= statement.seq:
        follow_card_url(db, statement.author, OrgCard.from_value(statement.body_value()).url)


@projector("reshare")
def _project_reshare(db: sqlite_utils.Database, statement: Statement, now: int) -> None:
    """Keep the re-shared root statement (verified here: a bad one rejects the whole reshare)."""
    verified = verify_reshare(statement)
    root = verified.root
    if author_blocked(db, root.author):
        # Blocked here: the re-sharer's statement is kept (its log must stay contiguous) but the
        # blocked author's statement is not kept, projected or passed on (docs/protocol.md).
        return
    local = replicated_history(db, root.author)
    if local is not None:
        # We replicate this author's log: its key history as we hold it decides, not the (possibly
        # older) card the re-sharer carried — a key rotated away cannot come back through a re-share.
        try:
            local.check_key(root.header.key, root.seq)
        except ProtocolError:
            return
    keep_foreign(db, [root], via=statement.author, via_statement=statement.id, distance=verified.distance,
                 card=verified.author_card, now=now)
    inner = FOREIGN_PROJECTORS.get(root.kind)
    if inner is not None:
        inner(db, root, statement.author, now)
