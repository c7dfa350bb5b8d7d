"""Where a job travelled, from what this node knows: which partners hold its latest version, who passed
it on and how many steps from its author, and who beyond our partners answered or referred for it.

Why a module of its own: the facts are spread over the outbox (a partner's row leaves it once the
partner acknowledged the statement, by answering a push or by a pull's have vector), the re-share
records and statements (``reshared``; a partner's signed ``reshare`` carries the path it took), the
foreign statements (the partner a re-shared or relayed statement came through, and its distance),
match answers and referrals from organizations beyond our partners. ``job_travel`` reads them into
one ``Travel`` (names, not ids, for the dashboard); ``holders_now`` asks our partners who holds our job
through their re-shares (the same ``path/holders`` call a match beyond partners makes), on request.
Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from node.core.errors import UserError
from protocol.errors import ProtocolError
from protocol.reshare import verify_reshare
from storage.foreign import foreign_route

if TYPE_CHECKING:
    from node.core.path_calls import PathCalls
    from node.core.talent import Talent

DELIVERED, WAITING, NOT_CONFIRMED = "delivered", "waiting", "not-confirmed"


@dataclass(frozen=True, slots=True)
class Delivery:
    """One partner and the job's latest version (ours, or our re-share of a partner's job)."""

    node_id: bytes
    name: str | None
    state: str  # DELIVERED | WAITING (still in the outbox) | NOT_CONFIRMED (partnered since: gets it when it asks)
    since: int | None  # WAITING: when it was queued; DELIVERED: the partner's last contact


@dataclass(frozen=True, slots=True)
class Sighting:
    """An organization that holds the job: ``path`` the organizations it went through from its author
    (author first, the holder last, as far as known); ``how`` what told us."""

    node_id: bytes
    name: str | None
    path: tuple[tuple[bytes, str | None], ...]
    how: str  # "passed-on" (a partner's signed re-share) | "answered" (a match offer) | "referred" | "holds" (asked now)

    @property
    def steps(self) -> int:
        """Trust steps from the job's author to this organization."""
        return max(1, len(self.path) - 1)


@dataclass(frozen=True, slots=True)
class Travel:
    job_id: bytes
    title: str
    mine: bool
    version: int
    hops: int
    author: bytes
    author_name: str | None
    arrived_via: bytes | None  # a partner's job: the partner it came through (None: from its author directly)
    arrived_via_name: str | None
    arrived_steps: int  # a partner's job: steps from its author to us (1: directly)
    deliveries: tuple[Delivery, ...]  # to our partners: ours, or our re-share of a partner's job
    passed_on_by_us: int | None  # a partner's job: when we passed it on (None: not passed on)
    sightings: tuple[Sighting, ...]


def job_travel(talent: Talent, job_id: bytes) -> Travel:
    """Everything this node knows about where ``job_id`` went (ours) or came from and went on (a partner's)."""
    row = talent.store.job(job_id)
    if row is None:
        raise UserError("no such job here: it may have been removed, or never reached this node; see `orgnode job list` for the jobs it holds")
    me, name = talent.me, talent.org_name
    mine = row.author == me
    route = foreign_route(talent.db, row.statement_id) if not mine else None
    reshare = talent.federation.reshares.reshare_of(row.statement_id) if not mine else None
    if mine:
        statement = talent.federation.service.log.get(row.statement_id)
        deliveries = _deliveries(talent, row.statement_id, statement.header.ts if statement else row.job.date_posted)
    elif reshare is not None:
        deliveries = _deliveries(talent, reshare[0], reshare[1], skip={row.author})
    else:
        deliveries = ()
    sightings = [*_passed_on(talent, row.statement_id, row.author), *(_answered(talent, job_id) if mine else ())]
    first: dict[bytes, Sighting] = {}
    for sighting in sightings:
        first.setdefault(sighting.node_id, sighting)  # the first word on each organization
    return Travel(job_id=job_id, title=row.job.title, mine=mine, version=row.job.version, hops=row.job.hops,
                  author=row.author, author_name=name(row.author), arrived_via=route[0] if route else None,
                  arrived_via_name=name(route[0]) if route else None, arrived_steps=route[1] if route else 1,
                  deliveries=deliveries, passed_on_by_us=reshare[1] if reshare else None, sightings=tuple(first.values()))


