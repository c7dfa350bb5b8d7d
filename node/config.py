"""A node's settings (``config.toml`` in its home, ``ORGNODE_<KEY>`` overrides): one typed, validated ``Config``.

``KEYS`` is the one table of settings: each key's type, allowed range or form, default and meaning.
``Config`` checks every value against it when it is made, so a home whose file says
``"lan_discovery": "no"`` or ``"sync_interval": 0`` or holds a misspelt key is refused with the key's
name and the form it expects, never read as something else. The README's settings table and
docs/config.md are rendered from the same table (node/config_docs.py: ``readme_table``, ``docs_config``;
``tests/node/test_config.py`` checks they agree). Environment variables ``ORGNODE_<KEY>`` (the key in
upper case) override the file for containers; ``env_overrides`` parses them with the same checks and
names the variable when one is wrong. The file is TOML (read with ``tomllib``, written with
``tomli_w``); TOML has no null, so a null setting is written by leaving its key out.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import tomli_w

from node.core.errors import UserError
from node.listen_address import is_loopback_host as is_loopback_host
from node.listen_address import split_listen as split_listen
from protocol.bodies import SECTORS
from protocol.peer_url import base_url_problem

REQUIRED = object()  # the default of a key every config.toml must hold
CONFIG_FILE = "config.toml"
ENV_PREFIX = "ORGNODE_"
DAY_S = 86_400.0
# Shortest timer interval, seconds. Sub-second values serve the test networks and the demo (their
# nodes exchange within a second); zero, negative and absurd values are refused.
MIN_INTERVAL_S = 0.1


@dataclass(frozen=True)
class Key:
    """One setting: its JSON type, its allowed values, its default and what it does."""

    name: str
    kind: str  # "text", "number", "whole", "bool", "choice", "ip-or-null", "url", "listen-or-off", "path-or-null"
    default: Any
    meaning: str
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""

    @property
    def expected(self) -> str:
        """The allowed form in words, as the error message and the README state it."""
        if self.kind in ("number", "whole"):
            unit = f" of {self.unit}" if self.unit else ""
            noun = "a number" if self.kind == "number" else "a whole number"
            return f"{noun}{unit} from {self.low:g} to {self.high:g}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return {
            "text": "non-empty text",
            "bool": "true or false",
            "ip-or-null": "an IP address, or null",
            "path-or-null": "a file path (absolute, or relative to the home), or unset",
            "url": "a base URL like https://orgnode.example.org (http or https, no user name, query or fragment)",
            "listen-or-off": 'HOST:PORT (e.g. "127.0.0.1:9470"; port 0 picks a free one), or "" for off',
        }[self.kind]

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed for this key, or None if it is."""
        return _CHECKS[self.kind](self, value)


def _text(key: Key, value: Any) -> str | None:
    return None if isinstance(value, str) and value.strip() else "not " + key.expected


def _number(key: Key, value: Any) -> str | None:
    whole = key.kind == "whole"
    if isinstance(value, bool) or not isinstance(value, int if whole else int | float):
        return "not " + ("a whole number" if whole else "a number")
    assert key.low is not None and key.high is not None
    return None if key.low <= value <= key.high else "out of range"


def _bool(key: Key, value: Any) -> str | None:
    return None if isinstance(value, bool) else "not true or false"


def _choice(key: Key, value: Any) -> str | None:
    return None if value in key.choices else "not one of the choices"


def _ip_or_null(key: Key, value: Any) -> str | None:
    if value is None:
        return None
    try:
        ipaddress.ip_address(value)
    except (TypeError, ValueError):
        return "not an IP address"
    return None


def _path_or_null(key: Key, value: Any) -> str | None:
    if value is None:
        return None
    return None if isinstance(value, str) and value.strip() and "\0" not in value else "not a file path"


def _url(key: Key, value: Any) -> str | None:
    if not isinstance(value, str):
        return "not text"
    return base_url_problem(value)


def _listen_or_off(key: Key, value: Any) -> str | None:
    if not isinstance(value, str):
        return "not text"
    return None if value == "" or split_listen(value) is not None else "not HOST:PORT"


