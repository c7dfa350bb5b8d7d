"""Ids as users type them: the full hex id, or a unique prefix of at least 8 hex characters."""

from __future__ import annotations

from typing import Any

from node.core.errors import UserError
from storage.lookup import ids_with_prefix

# Each kind of id: its length in bytes and the command that lists them (where it is stored:
# storage/lookup.py).
ID_KINDS: dict[str, tuple[int, str]] = {
    "NODE_ID": (32, "orgnode trust list"),
    "JOB_ID": (16, "orgnode job list"),
    "CANDIDATE_ID": (16, "orgnode candidate list"),
    "REFERRAL_ID": (16, "orgnode referral list"),
    "REQUEST_ID": (16, "orgnode referral pending"),
    "PSEUDONYM": (16, "orgnode match JOB_ID"),
}


def resolve_id(db: Any, text: str, what: str) -> bytes:
    """The id ``text`` names: its full hex, or the one id of kind ``what`` starting with it."""
    length, lister = ID_KINDS[what]
    wanted = text.strip().lower()
    if len(wanted) < 8 or len(wanted) > 2 * length or any(c not in "0123456789abcdef" for c in wanted):
        raise UserError(f"{what} is a hex id (its first 8 or more characters are enough); see `{lister}`")
    if len(wanted) == 2 * length:
        return bytes.fromhex(wanted)
    rows = ids_with_prefix(db, what, wanted)
    if not rows:
        raise UserError(f"no {what.lower().replace('_', ' ')} starts with {wanted}; see `{lister}`")
    if len(rows) > 1:
        raise UserError(f"{wanted} matches more than one {what.lower().replace('_', ' ')}: give more characters")
    return rows[0]
