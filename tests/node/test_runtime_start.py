"""Issue 9 item 7: the runtime composes its parts on one AsyncExitStack, so a failed start undoes
everything it had started (federation server, admin socket, sync/checkpoint/discovery tasks, mDNS)."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest

from node.core.errors import UserError
from node.runtime import NodeRuntime
from tests.conftest import make_home


def accepts(port: int) -> bool:
    """Whether something listens on 127.0.0.1:port (a real TCP connect)."""
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def admin_answers(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(str(path)) == 0


def our_tasks() -> list[str]:
    return sorted(t.get_name() for t in asyncio.all_tasks() if t.get_name().startswith("orgnode-") and not t.done())


def timer_names(runtime: NodeRuntime) -> list[str]:
    return [t.name for t in runtime.federation.timers]


async def test_a_late_start_failure_stops_everything_started_before_it(tmp_path):
    """The pid file is written last, after the servers, the socket and every component have started.
    A directory at its path is a real failure there; the old start left the port listening, the admin
    socket bound and the sync, checkpoint and discovery tasks running."""
    service = make_home(tmp_path, "A", lan_advertise=True)
    port = service.config.listen_port
    pid_path = service.home.pid_path
    try:
        # Positive control: a normal start really starts all of these, and stop removes them.
        runtime = NodeRuntime(service)
        await runtime.start()
        assert accepts(port) and admin_answers(runtime.socket_path)
        assert {"orgnode-sync-maintenance"} <= set(our_tasks())
        assert "checkpoints" in timer_names(runtime)  # the checkpoint timer, run by the maintenance loop
        zeroconf_started = runtime.lan.discovery._zc is not None
        await runtime.stop()
        assert not accepts(port) and not runtime.socket_path.exists() and our_tasks() == []
        assert "checkpoints" not in timer_names(runtime)

        pid_path.mkdir()  # the failure: the last step of start cannot write its file
        failing = NodeRuntime(service)
        with pytest.raises((UserError, OSError)) as failure:
            await failing.start()
        assert not accepts(port), "the federation server is still listening"
        assert not failing.socket_path.exists(), "the admin socket was left behind"
        assert our_tasks() == [], "component tasks still run"
        assert "checkpoints" not in timer_names(failing), "the checkpoint timer is still scheduled"
        assert failing.lan.discovery._zc is None
        assert failing.sync._maintenance is None or failing.sync._maintenance.done()
        if zeroconf_started:  # mDNS worked here: the failed start really had opened it
            assert failing.lan.discovery._task is None
        assert isinstance(failure.value, UserError) and "cannot write the pid file" in str(failure.value)

        # And the node can start again once the cause is fixed (nothing half-bound remains).
        pid_path.rmdir()
        again = NodeRuntime(service)
        await again.start()
        assert accepts(port) and pid_path.is_file()
        await again.stop()
    finally:
        service.close()


async def test_port_taken_is_a_clear_error_and_leaves_nothing(tmp_path):
    service = make_home(tmp_path, "B")
    port = service.config.listen_port
    blocker = socket.socket()
    blocker.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 0)
    blocker.bind(("127.0.0.1", port))
    blocker.listen()
    try:
        runtime = NodeRuntime(service)
        with pytest.raises(UserError, match=rf"cannot listen on 127\.0\.0\.1:{port}"):
            await runtime.start()
        assert not runtime.socket_path.exists() and our_tasks() == [] and not service.home.pid_path.exists()
    finally:
        blocker.close()
        service.close()
