"""The settings' documentation (docs/config.md and the README's table), rendered from the one table
of settings in node/config.py, so the docs cannot drift from what the node accepts."""

from __future__ import annotations

from typing import Any

import tomli_w

from node.config import KEYS, REQUIRED, _json, env_variable


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

<!-- Generated from node/config.py (KEYS) by `python -m node.config_docs > docs/config.md`;
tests/node/test_config.py checks that this file is exactly that output. -->

A node's settings live in `<home>/config.toml`, written by `orgnode init` and read when the node
starts (restart the node after editing it). It is [TOML](https://toml.io): `key = value`, text in
quotes, `true`/`false`, numbers as they are. A key not listed here, a value of the wrong type
(`lan_discovery = "no"`) or out of range (`sync_interval = 0`) is refused when the node starts,
naming the key and the allowed form; a TOML syntax error is reported with its line and column.
`lan_interface` and the `tls_*` paths have no TOML form for null: leave the key out to keep the default.

Every key can be overridden by an environment variable, `ORGNODE_` and the key in upper case
(for containers): `ORGNODE_SYNC_INTERVAL=60`, `ORGNODE_LAN_DISCOVERY=false`,
`ORGNODE_LISTEN_PORT=8470`. Booleans are `true` or `false`, numbers are written as numbers,
`ORGNODE_LAN_INTERFACE=null` means null. A variable set to a bad value is refused with its name, and
the variable wins over the file. An `ORGNODE_` variable that is neither a setting nor one the program
reads on purpose (`ORGNODE_HOME`, `ORGNODE_PASSPHRASE`, `ORGNODE_CLOCK_OFFSET`, `ORGNODE_DEBUG`,
`ORGNODE_ALLOW_PY_PARSER`) is ignored with a warning naming it and the closest setting
(`ORGNODE_SYNC_INTERVALL`: "did you mean ORGNODE_SYNC_INTERVAL?"): a stderr line for a command, a
`config.unknown-env` WARNING event for `orgnode run`.

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
