"""JSON views of protocol objects for the CLI and the admin API (bytes as hex, times as ISO 8601)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlite_utils

from protocol.codec import decode
from protocol.statement import BODY_LIMITS, Statement
from storage.log_store import LogStore

INVALID_TIME = "invalid time"  # a stamp no calendar date can show (a partner may sign any ts up to 2**63-1)


def utc_datetime(ms: int) -> dt.datetime | None:
    """``ms`` since the epoch as a UTC datetime, or None when it falls outside years 1..9999."""
    try:
        return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
    except (ValueError, OverflowError, OSError):
        return None


def iso(ms: int) -> str:
    """ISO 8601 (UTC, seconds); total: an out-of-range stamp is shown as ``invalid time``, never raises."""
    when = utc_datetime(ms)
    return INVALID_TIME if when is None else when.isoformat(timespec="seconds").replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def statement_view(statement: Statement, *, include_body: bool = True) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": statement.id.hex(),
        "author": statement.author.hex(),
        "seq": statement.seq,
        "prev": statement.header.prev.hex() if statement.header.prev else None,
        "kind": statement.kind,
        "ts": statement.header.ts,
        "time": iso(statement.header.ts),
        "private": statement.header.private,
        "key": statement.header.key.hex(),
        "body_len": statement.header.body_len,
    }
    if include_body:
        view["body"] = jsonable(decode(statement.body, BODY_LIMITS)) if statement.body is not None else None
    return view


OWN_LOG_PAGE = 1_000  # statements a page of ``GET /log`` (read, viewed and encoded in the reader thread)


def own_statements_page(me: bytes, db: sqlite_utils.Database, after: int | None) -> tuple[list[dict[str, Any]], int] | None:
    """The views of the next ``OWN_LOG_PAGE`` own statements after seq ``after`` and the last seq, or
    None at the end: a page of ``GET /log`` (node/http/json_stream.py), read on ``db`` (a reader's)."""
    statements = LogStore(db).statements(me, after_seq=after or 0, limit=OWN_LOG_PAGE)
    return ([statement_view(s) for s in statements], statements[-1].seq) if statements else None


def peer_view(service: Any, peer: Any, now: int | None = None, health: Any = None) -> dict[str, Any]:
    """A trust-list entry: who the peer is (from its verified org card) and how it behaves. ``now``
    is the node's clock (``Federation.clock``), the one quotas and throttles were recorded with;
    ``health`` (the running node's ``Health``) makes ``last_contact`` its ``last_heard``, as every page says it."""
    from protocol.identity import fingerprint_for

    now = service.clock() if now is None else now
    from storage.cards import CardStore

    declared = CardStore(service.db).declared(peer.node_id)
    card = {"name": declared.name, "sector": declared.sector} if declared else {"name": None, "sector": None}
    from storage.peers import PeerStore

    confirmed = peer.sector is not None
    identity = PeerStore(service.db).consent_identity(peer.node_id)
    return {
        "node_id": peer.node_id.hex(),
        # The name and sector an admin confirmed when trusting the peer: what consent scopes are
        # judged against. A different card declared since (its log, a pairing request) is shown as
        # declared_*, never used. A peer never trusted has nothing confirmed: its card is shown as is.
        "name": peer.name if confirmed and peer.name else card["name"],
        "sector": peer.sector if confirmed else card["sector"],
        "consent_name": identity.name if identity else None,
        "consent_sector": identity.sector if identity else None,  # None: no sector:X scope covers it
        "consent_basis": identity.source if identity else None,  # confirmed (by an admin here) | vouched (by a partner)
        "confirmed": confirmed,
        "declared_name": card["name"],
        "declared_sector": card["sector"],
        "url": peer.url,
        "fingerprint": fingerprint_for(peer.node_id),
        "state": peer.state,
        "via": peer.via,
        "added": iso(peer.added_at),
        "last_contact": iso(heard) if (heard := health.last_heard(peer.node_id, peer.last_contact) if health is not None
                                       else peer.last_contact) else None,
        "score": round(peer.score, 2),
        "invalid_items": peer.invalid_count,
        "throttled": peer.throttled_until > now,
        "forked": peer.node_id in service.log.forked_authors(),
        **quota_view(service, peer.node_id, now),
    }


def changed_card_view(changed: Any) -> dict[str, Any]:
    """An organization known only through a partner whose own card changed since it was vouched for."""
    from protocol.identity import fingerprint_for

    return {
        "node_id": changed.node_id.hex(),
        "fingerprint": fingerprint_for(changed.node_id),
        "consent_name": changed.identity.name,
        "consent_sector": changed.identity.sector,
        "consent_basis": changed.identity.source,
        "vouched_by": changed.vouched_by.hex(),
        "declared_name": changed.declared_name,
        "declared_sector": changed.declared_sector,
    }


def quota_view(service: Any, node_id: bytes, now: int) -> dict[str, Any]:
    """What the peer made this node keep, against its quota (issue 8 item 12); ``over_quota`` when
    data from it was refused as over quota in the last day of the node's clock (``now``)."""
    usage = service.log.peer_usage(node_id, now)
    quota = service.log.quota
    return {
        "usage": {"stored_bytes": usage.stored_bytes, "stored_bytes_quota": quota.stored_bytes,
                  "reshare_bytes_today": usage.reshare_bytes_today, "reshare_bytes_quota": quota.reshare_bytes_per_day,
                  "held": usage.held, "held_quota": quota.held, "refused_over_quota": usage.refused},
        "over_quota": usage.refused_at is not None and now - usage.refused_at < quota.held_ttl_ms,
    }
