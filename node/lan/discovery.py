"""LAN discovery over mDNS/DNS-SD with python-zeroconf: advertise this node, browse for others.

Design. While ``orgnode run`` runs with ``lan_discovery`` and ``lan_advertise`` on, ``LanDiscovery`` registers one
``_orgnode._tcp.local.`` service whose TXT record (``protocol.lan_pairing.LanAnnouncement``) holds
only public facts: protocol version, node id, fingerprint, org name and public URL. The instance and
host names are derived from the node id, never from the machine's hostname. Registration runs in
a background task, so a slow or silent network never delays start-up.

Browsing (``browse``) listens for a bounded time and returns the announcements it could parse.
It is passive: nothing found is fetched, contacted or trusted (THREATS row 10). Only an admin's
``orgnode trust request NODE_ID`` contacts a discovered URL, and only after ``check_lan_url`` has
refused unspecified, multicast and (unless this node itself listens on loopback) loopback hosts.

Interfaces: ``Config.lan_interface`` (an IP address) if set; else the listen address when it is a
specific IP (a node on 127.0.0.1 is announced on loopback only); else every IPv4 interface.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from zeroconf import InterfaceChoice, IPVersion, ServiceStateChange, Zeroconf
from zeroconf.asyncio import AsyncServiceBrowser, AsyncServiceInfo, AsyncZeroconf

from node.core.errors import UserError
from node.home import Config
from node.logs import log_event
from protocol.errors import ProtocolError
from protocol.lan_pairing import SERVICE_TYPE, LanAnnouncement

INFO_TIMEOUT_MS = 1000


@dataclass(frozen=True)
class Found:
    """One announcement as browsed: the parsed record, the raw TXT and the mDNS instance name."""

    announcement: LanAnnouncement
    txt: dict[str, str]
    instance: str
    addresses: tuple[str, ...]

    def view(self) -> dict[str, object]:
        a = self.announcement
        return {"node_id": a.node_id.hex(), "name": a.name, "fingerprint": a.fingerprint, "url": a.url,
                "instance": self.instance, "addresses": list(self.addresses), "txt": self.txt}


def _specific_ip(host: str) -> str | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    return None if address.is_unspecified else str(address)


def interfaces_for(config: Config) -> list[str] | InterfaceChoice:
    if config.lan_interface:
        return [config.lan_interface]
    host = _specific_ip(config.listen_host)
    return [host] if host else InterfaceChoice.All


def make_zeroconf(interfaces: list[str] | InterfaceChoice) -> AsyncZeroconf:
    ip_version = None if isinstance(interfaces, list) else IPVersion.V4Only
    try:
        return AsyncZeroconf(interfaces=interfaces, ip_version=ip_version)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot use mDNS on {interfaces if isinstance(interfaces, list) else 'any interface'}: {exc}; "
                        "set lan_interface in config.toml to the IP address of a working interface, or turn "
                        "announcing off with lan_advertise = false (docs/config.md)") from exc


def instance_name(node_id: bytes) -> str:
    return f"orgnode-{node_id.hex()[:16]}.{SERVICE_TYPE}"


# --- the URL rule (THREATS row 10) ---------------------------------------------------------------


def _forbidden(address: ipaddress.IPv4Address | ipaddress.IPv6Address, allow_loopback: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if address.is_unspecified:
        return f"it points at {address}, an unspecified address"
    if address.is_multicast:
        return f"it points at {address}, a multicast address"
    if address.is_loopback and not allow_loopback:
        return f"it points at {address}, a loopback address, and this node does not listen on loopback"
    return None


def _is_loopback_name(host: str) -> bool:
    host = host.rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def lan_url_problem(url: str, allow_loopback: bool) -> str | None:
    """Why ``url`` (announced on the LAN or in a LAN peer's card) must not be contacted, or None. No DNS."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return "it is not a valid URL"
    if parts.scheme not in ("http", "https") or not host:
        return "it is not an http(s) URL"
    if _is_loopback_name(host):
        return None if allow_loopback else f"it names {host}, a loopback host, and this node does not listen on loopback"
    address = _ip_literal(host)
    return _forbidden(address, allow_loopback) if address is not None else None


async def check_lan_url(url: str, allow_loopback: bool) -> None:
    """Raise ``UserError`` unless ``url`` may be contacted; a host name is resolved and every address checked.

    (A name could resolve differently a moment later; LAN pairing contacts only the card and the
    pairing endpoint there, and an admin chose the node id.)
    """
    problem = lan_url_problem(url, allow_loopback)
    host = (urlsplit(url).hostname or "") if problem is None else ""
    if problem is None and _ip_literal(host) is None and not _is_loopback_name(host):
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UserError(f"cannot resolve the host of {url} ({exc.strerror or exc}): check this machine's DNS, or "
                            "pair by invite instead (`orgnode invite`)") from exc
        for info in infos:
            problem = _forbidden(ipaddress.ip_address(info[4][0]), allow_loopback)
            if problem:
                problem = f"{host} resolves to {info[4][0]}: {problem}"
                break
    if problem:
        raise UserError(f"refusing to contact {url}: {problem}. Ask its admin to announce a LAN address "
                        "(`orgnode set-url URL` on that node), or pair by invite instead (`orgnode invite`)")


def listens_on_loopback(config: Config) -> bool:
    if config.listen_host == "localhost":
        return True
    try:
        return ipaddress.ip_address(config.listen_host).is_loopback
    except ValueError:
        return False


# --- browsing ------------------------------------------------------------------------------------


async def browse(zc: AsyncZeroconf, seconds: float, stop_when: Callable[[Found], bool] | None = None) -> list[Found]:
    """Listen for ``seconds`` (or until ``stop_when`` accepts a result); unparseable records are skipped."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    names: asyncio.Queue[str] = asyncio.Queue()
    found: dict[str, Found] = {}

    def on_change(zeroconf: Zeroconf, service_type: str, name: str, state_change: ServiceStateChange) -> None:
        if state_change in (ServiceStateChange.Added, ServiceStateChange.Updated):
            names.put_nowait(name)

    browser = AsyncServiceBrowser(zc.zeroconf, SERVICE_TYPE, handlers=[on_change])
    try:
        while (remaining := deadline - loop.time()) > 0:
            try:
                name = await asyncio.wait_for(names.get(), timeout=remaining)
            except TimeoutError:
                break
            result = await _resolve(zc, name, min(INFO_TIMEOUT_MS, max(100, int(remaining * 1000))))
            if result is None:
                continue
            found[name] = result
            if stop_when is not None and stop_when(result):
                break
    finally:
        await browser.async_cancel()
    return sorted(found.values(), key=lambda f: (f.announcement.name.lower(), f.announcement.node_id))


async def _resolve(zc: AsyncZeroconf, name: str, timeout_ms: int) -> Found | None:
    info = AsyncServiceInfo(SERVICE_TYPE, name)
    await info.async_request(zc.zeroconf, timeout_ms)
    properties = info.properties or {}
    try:
        announcement = LanAnnouncement.from_txt(properties)
    except ProtocolError as exc:
        log_event("discovery.ignored", logging.DEBUG, code=exc.code)
        return None
    txt = {k.decode("utf-8", "replace"): (v.decode("utf-8", "replace") if v is not None else "") for k, v in properties.items()}
    return Found(announcement, txt, name, tuple(info.parsed_addresses()))


async def browse_once(interfaces: list[str] | InterfaceChoice, seconds: float) -> list[Found]:
    """A one-off browse with its own zeroconf instance (``orgnode discover``; needs no node)."""
    zc = make_zeroconf(interfaces)
    try:
        return await browse(zc, seconds)
    finally:
        await zc.async_close()


# --- the runtime component -----------------------------------------------------------------------


@dataclass
class LanDiscovery:
    """Advertises the node while it runs (if ``lan_discovery`` and ``lan_advertise``) and browses on an admin's request."""

    config: Config
    node_id: bytes
    port: Callable[[], int | None]
    _zc: AsyncZeroconf | None = None
    _task: asyncio.Task[None] | None = None
    _info: AsyncServiceInfo | None = field(default=None, repr=False)

    def announcement(self) -> LanAnnouncement:
        return LanAnnouncement(self.node_id, self.config.name, self.config.url)

    async def start(self) -> None:
        if not (self.config.lan_discovery and self.config.lan_advertise):
            return
        try:
            txt = self.announcement().to_txt()
            self._zc = make_zeroconf(interfaces_for(self.config))
        except (ProtocolError, UserError) as exc:
            log_event("discovery.disabled", logging.WARNING, reason=str(exc)[:200])
            return
        host = _specific_ip(self.config.listen_host)
        self._info = AsyncServiceInfo(
            SERVICE_TYPE, instance_name(self.node_id), port=self.port() or self.config.listen_port, properties=txt,
            server=f"orgnode-{self.node_id.hex()[:16]}.local.", parsed_addresses=[host] if host else None,
        )
        self._task = asyncio.create_task(self._register(self._zc, self._info), name="orgnode-discovery")

    async def _register(self, zc: AsyncZeroconf, info: AsyncServiceInfo) -> None:
        try:
            announced = await zc.async_register_service(info, allow_name_change=False)
            await announced
            log_event("discovery.advertised", service=info.name)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a conflicting name or a network error must not stop the node
            log_event("discovery.failed", logging.WARNING, error=type(exc).__name__)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
            self._task = None
        if self._zc is not None:
            with contextlib.suppress(Exception):
                await self._zc.async_close()
            self._zc = None

    async def browse(self, seconds: float, stop_when: Callable[[Found], bool] | None = None) -> list[Found]:
        """Browse with the advertising instance when there is one, else with a temporary one."""
        if self._zc is not None:
            return await browse(self._zc, seconds, stop_when)
        zc = make_zeroconf(interfaces_for(self.config))
        try:
            return await browse(zc, seconds, stop_when)
        finally:
            await zc.async_close()
