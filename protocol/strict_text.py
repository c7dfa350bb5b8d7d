"""Strict parsers for the protocol values that travel as text (docs/protocol.md 12.2, 12.5).

Python's own parsers are lenient in ways a wire format must not be: ``int()`` accepts ``+5``, `` 5 ``,
``1_000`` and non-ASCII digits (``'٣'``); ``bytes.fromhex`` accepts upper case and spaces; the
``base64`` decoders skip characters outside the alphabet, take ``+``/``/`` for ``-``/``_`` and ignore
non-zero padding bits. Each parser here accepts exactly one spelling of a value (base64url: with or
without its padding), so every implementation agrees on which texts are valid. They raise
``TextFormatError`` (a ``ValueError``); callers turn it into their message's error code.
"""

from __future__ import annotations

import base64
import re

_DECIMAL = re.compile(r"(?:0|[1-9][0-9]{0,18})")
_HEX = re.compile(r"(?:[0-9a-f]{2})*")
_B64URL = re.compile(r"[A-Za-z0-9_-]*(?:={0,2})")
_B64 = re.compile(r"[A-Za-z0-9+/]*(?:={0,2})")
MAX_INT = 2**63 - 1


class TextFormatError(ValueError):
    """A text value is not in the one spelling the protocol allows."""


def parse_decimal(text: str, maximum: int = MAX_INT) -> int:
    """``0`` or ASCII ``1-9`` then ``0-9``: no sign, space, ``_``, leading zero or non-ASCII digit."""
    if not _DECIMAL.fullmatch(text):
        raise TextFormatError("not a decimal number in canonical form")
    value = int(text)
    if value > maximum:
        raise TextFormatError(f"number above {maximum}")
    return value


def parse_hex(text: str, length: int) -> bytes:
    """Exactly ``2 * length`` lower-case hex digits."""
    if len(text) != 2 * length or not _HEX.fullmatch(text):
        raise TextFormatError(f"not {2 * length} lower-case hex digits")
    return bytes.fromhex(text)


def _decode(text: str, pattern: re.Pattern[str], urlsafe: bool) -> bytes:
    if not pattern.fullmatch(text):
        raise TextFormatError("a character outside the base64 alphabet")
    bare = text.rstrip("=")
    if text != bare and len(text) % 4:
        raise TextFormatError("wrong base64 padding")
    if len(bare) % 4 == 1:
        raise TextFormatError("base64 text of impossible length")
    padded = bare + "=" * (-len(bare) % 4)
    if text != bare and padded != text:
        raise TextFormatError("wrong base64 padding")
    raw = base64.urlsafe_b64decode(padded) if urlsafe else base64.b64decode(padded, validate=True)
    again = (base64.urlsafe_b64encode(raw) if urlsafe else base64.b64encode(raw)).decode("ascii").rstrip("=")
    if again != bare:
        raise TextFormatError("non-zero bits in the last base64 character")
    return raw


def decode_base64url(text: str) -> bytes:
    """RFC 4648 section 5 (``A-Z a-z 0-9 - _``), with or without the exact padding, canonical last character."""
    return _decode(text, _B64URL, urlsafe=True)


def decode_base64(text: str) -> bytes:
    """RFC 4648 section 4 (``A-Z a-z 0-9 + /``), same rules as ``decode_base64url``."""
    return _decode(text, _B64, urlsafe=False)