_CHECKS: dict[str, Callable[[Key, Any], str | None]] = {
    "text": _text, "number": _number, "whole": _number, "bool": _bool, "choice": _choice,
    "ip-or-null": _ip_or_null, "url": _url, "listen-or-off": _listen_or_off,
    "path-or-null": _path_or_null,
}

KEYS: tuple[Key, ...] = (
    Key("name", "text", REQUIRED, "the organization's name, shown to partners in its org card"),
    Key("sector", "choice", REQUIRED, "the organization's sector, in its org card (partners' consent scopes name it)",
        choices=SECTORS),
    Key("listen_host", "text", REQUIRED, "the address the federation server listens on"),
    Key("listen_port", "whole", REQUIRED, "the port the federation server listens on", 0, 65535),
    Key("url", "url", REQUIRED, "the base URL partners reach this node at, published in its org card"),
    Key("sync_interval", "number", 30.0, "seconds between pulls from each partner", MIN_INTERVAL_S, DAY_S, unit="seconds"),
    Key("retry_base", "number", 30.0, "first push retry delay after a failure, doubling per failure",
        MIN_INTERVAL_S, DAY_S, unit="seconds"),
    Key("retry_cap", "number", 3 * 3600.0, "longest push retry delay (at least `retry_base`)",
        MIN_INTERVAL_S, 7 * DAY_S, unit="seconds"),
    Key("checkpoint_interval", "number", 60.0, "seconds between signed checkpoints of the own log (when it grew)",
        MIN_INTERVAL_S, DAY_S, unit="seconds"),
    Key("lan_discovery", "bool", True, "LAN pairing by request: serve `/federation/v1/pair-request` and `pair-confirm`, "
        "allow `trust request`, and announce the node. `false`: those endpoints do not exist (404) and nothing is announced"),
    Key("lan_advertise", "bool", True, "with `lan_discovery` on, announce the node over mDNS multicast; `false` keeps "
        "serving pairing requests without announcing"),
    Key("lan_interface", "ip-or-null", None, "the IP address of the interface to announce and browse on "
        "(null: the listen address, or all)"),
    Key("allow_private_peers", "bool", False, "contact partners whose URL is (or resolves to) a loopback, private "
        "(RFC 1918, ULA), link-local or other non-public address. Needed on a LAN and for nodes on 127.0.0.1; "
        "`orgnode init --allow-private-peers` sets it. Off, such partners are refused at connect time and flagged "
        "in `trust list`"),
    Key("read_timeout", "number", 10.0, "seconds a federation connection has to deliver a request head, and then its body",
        0.1, 600.0, unit="seconds"),
    Key("max_connections_per_address", "whole", 32, "open federation connections one source may hold: an IPv4 address, "
        "or a global IPv6 /64", 1, 10_000),
    Key("max_connections", "whole", 1024, "open federation connections the whole node holds", 1, 100_000),
    Key("metrics_listen", "listen-or-off", "127.0.0.1:0", "where `orgnode run` serves Prometheus metrics at `/metrics` "
        "(a listener of its own, never the federation port). Port 0 picks a free port, shown as `metrics_url` by "
        "`orgnode status`; give a fixed one (e.g. `127.0.0.1:9470`) for a Prometheus scrape config. `\"\"` turns it "
        "off. A non-loopback address is refused unless `metrics_allow_remote` is true"),
    Key("metrics_allow_remote", "bool", False, "allow `metrics_listen` on an address other than loopback (the metrics "
        "carry no personal data, but do show who this node exchanges with and how much: put a firewall in front)"),
    Key("dashboard_enabled", "bool", True, "serve the staff web dashboard (a listener of its own, never the federation port); "
        "its address is shown as `dashboard_url` by `orgnode status`. Accounts: `orgnode user add`"),
    Key("dashboard_listen", "listen-or-off", "127.0.0.1:0", "where `orgnode run` serves the web dashboard. Port 0 picks "
        "a free port (see `dashboard_url` in `orgnode status`); give a fixed one (e.g. `127.0.0.1:9480`) to bookmark it. "
        "`\"\"` turns it off. A non-loopback address is refused unless `dashboard_allow_remote` is true and the node "
        "serves TLS (`tls_cert`, `tls_key`)"),
    Key("dashboard_allow_remote", "bool", False, "allow `dashboard_listen` on an address other than loopback; the dashboard is "
        "then served over HTTPS with the node's `tls_cert`/`tls_key` (required): passwords and candidates' data never cross a network in clear"),
    Key("unreachable_warn_after", "number", 3600.0, "a partner unreachable this long is logged at warning "
        "(`peer.unreachable`, once) and shown as a problem by `orgnode status`", MIN_INTERVAL_S, 30 * DAY_S,
        unit="seconds"),
    Key("skew_warn", "number", 60.0, "a partner's statement stamped this far ahead of this node's clock is counted "
        "as clock skew (still accepted), and a partner whose signed requests show its clock this far ahead or behind "
        "is flagged; both are shown by `orgnode status`. Requests more than 300 s apart are refused anyway (`stale`)",
        1.0, DAY_S, unit="seconds"),
    Key("disk_warn_free_bytes", "whole", 1 << 30, "`orgnode status` warns when the home's file system has less free "
        "space than this", 0, 10**15, unit="bytes"),
    Key("disk_warn_free_percent", "number", 5.0, "`orgnode status` warns when the home's file system has less than "
        "this share free", 0.0, 100.0, unit="percent"),
    Key("tls_cert", "path-or-null", None, "PEM certificate chain (leaf first) the federation server presents: with "
        "`tls_key` set too, `orgnode run` serves HTTPS itself (TLS 1.2 or later) and `url` must be https://. Checked "
        "at start: readable, not expired, matching the key. Unset: plain HTTP (behind a TLS proxy, or on a LAN)"),
    Key("tls_key", "path-or-null", None, "PEM private key of `tls_cert` (unencrypted; keep it mode 0600, owned by the "
        "node's user)"),
    Key("tls_ca_file", "path-or-null", None, "PEM file of extra certificate authorities trusted for partners' "
        "https:// URLs (a private CA), on top of the system trust store"),
    Key("tls_verify", "bool", True, "verify partners' TLS certificates (chain and host name) on https:// URLs. "
        "`false` is for LAN tests only: it is logged at warning on every start and shown in `orgnode status`"),
    Key("shutdown_grace", "number", 10.0, "on SIGTERM, seconds the node lets in-flight pushes, pulls and partners' "
        "requests finish (it accepts no new connections meanwhile) before it cuts them; a cut push is retried after the "
        "restart", 0.0, 600.0, unit="seconds"),
    Key("own_log_confirm_timeout", "number", 60.0, "after a start, seconds the node waits for unreachable partners to "
        "confirm its own log once one partner did, before it signs again (no partner answering: it keeps waiting "
        "until `orgnode restore-done --force`)", MIN_INTERVAL_S, DAY_S, unit="seconds"),
    Key("share_staff_names", "bool", False, "put the signed-in staff member's user name into the referral status changes "
        "and outcome corrections this node signs from the dashboard (field `acted_by`), so partners see who did it. "
        "`false`: who did what is recorded only here (the referral's history) and never sent"),
)
KEY_BY_NAME: dict[str, Key] = {key.name: key for key in KEYS}


