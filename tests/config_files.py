"""Read and edit a test home's ``config.toml`` (what ``orgnode init`` writes), as an admin would."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import tomli_w


def config_file(home: Path | str) -> Path:
    return Path(home) / "config.toml"


def read_config(home: Path | str) -> dict[str, Any]:
    return tomllib.loads(config_file(home).read_text())


def write_config(home: Path | str, data: dict[str, Any]) -> None:
    """Write ``data`` as the home's config.toml; None values are left out (TOML has no null)."""
    config_file(home).write_text(tomli_w.dumps({k: v for k, v in data.items() if v is not None}))


def update_config(home: Path | str, **changes: Any) -> dict[str, Any]:
    """Set ``changes`` in the home's config.toml; returns the config as it was before."""
    before = read_config(home)
    write_config(home, {**before, **changes})
    return before
