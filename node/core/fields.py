"""The field rules of admin requests (node/core/requests/ builds its models from these).

Each reader takes a request field's JSON value and returns it typed, or raises ``UserError`` naming
the FIELD (``valid_through``), never a CLI flag: the admin client adds the flag (``--valid-through``).

The shared rules live here (or in ``protocol/`` where a peer's statement obeys them too), so each is
written once: the date rule (``parse_date_ms``), the consent rules (``parse_consent``: purposes,
scope items via ``protocol.consent.scope_item_ok``, a required scope, no scope without a purpose),
the hops rule (``protocol.jobs.hops_ok``). The CSV import (node/formats/candidate_csv.py) checks
its cells with the same functions, so a date refused by the API is refused in a CSV row too.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Any

from node.core.errors import UserError
from protocol.bodies import SECTORS
from protocol.consent import PURPOSES, scope_item_ok, split_scope
from protocol.errors import ProtocolError
from protocol.jobs import EMPLOYMENT_TYPES, MAX_HOPS, Location, Salary, hops_ok
from protocol.matching import split_skills

Body = dict[str, Any]

DATE_FORM = "a date like 2027-03-31 (or a time like 2027-03-31T17:00:00Z)"
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})")
MAX_TEXT = 100_000  # longer than any description or evidence an admin types; the socket caps bodies at 4 MB
MAX_DEADLINE_S = 300.0  # a match waits at most this long for partners
MIN_INVITE_TTL_MS, MAX_INVITE_TTL_MS = 60_000, 90 * 86_400_000
MIN_BROWSE_S, MAX_BROWSE_S = 0.5, 30.0
MEDALS = ("silver", "bronze")


# --- the shared rules ------------------------------------------------------------------------------


def date_ms(text: str, *, end_of_day: bool) -> int:
    """The one date rule: ``YYYY-MM-DD`` (the day's first or last second, UTC) or an RFC 3339 time
    with its offset, to ms since the epoch. Raises ValueError; callers say which field was wrong."""
    text = text.strip()
    if _DAY.fullmatch(text):
        day = dt.date.fromisoformat(text)
        moment = dt.datetime.combine(day, dt.time(23, 59, 59) if end_of_day else dt.time(0), dt.UTC)
    elif _RFC3339.fullmatch(text):
        moment = dt.datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    else:
        raise ValueError(text)
    if moment.year < 1970:
        raise ValueError(text)
    return int(moment.timestamp() * 1000)


def parse_date_ms(value: Any, field: str, *, end_of_day: bool = True) -> int | None:
    """``value`` (a request field: a date text, or empty/None for none) as ms, or a UserError naming ``field``."""
    if value is None or value == "":
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return date_ms(value, end_of_day=end_of_day)
    except (ValueError, OverflowError) as exc:
        raise UserError(f"{field} must be {DATE_FORM}", field=field) from exc


def bad_scope_item(items: tuple[str, ...]) -> int | None:
    """The 1-based position of the first scope item that is not all, sector:NAME or node:<64 hex>."""
    return next((i for i, item in enumerate(items, 1) if not scope_item_ok(item)), None)


SCOPE_FORM = f"all, sector:<one of {', '.join(SECTORS)}> or node:<64 hex digits>"
SCOPE_REQUIRED = ('say who may receive the candidate: consent_scope "sector:nonprofit" (or "node:<id>", or "all" '
                  "for any organization, partners' partners included); nothing was recorded")


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """What a candidate agreed to: purposes, who may receive them, until when, and the evidence."""

    purposes: tuple[str, ...] = ()
    scope: str = ""  # space-separated items; never empty when purposes are given
    expires: int | None = None
    evidence: str = ""


NO_CONSENT = ConsentTerms()


def parse_purposes(value: Any) -> tuple[str, ...]:
    """``"match,refer"`` (or a list) -> ("match", "refer"); each among PURPOSES."""
    if isinstance(value, list) and all(isinstance(p, str) for p in value):
        parts = [p.strip().lower() for p in value]
    else:
        parts = [p.lower() for p in re.split(r"[,;\s]+", read_text(value, "consent"))]
    purposes = tuple(dict.fromkeys(p for p in parts if p))
    if any(p not in PURPOSES for p in purposes):
        raise UserError(f"consent purposes must be among {', '.join(PURPOSES)}", field="consent")
    return purposes


AGREED_TO = "say what the candidate agreed to in consent: match,refer (and audit, if they agreed to it)"


def parse_consent(b: Body, *, required: bool = False) -> ConsentTerms:
    """The consent fields of a request (consent, consent_scope, consent_expires, consent_evidence):
    a scope is required when purposes are given (the widest, "all", is never implied), and a scope,
    an expiry or evidence without purposes is refused instead of recording nothing. ``required``:
    the request is about recording a consent, so purposes must be given."""
    purposes = parse_purposes(b.get("consent"))
    if required and not purposes:
        raise UserError(AGREED_TO, field="consent")
    items = split_scope(read_text(b.get("consent_scope"), "consent_scope"))
    position = bad_scope_item(items)
    if position is not None:
        raise UserError(f"consent_scope item {position} is not {SCOPE_FORM}: write each item in that form", field="consent_scope")
    expires = parse_date_ms(b.get("consent_expires"), "consent_expires")
    evidence = read_text(b.get("consent_evidence"), "consent_evidence")
    if purposes and not items:
        raise UserError(SCOPE_REQUIRED, field="consent_scope")
    if not purposes and (items or expires is not None or evidence.strip()):
        raise UserError("consent_scope, consent_expires and consent_evidence describe a consent: also give consent (match,refer)",
                        field="consent")
    return ConsentTerms(purposes, " ".join(items), expires, evidence)


def parse_hops(value: Any, default: int = 1) -> int:
    """The hops rule (protocol.jobs.hops_ok) for a request's ``hops``."""
    hops = default if value is None else read_int(value, "hops")
    if not hops_ok(hops):
        raise UserError(f"hops must be between 1 (direct partners only) and {MAX_HOPS}", field="hops")
    return hops


# --- field readers ---------------------------------------------------------------------------------


def read_text(value: Any, field: str, default: str = "", max_len: int = MAX_TEXT) -> str:
    """A text field; None is ``default``. Numbers are refused rather than guessed at."""
    if value is None:
        return default
    if not isinstance(value, str):
        raise UserError(f"{field} must be text", field=field)
    if len(value) > max_len:
        raise UserError(f"{field} is longer than {max_len} characters", field=field)
    return value


def read_opt_text(value: Any, field: str) -> str | None:
    return None if value is None else read_text(value, field)


def read_int(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float) and not value.is_integer()):
        raise UserError(f"{field} must be a whole number", field=field)
    if abs(value) > 2**53:
        raise UserError(f"{field} is out of range: give a number between -2**53 and 2**53", field=field)
    return int(value)


