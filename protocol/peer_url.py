"""The peer base URL rule (docs/protocol.md section 12.1): what an org card or invite may name as a node's address.

A peer's URL is only ever a *base*: scheme, host, optional port and an optional path prefix. The
node appends its own endpoint paths (``/federation/v1/push``, ``/.well-known/orgnode``, ...) to it.
Userinfo, a query, a fragment, dot segments, empty segments and percent-escapes are refused, so a
partner cannot choose what we send beyond the host it names (SSRF, issue 8 item 10). Which
*addresses* may be contacted is decided at connect time by the node (``node/http/client.py``).
Pure: no DNS, no I/O.
"""

from __future__ import annotations

import ipaddress
import re

MAX_URL_LEN = 512
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_SEGMENT = re.compile(r"^[A-Za-z0-9._~-]+$")
_SCHEMES = ("http", "https")


def _split(url: str) -> tuple[str, str, str]:
    """``(scheme, authority, path)`` of ``scheme://authority/path`` (no urllib: this layer is pure)."""
    scheme, sep, rest = url.partition("://")
    cut = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    return (scheme.lower(), rest[:cut], rest[cut:]) if sep else ("", "", url)


def base_url_problem(url: str) -> str | None:
    """Why ``url`` is not a valid peer base URL (a short English reason), or None if it is one."""
    if len(url) > MAX_URL_LEN:
        return f"it is longer than {MAX_URL_LEN} characters"
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in url):
        return "it contains spaces, control or non-ASCII characters"
    scheme, authority, path = _split(url)
    if scheme not in _SCHEMES:
        return "only http:// and https:// URLs are allowed"
    if "@" in authority:
        return "it contains a user name or password (userinfo)"
    if "?" in url:
        return "it has a query (?...)"
    if "#" in url:
        return "it has a fragment (#...)"
    if "\\" in url or "%" in url:
        return "it contains a backslash or a percent-escape"
    host, port, problem = _host_and_port(authority)
    if problem:
        return problem
    if port is not None and (not port.isdigit() or int(port) > 65535):
        return "its port is not a number from 0 to 65535"
    return _host_problem(host, authority) or _path_problem(path)


def _host_and_port(authority: str) -> tuple[str, str | None, str | None]:
    """Host (lower-cased, without brackets), the port text if there is a ``:``, or a problem."""
    if authority.startswith("["):
        host, bracket, after = authority[1:].partition("]")
        if not bracket or (after and not after.startswith(":")):
            return "", None, "its host is not a valid IPv6 address"
        return host.lower(), (after[1:] if after else None), None
    host, colon, port = authority.partition(":")
    if ":" in port:
        return "", None, "its host is not a valid DNS name or IP address"
    return host.lower(), (port if colon else None), None


def _host_problem(host: str, netloc: str) -> str | None:
    if not host:
        return "it has no host"
    if netloc.startswith("["):
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            return "its host is not a valid IPv6 address"
        return None
    labels = host.rstrip(".").split(".") if host != "." else [""]
    if len(host) > 253 or not all(_LABEL.match(label) for label in labels):
        return "its host is not a valid DNS name or IP address"
    if labels[-1].isdigit() or labels[-1].startswith("0x"):  # numeric forms: only canonical dotted IPv4
        try:
            if str(ipaddress.IPv4Address(host)) != host:
                return "its host is not a canonical IPv4 address"
        except ValueError:
            return "its host is not a canonical IPv4 address"
    return None


def _path_problem(path: str) -> str | None:
    """A path prefix is empty, ``/``, or ``/seg/seg`` (one optional trailing ``/``) of plain segments."""
    trimmed = path[:-1] if path.endswith("/") else path
    if not trimmed:
        return None
    segments = trimmed.split("/")[1:]
    if not all(_SEGMENT.match(s) and s not in (".", "..") for s in segments):
        return "its path prefix has empty, dot ('.', '..') or unusual segments"
    return None


def normalise_base_url(url: str) -> str:
    """The canonical form of a valid base URL: lower-case scheme and host, no trailing ``/``.

    Raises ``ValueError`` with the reason if ``url`` is not a valid base URL.
    """
    problem = base_url_problem(url)
    if problem:
        raise ValueError(problem)
    scheme, authority, path = _split(url)
    return f"{scheme}://{authority.lower()}{path.rstrip('/')}"


def endpoint_url(base_url: str, path: str) -> str:
    """``path`` (one of our own endpoints, starting with ``/``) appended to the normalised base URL."""
    assert path.startswith("/")
    return normalise_base_url(base_url) + path
