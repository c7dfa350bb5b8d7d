"""Issue 9 item 7: each component says what it contributes (``node/http/part.py``: federation
routes, admin routes, the state its handlers read, a lifecycle) and the runtime only composes them.
A part given to a real node is served on both of its real servers and started after they listen and
stopped before they close; two parts claiming one route are refused at wiring time, naming both."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from node.http import part as parts
from node.http.admin_client import AdminClient
from node.http.part import Part
from node.runtime import NodeRuntime
from tests.conftest import make_home

GREETING = web.AppKey("greeting", str)


def listening(port: int | None) -> bool:
    assert port is not None
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def hello(request: web.Request) -> web.Response:
    return web.json_response({"says": request.app[GREETING]})


class Recorder:
    """A lifecycle that notes what it saw of the node when it was started and stopped."""

    def __init__(self) -> None:
        self.runtime: NodeRuntime | None = None
        self.events: list[tuple[str, bool]] = []

    async def start(self) -> None:
        assert self.runtime is not None
        self.events.append(("start", listening(self.runtime.port) and self.runtime.socket_path.exists()))

    async def stop(self) -> None:
        # The federation listener closes first on a stop (a graceful drain accepts no new connections,
        # issue 10 item 5); the admin socket and the servers' in-flight handling still run here.
        assert self.runtime is not None
        self.events.append(("stop", not listening(self.runtime.port) and self.runtime.socket_path.exists()))


async def test_a_part_is_served_on_both_apps_and_its_lifecycle_runs_inside_the_servers(tmp_path):
    recorder = Recorder()
    extra = Part("greeter", federation_routes=(("POST", "/federation/v1/test-hello", hello),),
                 admin_routes=(("GET", "/test-hello", hello),), app_state=((GREETING, "hi"),), lifecycle=recorder)
    service = make_home(tmp_path, "A")
    runtime = NodeRuntime(service, extra_parts=[extra])
    recorder.runtime = runtime
    try:
        await runtime.start()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"http://127.0.0.1:{runtime.port}/federation/v1/test-hello") as answer:
                assert answer.status == 200 and await answer.json() == {"says": "hi"}
            # Positive control: a path no part declared is not served.
            async with http.post(f"http://127.0.0.1:{runtime.port}/federation/v1/test-nobody") as answer:
                assert answer.status == 404
        admin = AdminClient(runtime.socket_path)
        assert await asyncio.to_thread(admin.call, "GET", "/test-hello") == {"says": "hi"}
        # The node's own parts are composed the same way: talent, provenance and LAN routes are served.
        assert {"sync", "talent", "provenance", "lan"} <= {p.name for p in runtime.parts}
        assert ("POST", "/jobs/post") in {(m, p) for m, p, _ in runtime.admin_routes}
        assert recorder.events == [("start", True)]
        await runtime.stop()
        assert recorder.events == [("start", True), ("stop", True)]  # stopped before the servers closed
        assert not listening(service.config.listen_port)
    finally:
        await runtime.stop()
        service.close()


async def test_two_parts_claiming_one_route_are_refused_naming_both(tmp_path):
    service = make_home(tmp_path, "B")
    try:
        clash = Part("clash", admin_routes=(("POST", "/jobs/post", hello),))
        with pytest.raises(ValueError, match="admin route POST /jobs/post is served by both talent and clash"):
            NodeRuntime(service, extra_parts=[clash])
        shadow = Part("shadow", federation_routes=(("POST", "/federation/v1/push", hello),))
        with pytest.raises(ValueError, match="federation route POST /federation/v1/push is served by both core and shadow"):
            NodeRuntime(service, extra_parts=[shadow])
        # Positive control: the same route on the other API, or another path, is fine.
        NodeRuntime(service, extra_parts=[Part("ok", federation_routes=(("POST", "/federation/v1/jobs-post", hello),))])
    finally:
        service.close()


def test_lan_part_serves_pairing_requests_only_when_lan_discovery_is_on(tmp_path):
    on = make_home(tmp_path / "on", "On")
    off = make_home(tmp_path / "off", "Off", lan_discovery=False)
    try:
        paths: dict[str, Any] = {name: {p for _, p, _ in NodeRuntime(s).lan.part().federation_routes}
                                 for name, s in (("on", on), ("off", off))}
        assert paths["on"] == {"/federation/v1/pair-request", "/federation/v1/pair-confirm"}
        assert paths["off"] == set()
        assert parts.lifecycles([NodeRuntime(off).lan.part()]) != []  # discovery stays a lifecycle; it announces nothing when off
    finally:
        on.close()
        off.close()
