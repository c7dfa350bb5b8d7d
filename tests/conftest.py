"""Shared fixtures: real node homes in tmp_path, real servers on 127.0.0.1 ports."""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from node.core.service import NodeService
from node.home import Config, Home
from node.logs import LIBRARY_LOGGERS
from node.runtime import NodeRuntime
from protocol.identity import Identity


@pytest.fixture(autouse=True)
def _loggers_restored() -> object:
    """Give every test the loggers as the previous test found them.

    `node.logs.configure` (called in-process by `orgnode run` and by the log-format tests) sets
    ``propagate = False`` on orgnode's and the libraries' loggers; left behind, it hides records from
    pytest's ``caplog`` in whichever tests happen to run later, so results depended on test order.
    """
    loggers = [logging.getLogger(name) for name in ("orgnode", *LIBRARY_LOGGERS)]
    saved = [(lg, lg.handlers[:], lg.level, lg.propagate, lg.filters[:]) for lg in loggers]
    yield
    for lg, handlers, level, propagate, filters in saved:
        lg.handlers[:], lg.filters[:] = handlers, filters
        lg.setLevel(level)
        lg.propagate = propagate


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def make_home(
    root: Path, name: str, sector: str = "nonprofit", host: str = "127.0.0.1", port: int | None = None,
    lan_discovery: bool = True, lan_advertise: bool = False, allow_private_peers: bool = True,
) -> NodeService:
    """Initialise a home exactly as `orgnode init` does, and return its opened service.

    Test nodes serve LAN pairing requests (``lan_discovery``) but do not advertise over mDNS
    (``lan_advertise``) unless a test asks for it, and they contact each other on 127.0.0.x
    (``allow_private_peers``).
    """
    port = port or free_port()
    home = Home(root / name.lower().replace(" ", "-"))
    config = Config(name, sector, host, port, f"http://{host}:{port}", sync_interval=0.5, lan_discovery=lan_discovery,
                    lan_advertise=lan_advertise, allow_private_peers=allow_private_peers)
    home.create(config, Identity.from_random(os.urandom), None)
    service = NodeService.open(home.path)
    service.publish_org_card()
    return service


@pytest.fixture
def node_factory(tmp_path: Path) -> Callable[..., NodeService]:
    services: list[NodeService] = []

    def factory(name: str, sector: str = "nonprofit") -> NodeService:
        service = make_home(tmp_path, name, sector)
        services.append(service)
        return service

    yield factory  # type: ignore[misc]
    for service in services:
        service.close()


@pytest.fixture
async def running(tmp_path: Path) -> AsyncIterator[Callable[..., NodeRuntime]]:
    """Start real nodes (federation server + admin socket) in this event loop; stopped at teardown."""
    runtimes: list[NodeRuntime] = []

    async def start(name: str, sector: str = "nonprofit", **config: bool) -> NodeRuntime:
        runtime = NodeRuntime(make_home(tmp_path, name, sector, **config))  # type: ignore[arg-type]
        await runtime.start()
        runtimes.append(runtime)
        return runtime

    yield start  # type: ignore[misc]
    for runtime in reversed(runtimes):
        await runtime.stop()
        runtime.service.close()


@pytest.fixture
async def fed_net(tmp_path: Path) -> AsyncIterator[object]:
    """Real federation nodes with short sync intervals and backoff (see tests/node/federation_helpers.py)."""
    from tests.node.federation_helpers import Net

    net = Net(tmp_path)
    yield net
    await net.close()


@pytest.fixture
async def net(tmp_path: Path) -> AsyncIterator[object]:
    """The same as ``fed_net``, under the short name most node tests use."""
    from tests.node.federation_helpers import Net

    network = Net(tmp_path)
    yield network
    await network.close()
