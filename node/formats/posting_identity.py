"""How a schema.org JobPosting names itself, so importing the same posting twice does not make two jobs.

A job board gives each posting an ``identifier`` (a PropertyValue ``{name, value}``, or plain text);
a posting without one is known by its own page, ``url``, else ``sameAs``. ``identity`` turns that into
one comparable key; ``names_job`` also recognises this node's own export, whose identifier value is
the job id (node/formats/jobposting.py ``generated_jsonld``). docs/cli.md "orgnode job import" says
what the CLI does with a match (refuse, or replace with ``--update``).
"""

from __future__ import annotations

import json
from typing import Any

from node.formats.json_text import loads_or_none


def _first(value: Any) -> Any:
    return (value[0] if value else None) if isinstance(value, list) else value


def _text(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None


def identity(posting: dict[str, Any]) -> str | None:
    """The posting's own name for itself, as one key (None: it gives none, so it cannot be recognised)."""
    ident = _first(posting.get("identifier"))
    if isinstance(ident, dict):
        value = _text(ident.get("value"))
        if value is not None:
            name = _text(ident.get("name")) or _text(ident.get("propertyID")) or ""
            return f"identifier {name.casefold()}: {value}"
    elif _text(ident) is not None:
        return f"identifier: {_text(ident)}"
    for key in ("url", "sameAs"):
        value = _text(_first(posting.get(key)))
        if value is not None:
            return f"{key}: {value}"
    return None


def stored_identity(posting_text: str | None) -> str | None:
    """The identity of a job's stored original posting (``Job.posting``, JSON text)."""
    value = loads_or_none(posting_text) if posting_text else None
    return identity(value) if isinstance(value, dict) else None


def identifier_value(posting_text: str) -> str | None:
    """The value of the posting's identifier (this node's export puts the job id there)."""
    value = json.loads(posting_text)
    ident = _first(value.get("identifier")) if isinstance(value, dict) else None
    return _text(ident.get("value")) if isinstance(ident, dict) else _text(ident)
