"""Listen addresses as config.toml writes them (``HOST:PORT``) and whether one serves this machine only."""

from __future__ import annotations

import ipaddress


def split_listen(text: str) -> tuple[str, int] | None:
    """``HOST:PORT`` (IPv6 in brackets) as (host, port), or None if it is not of that form."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 <= int(port) <= 65535:
        return None
    return host, int(port)


def is_loopback_host(host: str) -> bool:
    """Whether ``host`` names this machine only: ``localhost`` or a loopback IP (127.0.0.0/8, ::1)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve to anything