def _deliveries(talent: Talent, statement_id: bytes, posted_at: int, skip: set[bytes] | None = None) -> tuple[Delivery, ...]:
    """Each trusted partner against the outbox: queued and unacknowledged, acknowledged, or partnered after."""
    peers = talent.federation.peers
    waiting = peers.waiting_for(statement_id)
    out = []
    for peer in peers.trusted():
        if skip and peer.node_id in skip:
            continue
        name = peer.name or talent.org_name(peer.node_id)
        if peer.node_id in waiting:
            out.append(Delivery(peer.node_id, name, WAITING, waiting[peer.node_id]))
        elif peer.added_at <= posted_at:
            out.append(Delivery(peer.node_id, name, DELIVERED, talent.federation.health.last_heard(peer.node_id, peer.last_contact)))
        else:
            out.append(Delivery(peer.node_id, name, NOT_CONFIRMED, None))
    return tuple(out)


def _passed_on(talent: Talent, root_id: bytes, author: bytes) -> list[Sighting]:
    """Partners whose signed re-share of the job we hold: each passed it on, ``path`` long from the author."""
    out = []
    for statement in talent.federation.service.log.of_kind("reshare"):
        if statement.body is None:
            continue
        try:
            verified = verify_reshare(statement)
        except ProtocolError:
            continue
        if verified.root.id != root_id:
            continue
        path = (author, *verified.path)  # the path ends with the partner that signed this re-share
        out.append(Sighting(statement.author, talent.org_name(statement.author),
                            tuple((n, talent.org_name(n)) for n in dict.fromkeys(path)), "passed-on"))
    return out


def _answered(talent: Talent, job_id: bytes) -> list[Sighting]:
    """Organizations beyond our partners that referred someone for, or answered a match on, our job."""
    me, trusted = talent.me, {p.node_id for p in talent.federation.peers.trusted()}
    out = []
    for referral in talent.store.referrals():
        if referral.job_id != job_id or referral.job_author != me or referral.referrer in trusted:
            continue
        route = foreign_route(talent.db, referral.statement_id) if referral.statement_id else None
        middle = ((route[0], talent.org_name(route[0])),) if route else ()
        out.append(Sighting(referral.referrer, talent.org_name(referral.referrer),
                            ((me, talent.org_name(me)), *middle, (referral.referrer, talent.org_name(referral.referrer))),
                            "referred"))
    for holder, _ in talent.store.match_holders(job_id):
        if holder not in trusted and holder != me:
            out.append(Sighting(holder, talent.org_name(holder), ((me, talent.org_name(me)), (holder, talent.org_name(holder))),
                                "answered"))
    return out


async def holders_now(talent: Talent, calls: PathCalls, job_id: bytes) -> tuple[Sighting, ...]:
    """Ask our partners who holds our job through their re-shares now (only a job allowed 2 steps or more)."""
    from node.core.path_match import find_holders
    from protocol.card_bundle import verify_bundle

    row = talent.own_job(job_id)
    if row.job.hops < 2:
        return ()
    found = await find_holders(talent, calls, row.statement_id, row.job.hops)
    out = []
    for node_id, holder in found.items():
        try:
            claimed: str | None = verify_bundle(holder.card_bundle, expected_node_id=node_id).card.name
        except ProtocolError:
            continue
        names = {node_id: claimed}
        out.append(Sighting(node_id, talent.org_name(node_id) or claimed,
                            tuple((n, talent.org_name(n) or names.get(n)) for n in (talent.me, *holder.path)), "holds"))
    return tuple(out)