def read_seconds(value: Any, field: str, default: float, low: float, high: float, *, open_low: bool = False) -> float:
    """A number of seconds within [low, high] (or (low, high] when ``open_low``); None is ``default``."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise UserError(f"{field} must be a number of seconds", field=field)
    if not (low < value if open_low else low <= value) or value > high:
        bound = "more than" if open_low else "at least"
        raise UserError(f"{field} must be {bound} {low:g} and at most {high:g} seconds", field=field)
    return float(value)


def read_flag(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise UserError(f"{field} must be true or false", field=field)
    return value


def read_skills(value: Any, field: str = "skills") -> list[str]:
    """ "a, b; c" or ["a", "b"] -> ["a", "b", "c"]."""
    if isinstance(value, list) and all(isinstance(s, str) for s in value):
        return [s.strip() for s in value if s.strip()]
    return split_skills(read_text(value, field))


def read_id(b: Body, field: str = "id") -> str:
    """An id as the admin typed it (hex, or a unique prefix): resolved by the core."""
    return read_text(b.get(field), field, max_len=200)


def read_salary(value: Any) -> Salary | None:
    """ "EUR 30000-38000/YEAR" or "USD 40/HOUR" (amounts in whole units; stored ×100)."""
    text = read_text(value, "salary")
    if not text:
        return None
    try:
        currency, rest = text.strip().split(" ", 1)
        amounts, _, unit = rest.partition("/")
        lo, _, hi = amounts.partition("-")
        low = round(float(lo) * 100)
        high = round(float(hi) * 100) if hi else low
        return Salary(currency.upper(), low, high, (unit or "YEAR").upper())
    except (ValueError, OverflowError, ProtocolError) as exc:
        raise UserError("salary looks like \"EUR 30000-38000/YEAR\" or \"USD 40/HOUR\"", field="salary") from exc


def read_employment(value: Any) -> tuple[str, ...]:
    types = tuple(t.strip().upper().replace("-", "_") for t in read_text(value, "employment_type").split(",") if t.strip())
    if any(t not in EMPLOYMENT_TYPES for t in types):
        raise UserError(f"employment_type must be among {', '.join(EMPLOYMENT_TYPES)}", field="employment_type")
    return types


def read_location(value: Any) -> Location | None:
    text = read_text(value, "location", max_len=600)
    if not text:
        return None
    parts = [p.strip() for p in text.split(",")]
    return Location(*([*parts, None, None, None])[:3])


def json_object(value: Any) -> Body:
    if not isinstance(value, dict):
        raise UserError("the request body must be a JSON object")
    return value
