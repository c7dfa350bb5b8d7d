"""Admin routes for audit bundles and impact reports (the CLI's ``audit export`` and ``impact``), and the
federation routes of witnessable checkpoints (the C2SP checkpoint note, cosignatures for partners)."""

from __future__ import annotations

import base64
from typing import Any

from aiohttp import web

from node.core import path_proofs
from node.core.provenance import Provenance
from node.core.requests import AuditExport, ImpactRequest
from node.http.admin_api import CTX, read
from node.http.part import Part
from node.http.path_api import PATHS
from protocol.impact import Impact
from storage.cards import CardStore

PROVENANCE = web.AppKey("provenance", Provenance)


def impact_view(request: web.Request, impact: Impact, since: int, until: int) -> dict[str, Any]:
    db = request.app[CTX].service.db
    names = {node_id.hex(): name for node_id, name in CardStore(db).names().items()}
    return {
        "organization": request.app[CTX].service.config.name,
        "since": since,
        "until": until,
        **impact.figures,
        "median_days_to_outcome": round(impact.figures["median_seconds_to_outcome"] / 86400, 2),
        "partners": [{"node_id": node, "name": names.get(node), **figures} for node, figures in impact.partners.items()],
    }


async def audit_export(request: web.Request) -> web.Response:
    req = await read(request, AuditExport.from_json)
    from node.http.talent_api import TALENT

    referral_id = request.app[TALENT].resolve(req.id, "REFERRAL_ID")
    data = await path_proofs.export_referral(request.app[PROVENANCE], request.app.get(PATHS), referral_id, req.redact)
    talent = request.app[TALENT]
    row = talent.store.referral(referral_id)
    candidate = talent.store.candidate(row.candidate_id) if row is not None and row.candidate_id is not None else None
    erased = candidate is not None and candidate.erased
    return web.json_response({"bundle": base64.b64encode(data).decode(), "bytes": len(data), "profile_erased": erased})


async def impact(request: web.Request) -> web.Response:
    req = await read(request, ImpactRequest.from_json)
    provenance = request.app[PROVENANCE]
    since, until = req.since, provenance.federation.clock()
    if req.export:
        left_out: list[dict[str, Any]] = []
        data, figures = provenance.export_impact(since, until, left_out=left_out)
        names = CardStore(request.app[CTX].service.db).names()
        left = [{**item, "name": names.get(bytes.fromhex(item["node_id"]))} for item in left_out]
        return web.json_response({"bundle": base64.b64encode(data).decode(),
                                  "report": {**impact_view(request, figures, since, until), "left_out": left},
                                  "live": impact_view(request, await provenance.impact_off_loop(since, until), since, until)})
    return web.json_response(impact_view(request, await provenance.impact_off_loop(since, until), since, until))


async def checkpoint(request: web.Request) -> web.Response:
    statement = request.app[PROVENANCE].checkpoint(force=True)
    assert statement is not None
    return web.json_response({"seq": statement.seq, "id": statement.id.hex()})


NOTE_TYPE = "text/plain"
NOTE_CACHE = "public, max-age=30"


async def checkpoint_note(request: web.Request) -> web.Response:
    """``GET /federation/v1/checkpoint``: the latest own checkpoint as a C2SP note with the cosignatures
    held (docs/protocol.md 18.6). Public, so answered from what is stored and never writing: a stranger's
    request changes nothing (tests/fuzz/test_endpoints.py). Before the node's first checkpoint of its
    current key (the checkpoint timer signs one within ``checkpoint_interval`` of any new statement, a
    key rotation included) the answer is 404."""
    note = request.app[PROVENANCE].cosigning.own_note()
    if note is None:
        return web.Response(status=404, text="no checkpoint of the current key yet: the node signs one within its "
                            "checkpoint interval; ask again later\n", content_type=NOTE_TYPE,
                            headers={"Retry-After": "60"})
    return web.Response(body=note, content_type=NOTE_TYPE, charset="utf-8", headers={"Cache-Control": NOTE_CACHE})


async def cosignature(request: web.Request) -> web.Response:
    """``POST /federation/v1/cosignature`` (signed by a trusted peer): our cosignature over the asker's
    largest checkpoint we cosigned, as a note signed by us alone; 404 if we cosigned none."""
    from node.http.federation_api import authenticate

    origin, _ = await authenticate(request)
    note = request.app[PROVENANCE].cosigning.cosigned_note(origin)
    if note is None:
        return web.Response(status=404, text="no checkpoint of yours cosigned here yet\n", content_type=NOTE_TYPE)
    return web.Response(body=note, content_type=NOTE_TYPE, charset="utf-8")


FEDERATION_ROUTES = [
    ("GET", "/federation/v1/checkpoint", checkpoint_note),
    ("POST", "/federation/v1/cosignature", cosignature),
]

ADMIN_ROUTES = [
    ("POST", "/audit/export", audit_export),
    ("POST", "/impact", impact),
    ("POST", "/checkpoint", checkpoint),
]


def part(provenance: Provenance) -> Part:
    """Audit and impact admin routes, the checkpoint note and cosignature routes, and the checkpoint loop."""
    return Part("provenance", tuple(FEDERATION_ROUTES), tuple(ADMIN_ROUTES), ((PROVENANCE, provenance),), lifecycle=provenance)
