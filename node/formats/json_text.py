"""JSON written by someone else (a partner's error body, a page's script block, an admin request),
read so that nothing but "not usable" can come out of it.

Why: ``json.loads`` raises ``RecursionError`` (not ``ValueError``) on deeply nested input and keeps
lone surrogate escapes (``"\\ud800"``) as strings that later fail to encode as UTF-8 in SQLite, a file
or the terminal. The fuzzing of issue 15 found both reaching past the callers' ``except ValueError``:
a partner answering a push with ``[[[[…`` made the client raise instead of reading "no code".
"""

from __future__ import annotations

import json
import re
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


def posting_input(text: str, file_name: str) -> dict[str, Any]:
    """A JobPosting's text (a `job import` file, a file or text given to the dashboard) as the body of
    ``JobImport``: ``jsonld`` (a JSON document) or ``html`` (a page whose ld+json blocks the node reads).
    JSON nested too deep or holding lone surrogate escapes is refused here, not passed on as a page
    (bench/fuzz_targets.py runs this on hostile files)."""
    from node.core.errors import UserError

    try:
        return {"jsonld": loads_checked(text)}
    except UnusableJson as exc:
        if not re.search(r"<(!doctype|html|head|body|script)\b", text[:65536], re.IGNORECASE):
            raise UserError(f"{file_name} is neither usable JSON ({exc}) nor an HTML page with a "
                            '<script type="application/ld+json"> block: give a JSON-LD file or an HTML page holding the posting') from exc
        return {"html": text}
