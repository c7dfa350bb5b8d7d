"""Running a node: the federation server on TCP, the admin API on a Unix socket, clean shutdown.

``NodeRuntime`` owns every long-lived task. It builds the components and composes what each one
says it contributes (``node/http/part.py``: federation routes, admin routes, app state, a lifecycle):
the routes go into the two apps, and the lifecycles (the sync loop, checkpoints, LAN discovery) are
started after the servers are listening and stopped before they close. SIGTERM
and SIGINT set the stop event; shutdown then stops accepting federation connections, lets in-flight
pushes, pulls and partners' requests finish for up to ``shutdown_grace`` seconds (config.toml), stops
components and closes the database, so no acknowledged write is lost and the process exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
import ssl
from collections.abc import Iterable
from pathlib import Path

from aiohttp import web

from node import tls
from node.config import is_loopback_host, unknown_env_variables
from node.core import path_match, path_proofs
from node.core.accounts import Accounts
from node.core.clock import set_wall_offset_from_env
from node.core.errors import UserError
from node.core.federation import Federation
from node.core.key_refresh import KeyRefresh
from node.core.path_calls import PathCalls
from node.core.provenance import Provenance
from node.core.relay import Relays
from node.core.service import NodeService
from node.core.sync import DrainReport, SyncEngine
from node.core.talent import Talent
from node.http import admin_api, conn_guard, federation_api, metrics, path_api, provenance_api, talent_api
from node.http import part as parts
from node.http.client import FederationClient
from node.http.federation_api import FederationState
from node.http.part import Part
from node.lan.admin import lan_admin
from node.logs import log_event
from node.loop_lag import LoopLag
from node.safe_files import check_own_socket
from protocol.matching import Vocabulary
from protocol.sync import BackoffPolicy
from storage.users import UserStore


def load_vocabulary() -> Vocabulary:
    """The skill vocabulary (ESCO-derived) used for matching; empty if the data file is absent."""
    try:
        from node.formats.skills_vocab import load_vocabulary as load
    except ImportError:
        return Vocabulary()
    return load()


Component = parts.Lifecycle


async def _cancel_and_wait(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _stop_quietly(component: Component) -> None:
    """Stop one component; a failing stop must not keep the others (and the servers) running."""
    with contextlib.suppress(Exception):
        await component.stop()


def _unlink_quietly(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def check_http_parser() -> None:
    """THREATS row 11: refuse to serve with aiohttp's pure-Python HTTP parser (request smuggling CVEs)."""
    from aiohttp import http_parser

    if http_parser.HttpRequestParser is http_parser.HttpRequestParserPy and not os.environ.get("ORGNODE_ALLOW_PY_PARSER"):
        raise UserError("aiohttp's C HTTP parser is not in use (AIOHTTP_NO_EXTENSIONS or a build without it); reinstall aiohttp")


