"""The problems an admin must see, in plain words (``orgnode status``, ``status --json`` ``problems``, and
the ``orgnode_problems`` metric): every one is a ``Problem`` with a stable code, since when, what is
wrong and what to do, made by one function per code from what the running node's ``Health`` knows
and what the database, the disk and the config say. There is no other channel: the status text shows
this list only, so the metric, the JSON and the text always agree (issue 10 acceptance item 7).
Peers are named by their confirmed name, else their declared one, else a node-id prefix.
"""

from __future__ import annotations

import math
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from node.core.restore import ROLLED_BACK, lost_partnerships, restore_reason
from node.core.views import iso
from node.tls import certificate_expiry
from storage.peers import PeerStore

if TYPE_CHECKING:
    from node.core.health import Health
    from node.core.service import NodeService

LABEL_HEX = 16  # a peer is labelled by this many hex digits of its node id (an organization's id, no name)
SKEW_SHOWN_MS = 86_400_000  # a clock-skew finding is shown while the last skewed statement is this recent
OVER_QUOTA_SHOWN_MS = 86_400_000  # an over-quota refusal is shown for a day
EXPIRY_WARNING_DAYS = 14  # the served TLS certificate is a problem this many days before it expires

# Every code a problem can have (the metric has a sample for each, 0 when absent; docs/cli.md lists them).
PROBLEM_CODES = ("peer-unreachable", "clock-skew", "disk-low", "fork-evidence", "over-quota", "partner-holds-fork",
                 "partner-disk-full", "cert-expiring", "cert-expired", "tls-verify-off", "peer-cert-refused",
                 "peer-address-refused", "restore-pending", "own-log-unconfirmed", "lost-partner")


def peer_label(node_id: bytes) -> str:
    """The label a peer gets in metrics and logs: a prefix of its node id (not personal data)."""
    return node_id.hex()[:LABEL_HEX]


def disk_usage(path: Path) -> tuple[int, int]:
    """(bytes free to this user, bytes in total) on the file system holding ``path``."""
    usage = shutil.disk_usage(path)
    return int(usage.free), int(usage.total)


@dataclass(frozen=True)
class Problem:
    """One thing wrong, in plain words: ``detail`` says what, ``action`` what to do, ``since`` since when (ms)."""

    code: str  # one of PROBLEM_CODES
    since: int
    detail: str
    action: str
    peer: bytes | None = None

    def view(self) -> dict[str, object]:
        return {"code": self.code, "peer": self.peer.hex() if self.peer else None, "since": iso(self.since),
                "detail": self.detail, "action": self.action}


def partner_name(service: NodeService, node_id: bytes) -> str:
    """A partner as the admin knows it: its confirmed name, else its declared one, else its id prefix.
    The name is the partner's own text: the CLI escapes it before printing (node/terminal.py)."""
    peer = PeerStore(service.db).get(node_id)
    if peer is not None and peer.name:
        return peer.name
    declared = PeerStore(service.db).declared_card(node_id)
    return declared[0] if declared else peer_label(node_id)


def _ago(ms: int) -> str:
    """A duration for a person: hours, minutes, or seconds under a minute (never "0 min")."""
    hours = ms / 3_600_000
    if hours >= 1:
        return f"{hours:.0f} h" if hours >= 10 else f"{hours:.1f} h"
    if ms < 60_000:
        return f"{max(0, ms) // 1000} s"
    return f"{ms // 60_000} min"


def size_text(n: float) -> str:
    """A byte count for a person: MiB under 1 GiB (a nearly full disk has far less than 0.01 GiB), else GiB."""
    if n < 1 << 30:
        return f"{n / (1 << 20):.0f} MiB" if n >= 10 << 20 else f"{n / (1 << 20):.1f} MiB"
    return f"{n / (1 << 30):.1f} GiB"


def problems(service: NodeService, health: Health | None, now: int) -> list[Problem]:
    """Everything wrong with this node now. ``health`` is None for a node that is not running: then
    only what the database, the disk and the config say is known (forks, quotas, disk, TLS, restore)."""
    found: list[Problem] = []
    if health is not None:
        for running_check in RUNNING_CHECKS:
            found += running_check(service, health, now)
    found += _disk(service, health, now)
    for check in STORED_CHECKS:
        found += check(service, now)
    return found