def _fix(key: Key) -> str:
    default = "" if key.default is REQUIRED else f" (the default is {_json(key.default)})"
    return f"fix it in {CONFIG_FILE}{default}"


def _json(value: Any) -> str:
    return json.dumps(value)


def check_value(key: Key, value: Any) -> None:
    """Refuse ``value`` for ``key`` naming the key, what it must be and what it got."""
    if key.problem(value) is not None:
        raise UserError(f"config key {key.name} must be {key.expected}, got {_json_or_repr(value)}; {_fix(key)}",
                        field=key.name)


def _json_or_repr(value: Any) -> str:
    try:
        return _json(value)
    except (TypeError, ValueError):
        return repr(value)


@dataclass(frozen=True)
class Config:
    """The settings of one node; every field is a key of ``KEYS`` (same order) and checked against it."""

    name: str
    sector: str
    listen_host: str
    listen_port: int
    url: str
    sync_interval: float = 30.0
    retry_base: float = 30.0
    retry_cap: float = 3 * 3600.0
    checkpoint_interval: float = 60.0
    lan_discovery: bool = True
    lan_advertise: bool = True
    lan_interface: str | None = None
    allow_private_peers: bool = False
    read_timeout: float = 10.0
    max_connections_per_address: int = 32
    max_connections: int = 1024
    metrics_listen: str = "127.0.0.1:0"
    metrics_allow_remote: bool = False
    dashboard_enabled: bool = True
    dashboard_listen: str = "127.0.0.1:0"
    dashboard_allow_remote: bool = False
    unreachable_warn_after: float = 3600.0
    skew_warn: float = 60.0
    disk_warn_free_bytes: int = 1 << 30
    disk_warn_free_percent: float = 5.0
    tls_cert: str | None = None
    tls_key: str | None = None
    tls_ca_file: str | None = None
    tls_verify: bool = True
    shutdown_grace: float = 10.0
    own_log_confirm_timeout: float = 60.0
    share_staff_names: bool = False

    def __post_init__(self) -> None:
        for f in fields(self):
            check_value(KEY_BY_NAME[f.name], getattr(self, f.name))
        metrics = self.metrics_address
        if metrics is not None and not self.metrics_allow_remote and not is_loopback_host(metrics[0]):
            raise UserError(f"config key metrics_listen is {metrics[0]}, not a loopback address: the metrics listener "
                            f"serves only this machine unless metrics_allow_remote = true; use 127.0.0.1:PORT (and a "
                            f"reverse proxy) or set metrics_allow_remote in {CONFIG_FILE}", field="metrics_listen")
        dashboard = self.dashboard_address  # remote: only when allowed, and only over the node's TLS certificate
        if dashboard is not None and not is_loopback_host(dashboard[0]) and not (self.dashboard_allow_remote and self.serves_tls):
            raise UserError(f"config key dashboard_listen is {dashboard[0]}, not a loopback address: the dashboard serves only "
                            "this machine unless dashboard_allow_remote = true and tls_cert/tls_key are set (HTTPS); use "
                            f"127.0.0.1:PORT (an SSH tunnel or a reverse proxy) or set those in {CONFIG_FILE}", field="dashboard_listen")
        if (self.tls_cert is None) != (self.tls_key is None):
            given, missing = ("tls_cert", "tls_key") if self.tls_key is None else ("tls_key", "tls_cert")
            raise UserError(f"config key {given} is set but {missing} is not: serving HTTPS needs both the certificate "
                            f"and its private key; set {missing} in {CONFIG_FILE} (or remove {given})", field=missing)
        if self.serves_tls and not self.url.lower().startswith("https://"):
            raise UserError(f"config key url must be an https:// URL when tls_cert is set (this node serves HTTPS), got "
                            f"{_json(self.url)}; fix it with `orgnode set-url https://…`", field="url")
        if self.retry_cap < self.retry_base:
            raise UserError(f"config key retry_cap must be at least retry_base ({self.retry_base:g} s), got "
                            f"{self.retry_cap:g}; fix it in {CONFIG_FILE}", field="retry_cap")

    @property
    def serves_tls(self) -> bool:
        """The federation server speaks HTTPS itself (``tls_cert`` and ``tls_key`` given)."""
        return self.tls_cert is not None and self.tls_key is not None

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        """(host, port) of the metrics listener, or None when ``metrics_listen`` is off."""
        return split_listen(self.metrics_listen) if self.metrics_listen else None

    @property
    def dashboard_address(self) -> tuple[str, int] | None:
        """(host, port) of the dashboard listener, or None when it is off (disabled, or ``dashboard_listen`` "")."""
        return split_listen(self.dashboard_listen) if self.dashboard_enabled and self.dashboard_listen else None

    @classmethod
    def from_mapping(cls, data: object, source: str = CONFIG_FILE) -> Config:
        """A config from the parsed settings file ``source``: unknown and missing keys are refused by name."""
        if not isinstance(data, Mapping):
            raise UserError(f"{source} must hold one table of settings (name = …, …); "
                            f"rewrite it with the keys listed in docs/config.md")
        for name in data:
            if name not in KEY_BY_NAME:
                close = difflib.get_close_matches(str(name), KEY_BY_NAME, n=1)
                hint = f" (did you mean {close[0]}?)" if close else ""
                raise UserError(f"config key {_json_or_repr(name)} is not a setting{hint}; remove it from {source} "
                                "(the settings are listed in docs/config.md)", field=str(name))
        for key in KEYS:
            if key.default is REQUIRED and key.name not in data:
                raise UserError(f"config key {key.name} is missing: it must be {key.expected}; add it to {source}",
                                field=key.name)
        return cls(**{str(k): v for k, v in data.items()})

    def to_toml(self) -> bytes:
        """The settings as ``config.toml`` text; a null setting is left out (TOML has no null)."""
        values = {k: v for k, v in asdict(self).items() if v is not None}
        return (_TOML_HEADER + tomli_w.dumps(values)).encode()


