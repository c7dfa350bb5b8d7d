"""Ids as users type them: the full hex id, or a unique prefix of at least 8 hex characters."""

from __future__ import annotations

from typing import Any

from node.core.errors import UserError

# Where each kind of id lives, its length in bytes, and the command that lists them.
ID_KINDS: dict[str, tuple[str, str, int, str]] = {
    "NODE_ID": ("peers", "node_id", 32, "orgnode trust list"),
    "JOB_ID": ("jobs", "job_id", 16, "orgnode job list"),
    "CANDIDATE_ID": ("candidates", "candidate_id", 16, "orgnode candidate list"),
    "REFERRAL_ID": ("referrals", "referral_id", 16, "orgnode referral list"),
    "REQUEST_ID": ("referral_requests", "request_id", 16, "orgnode referral pending"),
    "PSEUDONYM": ("match_results", "pseudonym", 16, "orgnode match JOB_ID"),
}


def resolve_id(db: Any, text: str, what: str) -> bytes:
    """The id ``text`` names: its full hex, or the one id of kind ``what`` starting with it."""
    table, column, length, lister = ID_KINDS[what]
    wanted = text.strip().lower()
    if len(wanted) < 8 or len(wanted) > 2 * length or any(c not in "0123456789abcdef" for c in wanted):
        raise UserError(f"{what} is a hex id (its first 8 or more characters are enough); see `{lister}`")
    if len(wanted) == 2 * length:
        return bytes.fromhex(wanted)
    rows = list(db.query(f"SELECT DISTINCT {column} AS v FROM {table} WHERE lower(hex({column})) LIKE ? LIMIT 2",  # noqa: S608
                         [wanted + "%"]))
    if not rows:
        raise UserError(f"no {what.lower().replace('_', ' ')} starts with {wanted}; see `{lister}`")
    if len(rows) > 1:
        raise UserError(f"{wanted} matches more than one {what.lower().replace('_', ' ')}: give more characters")
    return bytes(rows[0]["v"])