def _unreachable(service: NodeService, health: Health, now: int) -> list[Problem]:
    out = []
    for peer in PeerStore(service.db).trusted():
        since = health.down_since(peer.node_id, now)
        if since is not None:
            out.append(Problem(
                "peer-unreachable", since,
                f"partner {partner_name(service, peer.node_id)} has been unreachable since {iso(since)} ({_ago(now - since)})",
                f"check their URL ({peer.url}) with `orgnode trust list`, or ask their admin whether their node runs",
                peer.node_id))
    return out


def _skewed(service: NodeService, health: Health, now: int) -> list[Problem]:
    """One finding per partner: from its statements' stamps (ahead of us), else from its requests' clock."""
    out = []
    for peer in {*health.skews, *health.offsets}:
        skew = health.skews.get(peer)
        offset, since = health.offsets.get(peer, (0, None))
        name = partner_name(service, peer)
        if skew is not None and skew.count and now - skew.last <= SKEW_SHOWN_MS:
            what = (f"clock skew with partner {name}: their statements are ~{_ago(skew.ahead_ms)} ahead of this node's "
                    f"clock ({skew.count} statement(s) so far, still accepted)")
            first = skew.first
        elif since is not None:
            what = (f"clock skew with partner {name}: their clock is ~{_ago(abs(offset))} "
                    f"{'ahead of' if offset > 0 else 'behind'} this node's (measured from their signed requests)")
            first = since
        else:
            continue
        out.append(Problem("clock-skew", first, what, "check this machine's clock and ask their admin to check theirs "
                           "(run NTP); beyond 5 min apart the nodes refuse each other's requests (stale)", peer))
    return sorted(out, key=lambda p: p.since)


def _disk(service: NodeService, health: Health | None, now: int) -> list[Problem]:
    free, total = disk_usage(service.home.path)
    config = service.config
    percent = 100.0 * free / total if total else 100.0
    low = free < config.disk_warn_free_bytes or percent < config.disk_warn_free_percent
    if health is not None:
        health.disk_low_since = (health.disk_low_since or now) if low else None
    if not low:
        return []
    since = health.disk_low_since if health is not None and health.disk_low_since is not None else now
    return [Problem("disk-low", since,
                    f"the disk holding {service.home.path} is nearly full: {size_text(free)} free ({percent:.1f} % of the disk "
                    f"is free; warning below {size_text(config.disk_warn_free_bytes)} or {config.disk_warn_free_percent:g} %)",
                    "free space there (old logs, backups elsewhere) or grow the disk; writes are refused when it is full "
                    "(thresholds: disk_warn_free_bytes, disk_warn_free_percent in config.toml)")]


def _forks(service: NodeService, now: int) -> list[Problem]:
    """Evidence kept now (a cleared fork's evidence is archived and no longer shown: its statements flow again)."""
    return [Problem("fork-evidence", first,
                    f"partner {partner_name(service, author)} signed two different statements for one position in its "
                    f"log (fork evidence: {n} kept); this node refuses its statements from that position on until you "
                    "decide",
                    "ask their admin whether they restored an old backup or copied their node; once you have decided, "
                    f"clear it with `orgnode trust clear-fork {author.hex()[:16]} --reason \"...\"` (logged): its statements are "
                    "accepted again", author)
            for author, first, n in service.log.fork_summary()]


def _over_quota(service: NodeService, now: int) -> list[Problem]:
    return [Problem("over-quota", last,
                    f"partner {partner_name(service, peer)} is over its quota on this node: {refused} statement(s) "
                    f"refused, the latest at {iso(last)}",
                    "ask their admin why they send so much; `orgnode trust list` shows their usage", peer)
            for peer, refused, last in service.log.over_quota_since(now - OVER_QUOTA_SHOWN_MS)]


def _trusted(service: NodeService, peer: bytes) -> bool:
    """Findings about pushing to a peer matter only while it is on the trust list."""
    return PeerStore(service.db).is_trusted(peer)


def _told_fork(service: NodeService, health: Health, now: int) -> list[Problem]:
    """Partners that answered our own statements with ``fork`` (they hold another version of our log)."""
    me = service.node_id.hex()[:16]
    return [Problem("partner-holds-fork", since,
                    f"partner {partner_name(service, peer)} holds a different version of this node's log (fork) since "
                    f"{iso(since)} and refuses its statements",
                    f"ask {partner_name(service, peer)}'s admin to run `orgnode trust clear-fork {me}` after checking; "
                    "see docs/deploy.md", peer)
            for peer, since in sorted(health.told_fork.items(), key=lambda item: item[1]) if _trusted(service, peer)]


