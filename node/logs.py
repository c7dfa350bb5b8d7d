"""Structured logs: one JSON object a line on stderr, with an event name and non-personal fields.

Only identifiers (node ids, statement ids), counts, codes and durations are ever logged; never
names, contact details or free text from candidates or jobs (THREATS row 17). ``log_event`` refuses
field names that suggest personal data, so a careless call fails in tests rather than leaking.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

FORBIDDEN_FIELDS = frozenset({"name", "email", "phone", "text", "title", "description", "note", "profile", "candidate_name"})

_logger = logging.getLogger("orgnode")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": round(record.created, 3), "level": record.levelname.lower(), "event": record.getMessage()}
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, default=str, sort_keys=True)


def configure(level: str = "info", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    _logger.handlers[:] = [handler]
    _logger.setLevel(level.upper())
    _logger.propagate = False


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    bad = FORBIDDEN_FIELDS.intersection(fields)
    if bad:
        raise ValueError(f"refusing to log possibly personal fields: {sorted(bad)}")
    clean = {k: (v.hex()[:16] if isinstance(v, bytes) else v) for k, v in fields.items()}
    _logger.log(level, event, extra={"fields": clean})

