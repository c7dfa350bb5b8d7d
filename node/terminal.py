"""Make text safe to print on a terminal: partners' text must not drive the user's terminal.

Job titles, organization names, notes and reasons come from other nodes. Printed raw, a partner
could embed escape sequences (retitle the window, clear the screen, fake output, hide text with bidi
overrides). ``safe_text`` is applied centrally to every human line the CLI prints (``cli.emit`` and
the error line), so no command can forget it. JSON output is never passed through it.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, C1 controls, and the bidi embedding/override/isolate characters.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def safe_text(text: str, multiline: bool = True) -> str:
    r"""Show every control character as a visible escape (``\x1b``, ``\u202e``); keep \t (and \n if ``multiline``).

    Escaping ESC itself defuses every escape sequence (CSI, OSC, ...), since what follows it is plain
    printable text.
    """
    escaped = _UNSAFE.sub(_escape, text)
    return escaped if multiline else escaped.replace("\n", "\\n")


def safe_json_text(text: str) -> str:
    r"""JSON text (from ``json.dumps(..., ensure_ascii=False)``) with DEL, C1 and bidi controls as ``\uXXXX``.

    json.dumps already escapes C0 controls; the others it leaves raw. They can only occur inside
    JSON strings, where ``\uXXXX`` means the same character, so the document stays exactly equal.
    """
    return _UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