def _partner_disk_full(service: NodeService, health: Health, now: int) -> list[Problem]:
    return [Problem("partner-disk-full", since,
                    f"partner {partner_name(service, peer)}'s disk is full since {iso(since)}",
                    "its admin must free space; this node keeps the statements queued and pushes them when it can", peer)
            for peer, since in sorted(health.disk_full.items(), key=lambda item: item[1]) if _trusted(service, peer)]


def _refused(service: NodeService, health: Health, now: int) -> list[Problem]:
    """Partners this node could not even talk to: their TLS certificate or their address was refused."""
    out = []
    for peer, (kind, reason, since) in sorted(health.refused_since.items(), key=lambda item: item[1][2]):
        if not _trusted(service, peer):
            continue  # removed or blocked since: nothing to reach any more
        what = "TLS certificate" if kind == "certificate" else "address"
        out.append(Problem(f"peer-{'cert' if kind == 'certificate' else 'address'}-refused", since,
                           f"cannot reach partner {partner_name(service, peer)}: its {what} was refused ({reason})",
                           "ask their admin to fix their certificate (it must be valid for their URL and not expired)"
                           if kind == "certificate" else
                           "check their URL with `orgnode trust list`; private addresses need allow_private_peers", peer))
    return out


def _own_log_unconfirmed(service: NodeService, health: Health, now: int) -> list[Problem]:
    check = health.start_check
    if check is None or not check.pending or service.home.restored_path.exists():
        return []
    waiting = sorted(p.node_id.hex()[:16] for p in PeerStore(service.db).trusted() if p.node_id not in check.answered)
    return [Problem("own-log-unconfirmed", check.since_ms or now,
                    "waiting to confirm its own log with its partners after starting (its database may be an older "
                    f"copy): it signs nothing until they answered (not answered yet: {', '.join(waiting) or 'none'})",
                    "start the partners or wait; if no partner can answer, `orgnode restore-done --force` lets it sign "
                    "(logged)")]


def _restore_pending(service: NodeService, now: int) -> list[Problem]:
    path = service.home.restored_path
    if not path.exists():
        return []
    since = int(path.stat().st_mtime * 1000)
    what = ("ROLLED BACK: its database is older than its own log (a copied-back orgnode.db or a VM snapshot)"
            if restore_reason(service.home) == ROLLED_BACK else "RESTORED (with `orgnode restore`)")
    return [Problem("restore-pending", since,
                    f"{what}: relearning its own latest statements from its partners; it signs nothing until every "
                    "partner answered",
                    "run `orgnode sync`; `orgnode restore-done --force` if a partner is gone for good")]


def _lost_partners(service: NodeService, now: int) -> list[Problem]:
    return [Problem("lost-partner", now,
                    f"this node paired with a partner after its backup (own statement seq {seq}); its trust list is "
                    "older, so it cannot reach that partner",
                    "re-pair with it (`orgnode invite` there or here, then `orgnode trust accept`); the partner keeps "
                    "this node's statements")
            for seq in lost_partnerships(service)]


def _tls(service: NodeService, now: int) -> list[Problem]:
    found = []
    config = service.config
    if not config.tls_verify:
        found.append(Problem("tls-verify-off", now, "tls_verify = false: any certificate is accepted from partners",
                             "LAN/testing only: remove tls_verify from config.toml and restart"))
    expires = certificate_expiry(config, service.home.path)
    if expires is not None:
        days_left = math.floor((expires.timestamp() - now / 1000) / 86_400)
        when = expires.isoformat(timespec="minutes")[:16].replace("T", " ")
        if days_left < 0:
            found.append(Problem("cert-expired", int(expires.timestamp() * 1000),
                                 f"the TLS certificate this node serves EXPIRED on {when} UTC: partners refuse it",
                                 "renew it (e.g. `certbot renew`) and restart the node"))
        elif days_left < EXPIRY_WARNING_DAYS:
            found.append(Problem("cert-expiring", now,
                                 f"the TLS certificate this node serves expires in {days_left} day(s), on {when} UTC: "
                                 "partners refuse an expired one",
                                 "renew it (e.g. `certbot renew`) and restart the node"))
    return found


RUNNING_CHECKS: tuple[Callable[[NodeService, Health, int], list[Problem]], ...] = (
    _unreachable, _skewed, _told_fork, _partner_disk_full, _refused, _own_log_unconfirmed)
STORED_CHECKS: tuple[Callable[[NodeService, int], list[Problem]], ...] = (
    _forks, _over_quota, _restore_pending, _lost_partners, _tls)
