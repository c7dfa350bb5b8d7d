"""JSON written by someone else (a partner's error body, a page's script block, an admin request),
read so that nothing but "not usable" can come out of it.

Why: ``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input and keeps
lone surrogate escapes (``"\\ud800"``) as strings that later fail to encode as UTF-8 in SQLite, a file
or the terminal. The fuzzing of issue 15 found both reaching past the callers' ``except ValueError``:
a partner answering a push with ``[[[[…`` made the client raise instead of reading "no code".
"""

from __future__ import annotations

import json
from typing import Any

from protocol.jobs import has_lone_surrogate


class UnusableJson(ValueError):
    """Not JSON, nested deeper than the parser can read, or holding text that is not Unicode."""


def loads_checked(data: bytes | str) -> Any:
    """The parsed value, or ``UnusableJson`` saying why not (a ValueError, as json's own errors)."""
    try:
        value = json.loads(data)
    except RecursionError as exc:
        raise UnusableJson("it is nested too deeply to read") from exc
    except ValueError as exc:  # JSONDecodeError, and bytes that are not UTF-8
        raise UnusableJson(f"it is not JSON ({exc})") from exc
    if has_lone_surrogate(value):
        raise UnusableJson("it holds a lone surrogate escape (\\ud800-\\udfff not in a pair), which is not Unicode text")
    return value


def loads_or_none(data: bytes | str) -> Any | None:
    """The parsed value, or None when it is not usable JSON (for bodies we only glean a field from)."""
    try:
        return loads_checked(data)
    except UnusableJson:
        return None