_TOML_HEADER = ("# orgnode settings: every key is described in docs/config.md. Restart the node after editing.\n"
                "# Environment variables ORGNODE_<KEY> (e.g. ORGNODE_SYNC_INTERVAL=60) override this file.\n")


def env_variable(key: Key) -> str:
    """The environment variable that overrides ``key``: ``ORGNODE_`` and the key in upper case."""
    return ENV_PREFIX + key.name.upper()


# The ORGNODE_ variables the program reads on purpose that are not settings: the home, the key
# passphrase, a test's skewed clock, tracebacks, and aiohttp's pure-Python parser allowed (tests).
# tests/node/test_config.py checks every ORGNODE_ name in node/ is here or a setting's.
PROGRAM_VARIABLES = frozenset({"ORGNODE_HOME", "ORGNODE_PASSPHRASE", "ORGNODE_CLOCK_OFFSET", "ORGNODE_DEBUG",
                               "ORGNODE_ALLOW_PY_PARSER"})


def unknown_env_variables(environ: Mapping[str, str] | None = None) -> list[tuple[str, str | None]]:
    """Each ``ORGNODE_*`` variable nothing reads, with the closest known name (or None): a misspelt
    setting (``ORGNODE_SYNC_INTERVALL``) would otherwise be silently ignored. Names only, no values."""
    env = os.environ if environ is None else environ
    known = {env_variable(key) for key in KEYS} | PROGRAM_VARIABLES
    tails = sorted(name.removeprefix(ENV_PREFIX) for name in known)  # compared without the shared prefix

    def closest(name: str) -> str | None:
        match = difflib.get_close_matches(name.removeprefix(ENV_PREFIX), tails, n=1, cutoff=0.8)
        return ENV_PREFIX + match[0] if match else None

    return [(name, closest(name)) for name in sorted(n for n in env if n.startswith(ENV_PREFIX) and n not in known)]


