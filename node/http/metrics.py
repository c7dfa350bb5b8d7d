"""``/metrics`` in the Prometheus text format, on a listener of its own (``metrics_listen``, loopback by default).

It uses the official client library (``prometheus_client``) with a registry per node, never the
process-wide default one (several nodes share a process in tests and the demo), and one custom
collector that reads the node's current state at scrape time (``Health.snapshot``: in-memory counters
and a few small, indexed queries). Nothing is labelled with partners' text: a peer is a node-id prefix,
a rejection its stable error code, a peer state one of the trust-list states. The federation port
never serves this path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from node.core.health import Snapshot
from node.http.conn_guard import ConnectionPolicy
from node.loop_lag import BUCKETS, LoopLag

PATH = "/metrics"
# A scraper needs one connection or two; these caps keep a flood of idle connections to this listener
# (any local account can connect to it) from using the descriptors the federation port needs.
MAX_PER_SOURCE = 8
MAX_CONNECTIONS = 32


def connection_policy(read_timeout: float) -> ConnectionPolicy:
    """The metrics listener's guard: the federation port's request-head timeout, its own small caps."""
    return ConnectionPolicy(read_timeout=read_timeout, max_per_address=MAX_PER_SOURCE, max_connections=MAX_CONNECTIONS)
# Every metric /metrics serves, with its type and meaning (docs/deploy.md "Monitoring" lists them).
METRICS: dict[str, tuple[str, str]] = {
    "orgnode_peers": ("gauge", "organizations on the trust list, by state"),
    "orgnode_outbox_statements": ("gauge", "statements waiting to be pushed, per trusted peer"),
    "orgnode_outbox_oldest_age_seconds": ("gauge", "age of the oldest statement waiting for a peer"),
    "orgnode_statements_received": ("counter", "peers' statements taken into the log since start, per peer"),
    "orgnode_statements_sent": ("counter", "own statements delivered since start, per peer and way (push, pull)"),
    "orgnode_statements_rejected": ("counter", "peers' statements refused since start, by error code"),
    "orgnode_statements_skewed": ("counter", "peers' statements stamped more than skew_warn ahead of this clock"),
    "orgnode_peer_clock_offset_seconds": ("gauge", "a peer's clock minus this node's, from its latest signed request"),
    "orgnode_peer_sync_lag_seconds": ("gauge", "seconds since a peer last answered a push or pull"),
    "orgnode_peer_unreachable": ("gauge", "1 while a peer has been unreachable longer than unreachable_warn_after"),
    "orgnode_forked_authors": ("gauge", "authors with fork evidence (two statements for one position)"),
    "orgnode_disk_free_bytes": ("gauge", "bytes free to the node on the home's file system"),
    "orgnode_disk_size_bytes": ("gauge", "size of the home's file system"),
    "orgnode_database_size_bytes": ("gauge", "size of the database file and its write-ahead log"),
    "orgnode_problems": ("gauge", "problems `orgnode status` reports, by code (every known code, 0 when absent)"),
    "orgnode_partner_fork_answers": ("counter", "own statements a partner answered with `fork` since start, per peer"),
    "orgnode_event_loop_lag_seconds": ("histogram", "how much later than asked the event loop woke a 50 ms sleep "
                                                    "(another callback held it that long), since start"),
    "orgnode_event_loop_lag_max_seconds": ("gauge", "the longest the event loop was held since start"),
}


def _gauge(name: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, METRICS[name][1], labels=labels)


def _counter(name: str, labels: list[str]) -> CounterMetricFamily:
    return CounterMetricFamily(name, METRICS[name][1], labels=labels)


def families(snap: Snapshot) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
    """The snapshot as metric families (counters get their ``_total`` suffix from the library)."""
    peers = _gauge("orgnode_peers", ["state"])
    for state, n in sorted(snap.peers_by_state.items()):
        peers.add_metric([state], n)
    depth, age = _gauge("orgnode_outbox_statements", ["peer"]), _gauge("orgnode_outbox_oldest_age_seconds", ["peer"])
    for label, (n, oldest) in sorted(snap.outbox.items()):
        depth.add_metric([label], n)
        age.add_metric([label], oldest)
    received = _counter("orgnode_statements_received", ["peer"])
    for label, n in sorted(snap.received.items()):
        received.add_metric([label], n)
    sent = _counter("orgnode_statements_sent", ["peer", "via"])
    for (label, via), n in sorted(snap.sent.items()):
        sent.add_metric([label, via], n)
    rejected = _counter("orgnode_statements_rejected", ["code"])
    for code, n in sorted(snap.rejected.items()):
        rejected.add_metric([code], n)
    skewed = _counter("orgnode_statements_skewed", ["peer"])
    for label, n in sorted(snap.skewed.items()):
        skewed.add_metric([label], n)
    offset = _gauge("orgnode_peer_clock_offset_seconds", ["peer"])
    for label, seconds in sorted(snap.clock_offset.items()):
        offset.add_metric([label], seconds)
    lag, down = _gauge("orgnode_peer_sync_lag_seconds", ["peer"]), _gauge("orgnode_peer_unreachable", ["peer"])
    for label, seconds in sorted(snap.sync_lag.items()):
        lag.add_metric([label], seconds)
    for label, flag in sorted(snap.unreachable.items()):
        down.add_metric([label], flag)
    problems = _gauge("orgnode_problems", ["code"])
    for code, n in sorted(snap.problems.items()):
        problems.add_metric([code], n)
    told = _counter("orgnode_partner_fork_answers", ["peer"])
    for label, n in sorted(snap.fork_answers.items()):
        told.add_metric([label], n)
    yield from (peers, depth, age, received, sent, rejected, skewed, offset, lag, down, problems, told)
    for name, value in (("orgnode_forked_authors", snap.forked_authors), ("orgnode_disk_free_bytes", snap.disk_free_bytes),
                        ("orgnode_disk_size_bytes", snap.disk_total_bytes),
                        ("orgnode_database_size_bytes", snap.database_bytes)):
        gauge = _gauge(name)
        gauge.add_metric([], value)
        yield gauge


def lag_families(lag: LoopLag) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
    """The loop-lag histogram (cumulative buckets, as Prometheus counts them) and its maximum."""
    cumulative, running = [], 0
    for bound, n in zip([*(str(b) for b in BUCKETS), "+Inf"], lag.counts, strict=True):
        running += n
        cumulative.append((bound, running))
    name = "orgnode_event_loop_lag_seconds"
    yield HistogramMetricFamily(name, METRICS[name][1], buckets=cumulative, sum_value=lag.total_seconds)
    gauge = _gauge("orgnode_event_loop_lag_max_seconds")
    gauge.add_metric([], lag.max_seconds)
    yield gauge


class LagCollector(Collector):
    def __init__(self, lag: LoopLag) -> None:
        self.lag = lag

    def collect(self) -> Iterator[GaugeMetricFamily | HistogramMetricFamily]:
        yield from lag_families(self.lag)


class NodeCollector(Collector):
    """Reads the node's state at each scrape (``read`` returns a fresh ``Snapshot``)."""

    def __init__(self, read: Callable[[], Snapshot]) -> None:
        self.read = read

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        yield from families(self.read())


def registry_for(read: Callable[[], Snapshot], lag: LoopLag | None = None) -> CollectorRegistry:
    """A registry of this node's own (never the global default), holding only its collectors."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(NodeCollector(read))
    if lag is not None:
        registry.register(LagCollector(lag))
    return registry


REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)


async def metrics(request: web.Request) -> web.Response:
    """The text format (0.0.4 unless the scraper asks for a newer one or OpenMetrics in ``Accept``)."""
    encode, content_type = choose_encoder(request.headers.get("Accept", ""))
    return web.Response(body=encode(request.app[REGISTRY]), headers={"Content-Type": content_type})


def create_app(registry: CollectorRegistry) -> web.Application:
    """The metrics app: ``GET /metrics`` only; anything else is 404."""
    app = web.Application()
    app[REGISTRY] = registry
    app.router.add_get(PATH, metrics)
    return app


def url_of(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}{PATH}"
