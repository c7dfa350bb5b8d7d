"""The JSON conventions of every ``--json`` command, applied in one place (docs/cli.md, "JSON conventions").

The admin API answers with the core's field names; scripts read the CLI. So the CLI's JSON is
normalised here, once, on the way out (``node/cli/common.py`` ``emit``; the CLI's JSON is a format of its own, so it lives with the others), rather than by each command:

- times are RFC 3339 UTC strings with milliseconds (``2026-12-02T18:10:00.123Z``) and their keys end
  in ``_at`` (``ts`` for a log entry's own time; a bare ``at`` is named by what happened then);
- a node is ``node_id`` when the object is about one node, ``<role>_node_id`` for a node in a role
  (``author_node_id``, ``holder_node_id``, ``from_node_id``, ``to_node_id``, ``recipient_node_id``…);
- an object is ``<kind>_id`` (``job_id``, ``candidate_id``, ``referral_id``, ``request_id``,
  ``consent_id``, ``invite_id``) and a log entry ``statement_id`` (``<role>_statement_id``, e.g.
  ``prev_statement_id``): a bare ``id`` never appears; a public key is ``signing_key``.

Why here and not in each command: one table is checked by one test (tests/e2e/test_cli_json.py),
and a command added later gets the conventions without knowing them.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

NODE_ID = re.compile(r"[0-9a-f]{64}")

# A key naming a node in a role -> its name under the conventions.
NODE_ROLES = {
    "peer": "node_id", "holder": "holder_node_id", "author": "author_node_id", "from": "from_node_id",
    "to": "to_node_id", "recipient": "recipient_node_id", "exported_by": "exported_by_node_id",
    "by": "by_node_id", "vouched_by": "vouched_by_node_id", "via": "via_node_id",
}
# Other keys renamed: time keys get their ``_at``; an object's id its kind.
RENAMED = {
    "created": "created_at", "expires": "expires_at", "added": "added_at", "last_contact": "last_contact_at",
    "since": "since_at", "until": "until_at", "valid_through": "valid_through_at", "generated_at": "generated_at",
    "own_log_check_since_ms": "own_log_check_since_at",
    "cert_expires": "cert_expires_at", "filled_by": "filled_by_referral_id", "withdrawal_statement": "withdrawal_statement_id",
    "unreachable_since": "unreachable_since_at", "recipients_notified": "notified_node_ids",
    "failed_statement": "failed_statement_id",
}
# Keys renamed only when they hold a hex value: a log entry's ``prev`` names the statement before it
# (``prev_statement_id``), its ``key`` the Ed25519 public key that signed it (``signing_key``); an audit
# bundle's ``subject`` is the referral it is about (``referral_id``).
HEX_RENAMED = {"prev": "prev_statement_id", "key": "signing_key", "new_key": "new_signing_key", "subject": "referral_id"}
HEX = re.compile(r"[0-9a-f]+")
# A bare ``at`` is named by what happened at that moment, by the key of the object (or list) holding it.
AT_BY_PARENT = {
    "history": "changed_at", "disclosures": "disclosed_at", "withdrawal": "sent_at", "erasure_receipt": "received_at",
    "erasure_receipts": "received_at", "match_offers": "offered_at", "referral_requests": "requested_at",
}
AT_DEFAULT = "recorded_at"
# What a bare ``id`` is, by the key of the object (or list of objects) holding it.
ID_BY_PARENT = {
    "candidate": "candidate_id", "consents": "consent_id", "via": "node_id", "referral_requests": "request_id",
    "evidence": "statement_id", "candidates": "candidate_id", "jobs": "job_id", "referrals": "referral_id",
}
# What a bare ``id`` is at the top of a command's answer, by the command's first word(s).
ID_BY_COMMAND = {
    "job": "job_id", "candidate": "candidate_id", "consent": "candidate_id", "referral": "referral_id",
    "refer": "referral_id", "referral pending": "request_id", "referral request": "request_id",
    "referral decline": "request_id", "note": "statement_id", "log": "statement_id", "key": "statement_id",
    "trust history": "statement_id", "set-url": "statement_id", "discover": "node_id", "audit": "referral_id", "job match-candidate": "job_id",
}
# A key holding a hex id rather than an object, by the key: renamed to what it names.
ID_VALUED = {"candidate": "candidate_id", "withdrawal": "withdrawal_statement_id"}
TIME_KEYS = frozenset({"ts", "created_at", "expires_at", "added_at", "last_contact_at", "since_at", "until_at", "valid_through_at"})
# Shown exactly as signed or announced: a statement's ``body`` and a LAN announcement's ``txt`` are
# the federation wire format (docs/protocol.md names), which these conventions do not rename.
VERBATIM = frozenset({"body", "txt"})
DROPPED = frozenset({"time"})  # a statement's ``time`` repeated its ``ts`` as text: ``ts`` is that text now


def rfc3339(ms: int) -> str:
    """Epoch milliseconds as the one time format of the CLI's JSON (and the node's log lines)."""
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def is_time_key(key: str) -> bool:
    return key in TIME_KEYS or key.endswith("_at")


def time_value(value: Any) -> Any:
    """A time as RFC 3339: epoch ms (an int) or an ISO 8601 text of another precision; None stays."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return rfc3339(int(value))
    if isinstance(value, str):
        from node.core.fields import date_ms  # the one date rule (tests/test_layers.py)

        try:
            return rfc3339(date_ms(value, end_of_day=False))
        except ValueError:
            return value
    return value


def id_kind(words: str) -> str:
    """The kind of a bare top-level ``id`` for the command ``words`` (``"referral pending"``)."""
    for prefix in (words, words.split(" ")[0]):
        if prefix in ID_BY_COMMAND:
            return ID_BY_COMMAND[prefix]
    return "statement_id"


def conventions(data: Any, words: str = "") -> Any:
    """``data`` as the CLI prints it with --json: names and times under the conventions."""
    return _walk(data, id_kind(words), "")


def _walk(value: Any, id_name: str, parent: str) -> Any:
    if isinstance(value, list):
        return [_walk(v, id_name, parent) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in VERBATIM:
            out[key] = item
            continue
        name = _key(key, item, value, id_name, parent)
        if name is None:
            continue
        child_id = ID_BY_PARENT.get(key, "statement_id" if key in ("statement", "head") else id_name)
        item = _walk(item, child_id, key)
        out[name] = time_value(item) if is_time_key(name) else item
    return out


def _key(key: str, item: Any, obj: dict[str, Any], id_name: str, parent: str) -> str | None:
    """The key's name under the conventions (None: dropped as a duplicate)."""
    if key in DROPPED and "ts" in obj:
        return None
    if key == "at":
        return AT_BY_PARENT.get(parent, AT_DEFAULT)
    if key in HEX_RENAMED and (item is None or (isinstance(item, str) and HEX.fullmatch(item))):
        return HEX_RENAMED[key]
    if key == "id":
        return None if id_name in obj else id_name
    if key in ID_VALUED and isinstance(item, str) and key + "_id" not in obj:
        return ID_VALUED[key]
    if key in NODE_ROLES and not isinstance(item, list | dict | bool):
        if key == "via" and not (item is None or NODE_ID.fullmatch(str(item))):
            return key  # a partner's ``via`` says how it was added (``lan``, ``invite``), not through whom
        name = NODE_ROLES[key]
        return key + "_node_id" if name in obj and name != key else name
    return RENAMED.get(key, key)
