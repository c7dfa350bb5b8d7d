"""``orgnode demo``: a local federation on loopback that tells its own story.

It creates homes in a temporary directory (or ``--dir``), runs every node in this process on
127.0.0.1 ports, and narrates each step with the evidence (ids, fingerprints, verification results).
Each later subsystem adds its chapter here.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from node.home import Config, Home
from node.runtime import NodeRuntime
from node.service import NodeService
from protocol.card_bundle import verify_bundle
from protocol.identity import Identity

ORGS = [
    ("Youth Futures", "nonprofit"),
    ("Green Works Co-op", "social_enterprise"),
    ("Northwind Logistics", "company"),
]


@dataclass
class Narrator:
    step: int = 0

    def chapter(self, title: str) -> None:
        self.step += 1
        print(f"\n== {self.step}. {title}")

    def say(self, text: str) -> None:
        print(f"   {text}")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _demo(root: Path, keep: bool) -> int:
    story = Narrator()
    story.chapter("Three organizations each set up their own node")
    runtimes: list[NodeRuntime] = []
    for name, sector in ORGS:
        port = _free_port()
        home = Home(root / name.split()[0].lower())
        identity = Identity.generate()
        home.create(Config(name, sector, "127.0.0.1", port, f"http://127.0.0.1:{port}", sync_interval=1.0), identity, None)
        service = NodeService.open(home.path)
        service.publish_org_card()
        runtime = NodeRuntime(service)
        await runtime.start()
        runtimes.append(runtime)
        story.say(f"{name:<22} {sector:<18} {service.config.url}  fingerprint {identity.fingerprint}")

    story.chapter("Each node serves a signed org card; the others verify it with the protocol code alone")
    async with aiohttp.ClientSession() as session:
        for rt in runtimes:
            async with session.get(f"{rt.service.config.url}/.well-known/orgnode") as resp:
                verified = verify_bundle(await resp.read(), expected_node_id=rt.service.node_id)
            story.say(f"{verified.card.name:<22} card verified: node id {verified.node_id.hex()[:16]}…, signed by its genesis key")

    if keep:
        story.chapter("Nodes keep running (Ctrl-C to stop). Talk to them with:")
        for rt in runtimes:
            story.say(f"orgnode --home {rt.service.home.path} status")
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            pass
    for rt in runtimes:
        await rt.stop()
        rt.service.close()
    story.chapter("Done: every claim above was checked cryptographically.")
    return 0


def run_demo(directory: Path | None, keep: bool) -> int:
    root = directory or Path(tempfile.mkdtemp(prefix="orgnode-demo-"))
    root.mkdir(parents=True, exist_ok=True)
    try:
        return asyncio.run(_demo(root, keep))
    except KeyboardInterrupt:
        return 0
    finally:
        if directory is None and not keep:
            shutil.rmtree(root, ignore_errors=True)
