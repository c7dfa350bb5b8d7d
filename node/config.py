"""A node's settings (``config.toml`` in its home, ``ORGNODE_<KEY>`` overrides): one typed, validated ``Config``.

``KEYS`` is the one table of settings: each key's type, allowed range or form, default and meaning.
``Config`` checks every value against it when it is made, so a home whose file says
``"lan_discovery": "no"`` or ``"sync_interval": 0`` or holds a misspelt key is refused with the key's
name and the form it expects, never read as something else. The README's settings table and
docs/config.md are rendered from the same table (``readme_table``, ``docs_config``;
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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import tomli_w

from node.core.errors import UserError
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
    kind: str  # "text", "number", "whole", "bool", "choice", "ip-or-null", "url"
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
            "url": "a base URL like https://orgnode.example.org (http or https, no user name, query or fragment)",
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


def _url(key: Key, value: Any) -> str | None:
    if not isinstance(value, str):
        return "not text"
    return base_url_problem(value)


_CHECKS: dict[str, Callable[[Key, Any], str | None]] = {
    "text": _text, "number": _number, "whole": _number, "bool": _bool, "choice": _choice,
    "ip-or-null": _ip_or_null, "url": _url,
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
    Key("own_log_confirm_timeout", "number", 60.0, "after a start, seconds the node waits for unreachable partners to "
        "confirm its own log once one partner did, before it signs again (no partner answering: it keeps waiting "
        "until `orgnode restore-done --force`)", MIN_INTERVAL_S, DAY_S, unit="seconds"),
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
    own_log_confirm_timeout: float = 60.0

    def __post_init__(self) -> None:
        for f in fields(self):
            check_value(KEY_BY_NAME[f.name], getattr(self, f.name))
        if self.retry_cap < self.retry_base:
            raise UserError(f"config key retry_cap must be at least retry_base ({self.retry_base:g} s), got "
                            f"{self.retry_cap:g}; fix it in {CONFIG_FILE}", field="retry_cap")

    @property
    def listen(self) -> str:
        return f"{self.listen_host}:{self.listen_port}"

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
        try:
            return int(text) if key.kind == "whole" else float(text)
        except ValueError:
            return text
    if key.kind == "ip-or-null" and text.lower() in ("", "null"):
        return None
    return text


def readme_table() -> str:
    """The README's settings table, rendered from ``KEYS``."""
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key in KEYS:
        default = "required" if key.default is REQUIRED else f"`{_json(key.default)}`"
        rows.append(f"| `{key.name}` | {default} | {key.expected} | {key.meaning} |")
    return "\n".join(rows) + "\n"


def docs_config() -> str:
    """docs/config.md, rendered from ``KEYS``: every option with its default, form, variable and meaning."""
    parts = [_DOCS_INTRO]
    for key in KEYS:
        default = "required (no default)" if key.default is REQUIRED else (
            "unset (null)" if key.default is None else f"`{_toml_value(key.default)}`")
        parts.append(f"## `{key.name}`\n\n{key.meaning[0].upper()}{key.meaning[1:]}.\n\n"
                     f"- Default: {default}\n- Allowed: {key.expected}\n"
                     f"- Environment override: `{env_variable(key)}`\n")
    return "\n".join(parts)


def _toml_value(value: Any) -> str:
    return tomli_w.dumps({"v": value}).split("=", 1)[1].strip()


_DOCS_INTRO = """# Configuration

<!-- Generated from node/config.py (KEYS) by `python -m node.config > docs/config.md`;
tests/node/test_config.py checks that this file is exactly that output. -->

A node's settings live in `<home>/config.toml`, written by `orgnode init` and read when the node
starts (restart the node after editing it). It is [TOML](https://toml.io): `key = value`, text in
quotes, `true`/`false`, numbers as they are. A key not listed here, a value of the wrong type
(`lan_discovery = "no"`) or out of range (`sync_interval = 0`) is refused when the node starts,
naming the key and the allowed form; a TOML syntax error is reported with its line and column.
`lan_interface` has no TOML form for null: leave the key out to keep the default.

Every key can be overridden by an environment variable, `ORGNODE_` and the key in upper case
(for containers): `ORGNODE_SYNC_INTERVAL=60`, `ORGNODE_LAN_DISCOVERY=false`,
`ORGNODE_LISTEN_PORT=8470`. Booleans are `true` or `false`, numbers are written as numbers,
`ORGNODE_LAN_INTERFACE=null` means null. A variable set to a bad value is refused with its name, and
the variable wins over the file.

A home made by an older version holds `config.json` instead: the first command that opens the
home writes the same settings to `config.toml` (mode 0600), renames the old file to
`config.json.migrated` and logs `config.migrated`. Only `config.toml` is read afterwards; a home
holding both `config.toml` and `config.json` is refused until one is removed.

Example:

```toml
name = "Youth Futures"
sector = "nonprofit"
listen_host = "0.0.0.0"
listen_port = 8470
url = "https://orgnode.example.org"
sync_interval = 60.0
```
"""


if __name__ == "__main__":
    print(docs_config(), end="")
