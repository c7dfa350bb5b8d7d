"""Email addresses as people have them: internationalised local parts and domains (RFC 6531/6532, IDNA).

``josé@example.es`` and ``info@bücher.de`` are real addresses; ``zed(at)x``, ``a b@x.org``, ``a@x``
and ``a@@x.org`` are not. We check the shape only (no DNS): the point is to catch typos and cells
in the wrong column, not to prove a mailbox exists.
"""

from __future__ import annotations

import re

# Local part: RFC 5322 dot-atom, widened to any non-ASCII character (RFC 6531 "UTF8-non-ascii").
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]+"
_LOCAL = re.compile(rf"{_ATOM}(\.{_ATOM})*")
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_TLD = re.compile(r"([a-z]{2,63}|xn--[a-z0-9-]{1,59})")


def valid_email(address: str) -> str | None:
    """The address with its domain lower-cased (Unicode kept as written), or None when it is not one."""
    if address.count("@") != 1 or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 0x7F for ch in address):
        return None
    local, domain = address.split("@")
    if not 1 <= len(local.encode()) <= 64 or not _LOCAL.fullmatch(local) or any(_bad_char(ch) for ch in local):
        return None
    ascii_domain = _ascii_domain(domain)
    if ascii_domain is None:
        return None
    return f"{local}@{domain.lower()}"


def _bad_char(ch: str) -> bool:
    """Non-ASCII is allowed in a local part, but not invisible or separator characters (a pasted cell's junk)."""
    import unicodedata

    return ord(ch) >= 0x80 and unicodedata.category(ch)[0] in ("C", "Z")


def _ascii_domain(domain: str) -> str | None:
    """The domain in its ASCII (IDNA) form if every label is a host name label and the TLD is plausible."""
    labels = domain.lower().split(".")
    if len(labels) < 2:
        return None
    encoded = []
    for label in labels:
        try:
            ascii_label = label.encode("idna").decode("ascii") if not label.isascii() else label
        except UnicodeError:
            return None
        if not _LABEL.fullmatch(ascii_label):
            return None
        encoded.append(ascii_label)
    if not _TLD.fullmatch(encoded[-1]) or len(".".join(encoded)) > 253:
        return None
    return ".".join(encoded)
