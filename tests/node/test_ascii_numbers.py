"""Numbers typed by an admin (CLI durations, ORGNODE_* settings) take ASCII digits only: ``\\d``,
``int()`` and ``float()`` would also take '٣', '1_000', 'nan' and 'inf' (issue 13 item 4 sweep)."""

from __future__ import annotations

import pytest

from node.cli.common import parse_duration_ms
from node.config import Key, _parse_env_text
from node.core.errors import UserError


def test_durations() -> None:
    assert parse_duration_ms("3d") == 3 * 86_400_000
    for text in ("٣d", "1_0d", "+3d", "３d"):
        with pytest.raises(UserError):
            parse_duration_ms(text)


def test_env_numbers() -> None:
    whole = Key("x", "whole", 1, "test")
    number = Key("y", "number", 1.0, "test")
    assert _parse_env_text(whole, "42") == 42 and _parse_env_text(number, "2.5") == 2.5 and _parse_env_text(number, "-3") == -3.0
    for text in ("٣", "1_000", " 4", "nan", "inf", "1e3", "+5"):
        assert _parse_env_text(whole, text) == text  # left as text: the key check then refuses it by name
        assert _parse_env_text(number, text) == text