def unknown_env_warning(name: str, close: str | None) -> str:
    """The warning line for one of ``unknown_env_variables``."""
    hint = f"did you mean {close}?" if close else "the settings are listed in docs/config.md"
    return f"warning: environment variable {name} is not an orgnode setting and is ignored; {hint}"


def env_overrides(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The settings set by ``ORGNODE_<KEY>`` variables, parsed and checked; a bad one is refused by name."""
    env = os.environ if environ is None else environ
    return {key.name: _env_value(key, env[env_variable(key)]) for key in KEYS if env_variable(key) in env}


def _env_value(key: Key, text: str) -> Any:
    """``text`` as ``key``'s type: true/false, a number, text, or null for an optional address."""
    value = _parse_env_text(key, text.strip())
    if key.problem(value) is not None:
        raise UserError(f"environment variable {env_variable(key)} must be {key.expected}, got {_json(text)}; "
                        f"fix it or unset it", field=key.name)
    return value


def _parse_env_text(key: Key, text: str) -> Any:
    if key.kind == "bool":
        return {"true": True, "false": False}.get(text.lower(), text)
    if key.kind in ("number", "whole"):
        # ASCII digits only: int()/float() would also take "1_000", "٣", "nan" and "inf".
        if re.fullmatch(r"-?[0-9]{1,18}", text):
            return int(text) if key.kind == "whole" else float(text)
        if key.kind == "number" and re.fullmatch(r"-?[0-9]{1,18}\.[0-9]{1,18}", text):
            return float(text)
        return text
    if key.kind in ("ip-or-null", "path-or-null") and text.lower() in ("", "null"):
        return None
    return text