class NodeRuntime:
    def __init__(self, service: NodeService, extra_parts: Iterable[Part] = ()) -> None:
        """``extra_parts``: further components to compose after the node's own (a test's, later a plugin's)."""
        self.service = service
        self.stop_event = asyncio.Event()
        self._stack = contextlib.AsyncExitStack()  # what start() started, unwound by stop()
        self.federation_runner: web.AppRunner | None = None
        self.conn_policy = conn_guard.ConnectionPolicy(read_timeout=float(service.config.read_timeout),
                                                       max_per_address=service.config.max_connections_per_address,
                                                       max_connections=service.config.max_connections)
        self.port: int | None = None
        self.started = False  # node.started was logged: only then is node.stopped logged
        self.federation = Federation(service)
        self.loop_lag = LoopLag()  # how long the event loop was held (node/loop_lag.py, on /metrics)
        self.client = FederationClient(lambda: service.identity, allow_private=service.config.allow_private_peers)
        self.sync = SyncEngine(
            self.federation, self.client, interval=service.config.sync_interval,
            policy=BackoffPolicy(base_ms=int(service.config.retry_base * 1000), cap_ms=int(service.config.retry_cap * 1000)),
            confirm_timeout=service.config.own_log_confirm_timeout,
        )
        self.key_refresh = KeyRefresh(self.federation, self.client)  # a partner's rotation, from its card
        self.fed_state = FederationState(self.federation, on_contact=self.sync.contact, learn_rotations=self.key_refresh.learn)
        self.relays = Relays(self.federation)  # reached through talent (boxes ride on referrals); no routes or loop
        self.talent = Talent(self.federation, load_vocabulary, self.relays)
        self.provenance = Provenance(self.federation, interval=service.config.checkpoint_interval)
        self.sync.after_pull.append(self.provenance.cosigning.fetch_from)
        self.paths = PathCalls(self.relays, self.client)  # calls along the trust path: match, audit proofs
        path_match.register(self.talent, self.paths)
        path_proofs.register(self.provenance, self.paths)
        self.accounts = Accounts(UserStore(service.db), lambda: service.clock(), lambda n: service.random(n))
        self.lan = lan_admin(service.config, self.federation, self.client, lambda: self.port)
        # Each component says what it adds; the order is the start order (stopped in reverse).
        self.parts: list[Part] = [
            Part("sync", lifecycle=self.sync),  # its push/pull routes are the federation app's own
            talent_api.part(self.talent),
            provenance_api.part(self.provenance),
            path_api.part(self.paths),
            self.lan.part(),
            *extra_parts,
        ]
        # The apps' own routes (push/pull, status, trust, ...) count too: a part may not shadow one.
        parts.check_routes([Part("core", tuple(federation_api.ROUTES), tuple(admin_api.ROUTES)), *self.parts])
        # Composed from the parts: (method, path, handler) for the federation and admin apps, and the
        # lifecycles. Lists, so a test can add a route or a component before start().
        self.federation_routes: list[parts.Route] = parts.federation_routes(self.parts)
        self.admin_routes: list[parts.Route] = parts.admin_routes(self.parts)
        self.components: list[Component] = parts.lifecycles(self.parts)

    @property
    def socket_path(self) -> Path:
        return self.service.home.admin_socket

    def check_not_running(self) -> None:
        """Refuse to start a second node on the same home (two writers, two admin sockets)."""
        sock = self.socket_path
        if not check_own_socket(sock):  # refuses a file or another user's socket at our path
            return
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.settimeout(1.0)
            probe.connect(str(sock))
        except OSError:
            return  # a stale socket left by a node that was killed: it is replaced below
        finally:
            probe.close()
        raise UserError(f"a node is already running for {self.service.home.path} (admin socket {sock}); stop it first")

    async def start(self) -> None:
        """Start the servers, then the components; if any step fails, undo every step already taken.

        Each step registers its own undo on one ``AsyncExitStack`` the moment it has something to undo,
        so a failed start (the port is taken, the admin socket cannot be bound, a component or the pid
        file fails) stops components, closes the servers and removes the socket before the error
        propagates; ``stop`` unwinds the same stack in reverse order.
        """
        check_http_parser()
        self.check_not_running()
        server_tls = self._check_tls()  # before anything starts: a bad certificate or CA file starts nothing
        async with contextlib.AsyncExitStack() as stack:
            lag_task = asyncio.create_task(self.loop_lag.watch(), name="orgnode-loop-lag")
            stack.push_async_callback(_cancel_and_wait, lag_task)  # gone before start or stop returns
            await self._start_federation_server(stack, server_tls)
            await self._start_admin_socket(stack)
            await self._start_metrics(stack)
            await self._start_dashboard(stack, server_tls)
            for component in self.components:
                stack.push_async_callback(_stop_quietly, component)  # before start: a half-started one is stopped too
                await component.start()
            pid_path = self.service.home.pid_path
            try:
                pid_path.write_text(f"{os.getpid()}\n")
            except OSError as exc:
                raise UserError(f"cannot write the pid file {pid_path}: {exc.strerror}; remove whatever is at that "
                                "path and start again") from exc
            stack.callback(_unlink_quietly, pid_path)
            self._stack = stack.pop_all()
        for name, close in unknown_env_variables():  # a misspelt ORGNODE_ setting would otherwise be silently ignored
            log_event("config.unknown-env", logging.WARNING, node=self.service.node_id, variable=name, did_you_mean=close)
        log_event("node.started", node=self.service.node_id, listen=f"{self.service.config.listen_host}:{self.port}",
                  metrics=self.federation.health.metrics_url, tls=server_tls is not None)
        self.started = True

    def _check_tls(self) -> ssl.SSLContext | None:
        """The server's TLS context (None: plain HTTP) and the client's verification, both checked from config;
        turning verification off is logged at warning on every start."""
        config, home = self.service.config, self.service.home.path
        self.client.tls = tls.client_context(config, home)
        if not config.tls_verify:
            log_event("tls.verify-off", logging.WARNING, node=self.service.node_id,
                      detail="tls_verify = false: partners' TLS certificates are NOT verified (LAN/testing only)")
        return tls.server_context(config, home)

    async def _start_federation_server(self, stack: contextlib.AsyncExitStack, server_tls: ssl.SSLContext | None) -> None:
        config = self.service.config
        fed_app = federation_api.create_app(self.fed_state, self.federation_routes)
        parts.apply_state(fed_app, self.parts)
        fed_app[federation_api.BODY_TIMEOUT] = self.conn_policy.read_timeout
        # lingering_time=0: after refusing a request (e.g. a compressed body) do not keep reading it.
        fed_runner = web.AppRunner(fed_app, access_log=None, shutdown_timeout=config.shutdown_grace, lingering_time=0.0)
        await fed_runner.setup()
        stack.push_async_callback(fed_runner.cleanup)
        self.federation_runner = fed_runner
        conn_guard.install(fed_runner, self.conn_policy, server_tls)  # TLS: handshakes counted and bounded there
        try:
            # Our own listening socket, so an exhausted process backs off cleanly (conn_guard.BackoffSocket).
            site = web.SockSite(fed_runner, conn_guard.listening_socket(config.listen_host, config.listen_port))
            await site.start()
        except OSError as exc:
            raise UserError(f"cannot listen on {config.listen}: {exc.strerror}; choose another address: set listen_host/"
                            f"listen_port in {self.service.home.config_path} (or stop what uses it)") from exc
        server = site._server
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else config.listen_port

    async def _start_admin_socket(self, stack: contextlib.AsyncExitStack) -> None:
        sock = self.socket_path
        if check_own_socket(sock):  # only ever remove a stale socket of our own
            sock.unlink()
        admin_app = admin_api.create_app(
            admin_api.AdminContext(self.service, self.federation, self.sync, self.client, self.stop_event), self.admin_routes
        )
        parts.apply_state(admin_app, self.parts)
        admin_runner = web.AppRunner(admin_app, access_log=None)
        await admin_runner.setup()
        stack.push_async_callback(admin_runner.cleanup)
        stack.callback(self._remove_own_socket)
        old_umask = os.umask(0o177)
        try:
            await web.UnixSite(admin_runner, str(sock)).start()
        except OSError as exc:
            raise UserError(f"cannot create the admin socket {sock}: {exc.strerror}; check that its folder is "
                            "writable by this user") from exc
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)

    async def _start_metrics(self, stack: contextlib.AsyncExitStack) -> None:
        """The Prometheus listener (``metrics_listen``; loopback unless ``metrics_allow_remote``, which the
        config checks): its own runner and port, so the federation port never serves ``/metrics``."""
        address = self.service.config.metrics_address
        if address is None:
            return
        health = self.federation.health
        registry = metrics.registry_for(lambda: health.snapshot(self.service, self.federation.clock()), self.loop_lag)
        runner = web.AppRunner(metrics.create_app(registry), access_log=None, lingering_time=0.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        # The federation port's guards (head timeout, caps, EMFILE back-off) with small caps of its own: a local
        # user holding idle connections here must not take the descriptors partners need (security pass 10).
        conn_guard.install(runner, metrics.connection_policy(self.conn_policy.read_timeout))
        try:
            site = web.SockSite(runner, conn_guard.listening_socket(address[0], address[1]))
            await site.start()
        except OSError as exc:
            raise UserError(f"cannot listen for metrics on {self.service.config.metrics_listen}: {exc.strerror}; set "
                            f"metrics_listen in {self.service.home.config_path} to a free address, or \"\" for off") from exc
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else address[1]
        health.metrics_url = metrics.url_of(address[0], port)
        stack.callback(setattr, health, "metrics_url", None)

    async def _start_dashboard(self, stack: contextlib.AsyncExitStack, server_tls: ssl.SSLContext | None) -> None:
        """The staff web dashboard (node/web/; ``dashboard_listen``, loopback unless ``dashboard_allow_remote``,
        which the config allows only with TLS): its own runner and port, never the federation port."""
        address = self.service.config.dashboard_address
        if address is None:
            return
        from node.web.app import connection_policy, create_app
        from node.web.context import WebContext

        remote = not is_loopback_host(address[0])
        ctx = WebContext(self.service, self.federation, self.talent, self.provenance, self.client, self.accounts, self.lan,
                         self.paths)
        runner = web.AppRunner(create_app(ctx), access_log=None, lingering_time=0.0)
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        conn_guard.install(runner, connection_policy(self.conn_policy.read_timeout), server_tls if remote else None)
        try:
            site = web.SockSite(runner, conn_guard.listening_socket(address[0], address[1]))
            await site.start()
        except OSError as exc:
            raise UserError(f"cannot listen for the dashboard on {self.service.config.dashboard_listen}: {exc.strerror}; "
                            f"set dashboard_listen in {self.service.home.config_path} to a free address, or \"\" for off") from exc
        sockets = getattr(site._server, "sockets", None) or []
        port = sockets[0].getsockname()[1] if sockets else address[1]
        shown = f"[{address[0]}]" if ":" in address[0] else address[0]
        self.federation.health.dashboard_url = f"{'https' if remote else 'http'}://{shown}:{port}/"
        stack.callback(setattr, self.federation.health, "dashboard_url", None)

    def _remove_own_socket(self) -> None:
        with contextlib.suppress(FileNotFoundError, UserError):
            if check_own_socket(self.socket_path):
                self.socket_path.unlink()

    async def stop(self) -> None:
        """Drain (``_drain``), then undo ``start`` in reverse: components, the admin socket, the federation server."""
        stack, self._stack = self._stack, contextlib.AsyncExitStack()
        report = await self._drain() if self.started else DrainReport()
        inbound = len(self.federation_runner.server.connections) if self.federation_runner and self.federation_runner.server else 0
        await stack.aclose()
        if self.started:  # a node that never started did not stop either
            log_event("node.stopped", node=self.service.node_id, pushes_in_flight=report.pushes_in_flight,
                      pushes_finished=report.pushes_finished, pushes_cut=report.pushes_cut, inbound_connections=inbound)
            self.started = False

    async def _drain(self) -> DrainReport:
        """The graceful part of a stop, bounded by ``shutdown_grace`` in all.

        The federation listener closes first (partners get "connection refused" and retry later);
        the pushes and pulls already on the wire get until the deadline to be answered; what is left
        of it bounds how long the federation server waits for partners' requests it is handling.
        """
        loop = asyncio.get_running_loop()
        grace = float(self.service.config.shutdown_grace)
        deadline = loop.time() + grace
        runner = self.federation_runner
        log_event("node.stopping", node=self.service.node_id, grace_s=grace)
        if runner is not None:
            for site in list(runner.sites):
                with contextlib.suppress(Exception):
                    await site.stop()
        report = await self.sync.drain(grace)
        if runner is not None:  # aiohttp reads it in cleanup(): the remaining grace for inbound requests
            runner._shutdown_timeout = max(0.0, deadline - loop.time())
        return report

    async def run_until_stopped(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        try:  # a failed start has undone its own steps; the signal handlers go too
            await self.start()
            freeze_startup_heap()
            await self.stop_event.wait()
        finally:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
            await self.stop()


def freeze_startup_heap() -> None:
    """Keep what a started node holds for good (~630 modules' code, the config, the vocabulary's
    handle) out of the cyclic garbage collector's full passes: ``gc.freeze()`` after one collection.
    A full pass scans every tracked object while holding the interpreter lock, whichever thread
    triggered it: a worker thread building many objects (an impact report, ``GET /log``,
    node/core/off_loop_reads.py) made the event loop wait 55–460 ms for the lock in such passes
    (traced with a watchdog thread: the reader thread inside a collection, the loop in ``select``).
    Frozen objects are still freed by reference counting; only cycles among them stay."""
    gc.collect()
    gc.freeze()


def run(home: Path, passphrase_file: Path | None = None) -> int:
    try:
        offset = set_wall_offset_from_env(os.environ)  # a test's skewed clock (ORGNODE_CLOCK_OFFSET); 0 normally
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    if offset:
        log_event("node.clock-offset", logging.WARNING, seconds=offset)
    service = NodeService.open(home, passphrase_file=passphrase_file)
    try:
        asyncio.run(NodeRuntime(service).run_until_stopped())
    finally:
        service.close()
    return 0


