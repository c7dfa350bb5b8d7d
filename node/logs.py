"""Structured logs: one JSON object a line on stderr, with an event name and non-personal fields.

Only identifiers (node ids, statement ids), counts, codes and durations are ever logged; never
names, contact details or free text from candidates or jobs (THREATS row 17). ``log_event`` refuses
field names that suggest personal data, so a careless call fails in tests rather than leaking.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

FORBIDDEN_FIELDS = frozenset({"name", "email", "phone", "text", "title", "description", "note", "profile", "candidate_name"})

_logger = logging.getLogger("orgnode")


# Libraries whose own log lines must also be JSON (and rate-limited): a flood of connections once
# made aiohttp write multi-line tracebacks at megabytes a second (issue 8 item 11).
LIBRARY_LOGGERS = ("aiohttp.access", "aiohttp.server", "aiohttp.web", "aiohttp.client", "asyncio")
MAX_LINES_PER_SECOND = 5


def rfc3339_ms(seconds: float) -> str:
    """A log line's time as RFC 3339 UTC with milliseconds, the one time format of the CLI's JSON too
    (docs/cli.md, "JSON conventions")."""
    return dt.datetime.fromtimestamp(seconds, dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {"ts": rfc3339_ms(record.created), "level": record.levelname.lower(), "event": record.getMessage()}
        if record.name != _logger.name:
            data["logger"] = record.name
            data["event"] = data["event"][:200]  # library text: bounded, one line (json escapes newlines)
        if record.exc_info and record.exc_info[0] is not None:
            data["error"] = record.exc_info[0].__name__  # the type only: never a traceback
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, default=str, sort_keys=True)


class RateLimit(logging.Filter):
    """At most ``per_second`` lines a second per (logger, message template); the next line that
    passes carries ``suppressed``, the number dropped meanwhile."""

    def __init__(self, per_second: int = MAX_LINES_PER_SECOND) -> None:
        super().__init__()
        self.per_second = per_second
        self._window: dict[tuple[str, str], tuple[int, int, int]] = {}  # key -> (second, passed, dropped)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, str(record.msg))
        second = int(record.created)
        window, passed, dropped = self._window.get(key, (second, 0, 0))
        if window != second:
            window, passed = second, 0
        if passed >= self.per_second:
            self._window[key] = (window, passed, dropped + 1)
            return False
        if dropped:
            record.fields = {**getattr(record, "fields", {}), "suppressed": dropped}
        self._window[key] = (window, passed + 1, 0)
        if len(self._window) > 10_000:
            self._window.clear()
        return True


def configure(level: str = "info", stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimit())
    for logger in (_logger, *(logging.getLogger(name) for name in LIBRARY_LOGGERS)):
        logger.handlers[:] = [handler]
        logger.propagate = False
    _logger.setLevel(level.upper())


def log_event(event: str, level: int = logging.INFO, **fields: Any) -> None:
    bad = FORBIDDEN_FIELDS.intersection(fields)
    if bad:
        raise ValueError(f"refusing to log possibly personal fields: {sorted(bad)}")
    clean = {k: (v.hex()[:16] if isinstance(v, bytes) else v) for k, v in fields.items()}
    _logger.log(level, event, extra={"fields": clean})

