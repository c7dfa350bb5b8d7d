"""What one component contributes to a running node: its federation routes, its admin routes, the
state its handlers read from the app, and its lifecycle (``start``/``stop``).

Each component says this about itself (``talent_api.part``, ``provenance_api.part``,
``LanAdmin.part``, ``sync_part``), and ``node/runtime.py`` only composes the parts: it concatenates
the routes into the two apps, sets the state on both, and starts the lifecycles in order on one
``AsyncExitStack``. No component reaches into the runtime to add itself.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from aiohttp import web

Route = tuple[str, str, Callable[[web.Request], Awaitable[web.StreamResponse]]]


class Lifecycle(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


@dataclass(frozen=True)
class Part:
    """One component's contribution; every field may be empty (a part with routes only, or a loop only)."""

    name: str
    federation_routes: tuple[Route, ...] = ()
    admin_routes: tuple[Route, ...] = ()
    app_state: tuple[tuple[web.AppKey[Any], object], ...] = ()  # set on both apps for the handlers
    lifecycle: Lifecycle | None = None


def federation_routes(parts: Iterable[Part]) -> list[Route]:
    return [route for part in parts for route in part.federation_routes]


def admin_routes(parts: Iterable[Part]) -> list[Route]:
    return [route for part in parts for route in part.admin_routes]


def lifecycles(parts: Iterable[Part]) -> list[Lifecycle]:
    """The parts' lifecycles in the order of the parts (started in this order, stopped in reverse)."""
    return [part.lifecycle for part in parts if part.lifecycle is not None]


def apply_state(app: web.Application, parts: Iterable[Part]) -> None:
    for part in parts:
        for key, value in part.app_state:
            app[key] = value


def check_routes(parts: Iterable[Part]) -> None:
    """Two parts serving the same method and path on one API is a wiring bug: refuse it, naming both."""
    parts = list(parts)
    for api in ("federation", "admin"):
        seen: dict[tuple[str, str], str] = {}
        for part in parts:
            for method, path, _ in (part.federation_routes if api == "federation" else part.admin_routes):
                if (method, path) in seen:
                    raise ValueError(f"{api} route {method} {path} is served by both {seen[method, path]} and {part.name}")
                seen[method, path] = part.name
