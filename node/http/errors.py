"""Mapping protocol error codes to HTTP statuses and error bodies, for both APIs."""

from __future__ import annotations

from aiohttp import web

from protocol import errors as E

STATUS_FOR_CODE = {
    E.MALFORMED: 400,
    E.NOT_OFFERED: 404,
    E.UNKNOWN_VERSION: 400,
    E.BAD_BODY: 400,
    E.BAD_PREV: 400,
    E.GAP: 409,
    E.FORK: 409,
    E.TOO_LARGE: 413,
    E.BAD_SIGNATURE: 401,
    E.WRONG_AUTHOR: 403,
    E.UNKNOWN_KEY: 403,
    E.UNTRUSTED_SENDER: 403,
    E.WRONG_RECIPIENT: 421,
    E.STALE: 401,
    E.REPLAY: 409,
    E.RATE_LIMITED: 429,
    E.BAD_INVITE: 403,
    E.EXPIRED: 410,
    E.HOP_LIMIT: 400,
    E.REJECTED_BASE: 409,
    E.DECRYPT_FAILED: 400,
    E.BAD_PROOF: 400,
    E.JOB_NOT_HELD: 409,
    E.MATCH_QUOTA: 429,
    E.OVER_QUOTA: 507,
    E.INVITE_REVOKED: 410,
    E.CARD_MISMATCH: 403,
    E.DISK_FULL: 507,
    E.PATH_UNREACHABLE: 502,
}


def error_response(code: str, detail: str, status: int | None = None, field: str | None = None) -> web.Response:
    """A JSON error body ``{"error": code, "detail": ...}`` (plus ``field``, the request field to blame,
    when one is). ``detail`` must never hold personal data."""
    body = {"error": code, "detail": detail, **({"field": field} if field else {})}
    return web.json_response(body, status=status or STATUS_FOR_CODE.get(code, 400))
