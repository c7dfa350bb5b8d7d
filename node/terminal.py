r"""Make text safe to print on a terminal: partners' text must not drive the user's terminal.

Job titles, organization names, notes and reasons come from other nodes. Printed raw, a partner
could embed escape sequences (retitle the window, clear the screen, fake output, hide text with bidi
overrides, forge whole output rows with newlines). Two central defences, so no command can forget:

* ``safe_text`` is applied to every human line the CLI prints (``cli.emit`` and the error line): it
  escapes control and invisible formatting characters, and keeps the CLI's own layout newlines.
* ``one_line_values`` is applied to everything the CLI receives from the admin API before a renderer
  builds text from it: every string value (partner titles, names, notes, reasons) is shown on one line
  (\n, \r, VT, FF, FS/GS/RS, U+0085, U+2028/2029 as visible escapes), so a partner cannot forge a row.
  Only line breaks are escaped there, so columns are still cut on the partner's own text.

JSON output (``--json``) is never passed through either; it stays exact.

Which characters are escaped, and why (the Unicode Cf "format" class, checked one by one):

* C0 controls except \t (and \n in layout), DEL and C1 (incl. U+0085 NEL): terminal escapes, line breaks.
* U+2028 LINE SEPARATOR, U+2029 PARAGRAPH SEPARATOR: line breaks in some terminals and viewers.
* Every Bidi_Control character: U+061C ALM, U+200E LRM, U+200F RLM, U+202A-202E (embeddings,
  overrides), U+2066-2069 (isolates). They reorder what is shown ("gnp.exe" shown as "exe.png").
* Invisible characters that hide or join text: U+00AD soft hyphen, U+180E, U+200B-200D (zero width
  space, ZWNJ, ZWJ), U+2060-2064 (word joiner, invisible operators), U+206A-206F (deprecated format
  controls), U+FEFF (BOM / zero width no-break space), U+FFF9-FFFB (interlinear annotation), U+034F.
  They make two different strings look identical (a spoofed name) or hide text. ZWJ/ZWNJ are needed
  by some scripts and emoji; shown escaped they stay readable and unambiguous, which we prefer for
  text from partners.
* Tag characters U+E0000-E007F (invisible "ASCII smuggling").
Other Cf characters (e.g. Arabic number signs U+0600-0605, U+110BD) are visible marks and are kept.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except \t and \n, DEL, C1 controls, line/paragraph separators, every Bidi_Control
# character, and the invisible format characters that hide or join text (see the module docstring).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u034f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064"
    "\u2066-\u206f\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


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
    return _UNSAFE.sub(_json_escape, text)


def _json_escape(match: re.Match[str]) -> str:
    """``\\uXXXX`` in JSON; a character beyond the BMP as its UTF-16 surrogate pair, as JSON requires."""
    code = ord(match.group())
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


# Every character a terminal or viewer may break a line at: \n, VT, FF, \r, FS/GS/RS, NEL, U+2028/2029.
_LINE_BREAKS = re.compile("[\n\x0b\x0c\r\x1c-\x1e\x85\u2028\u2029]")


def one_line(text: str) -> str:
    r"""``text`` with every line break as a visible escape (``\n``, ``\x0d``, ``\u2028``); nothing else changed."""
    return _LINE_BREAKS.sub(lambda m: "\\n" if m.group() == "\n" else _escape(m), text)


def one_line_values(data: Any) -> Any:
    r"""``data`` (decoded JSON) with every string, keys included, on one line (``one_line``).

    Applied where the CLI receives admin-API answers for human output: values come from partners, and
    a newline in a job title would otherwise start a forged row in ``job list``. Only line breaks are
    escaped here, so renderers still cut columns on the partner's own text; the other controls are
    escaped by ``safe_text`` on the finished text (which leaves these escapes as they are).
    """
    if isinstance(data, str):
        return one_line(data)
    if isinstance(data, list):
        return [one_line_values(v) for v in data]
    if isinstance(data, dict):
        return {one_line_values(k): one_line_values(v) for k, v in data.items()}
    return data
