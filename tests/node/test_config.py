"""Issue 9 item 8: one typed, validated Config. Every key of config.json is checked against one table
(node/config.py ``KEYS``): unknown keys, wrong types and out-of-range values are refused naming the
key and the allowed form, and the README's settings table is that same table."""

from __future__ import annotations

import json
from dataclasses import MISSING, asdict, fields
from pathlib import Path

import pytest

from node.config import KEYS, REQUIRED, Config, readme_table
from node.core.errors import UserError
from node.home import Home

REPO = Path(__file__).resolve().parents[2]
GOOD = {"name": "Youth Futures", "sector": "nonprofit", "listen_host": "127.0.0.1", "listen_port": 8470,
        "url": "http://127.0.0.1:8470"}


@pytest.fixture
def home(tmp_path):
    home = Home(tmp_path / "h")
    home.path.mkdir(mode=0o700)
    return home


def write(home: Home, data: object) -> None:
    home.config_path.write_text(json.dumps(data))


@pytest.mark.parametrize(("key", "value", "says", "allowed"), [
    ("lan_discovery", "no", "config key lan_discovery must be true or false, got \"no\"", False),
    ("lan_advertise", 0, "config key lan_advertise must be true or false, got 0", False),
    ("allow_private_peers", "true", "config key allow_private_peers must be true or false", True),
    ("sync_interval", 0, "config key sync_interval must be a number of seconds from 0.1 to 86400, got 0", 1),
    ("sync_interval", -5, "config key sync_interval must be a number of seconds", 1),
    ("sync_interval", "30", "config key sync_interval must be a number", 1),
    ("retry_base", 10**9, "config key retry_base must be a number of seconds from 0.1 to 86400", 60),
    ("retry_cap", 5.0, "config key retry_cap must be at least retry_base", 60.0),
    ("checkpoint_interval", None, "config key checkpoint_interval must be a number", 0.5),
    ("read_timeout", True, "config key read_timeout must be a number of seconds from 0.1 to 600", 600),
    ("max_connections", 2.5, "config key max_connections must be a whole number from 1 to 100000", 1),
    ("listen_port", 70000, "config key listen_port must be a whole number from 0 to 65535", 0),
    ("sector", "charity", "config key sector must be one of nonprofit, social_enterprise", "company"),
    ("name", "  ", "config key name must be non-empty text", "A"),
    ("url", "http://user@example.org", "config key url must be a base URL", "https://example.org/orgnode"),
    ("lan_interface", "eth0", "config key lan_interface must be an IP address, or null", "fe80::1"),
])
def test_a_bad_value_is_refused_with_the_key_and_the_allowed_form(home, key, value, says, allowed):
    write(home, {**GOOD, key: value})
    with pytest.raises(UserError) as info:
        home.load_config()
    assert says in str(info.value) and str(home.config_path) in str(info.value)
    assert info.value.field == key
    write(home, {**GOOD, key: allowed})
    assert getattr(home.load_config(), key) == allowed  # positive control: the same key with an allowed value loads


def test_an_unknown_key_is_refused_by_name_with_a_suggestion(home):
    write(home, {**GOOD, "lan_discovry": False})
    with pytest.raises(UserError, match=r'config key "lan_discovry" is not a setting \(did you mean lan_discovery\?\); '
                                        r"remove it from config.json"):
        home.load_config()
    write(home, {**GOOD, "colour": "blue"})
    with pytest.raises(UserError, match=r'config key "colour" is not a setting; remove it'):
        home.load_config()


def test_a_missing_required_key_or_a_non_object_is_refused(home):
    write(home, {k: v for k, v in GOOD.items() if k != "url"})
    with pytest.raises(UserError, match="config key url is missing: it must be a base URL"):
        home.load_config()
    write(home, ["not", "an", "object"])
    with pytest.raises(UserError, match="must hold one JSON object"):
        home.load_config()


def test_existing_homes_keep_loading(home):
    """A config.json as `init` wrote it before (every key, defaults as floats) and a minimal one
    (from before the later keys existed) both load, with the defaults filled in."""
    saved = {**GOOD, "sync_interval": 30.0, "retry_base": 30.0, "retry_cap": 10800.0, "checkpoint_interval": 60.0,
             "lan_discovery": True, "lan_advertise": True, "lan_interface": None, "allow_private_peers": False,
             "read_timeout": 10.0, "max_connections_per_address": 32, "max_connections": 1024}
    write(home, saved)
    assert asdict(home.load_config()) == saved
    write(home, GOOD)
    assert home.load_config() == Config(**GOOD)
    home.save_config(Config(**GOOD, sync_interval=2, lan_interface="192.168.1.4"))  # and a saved one reloads
    assert home.load_config().lan_interface == "192.168.1.4"


def test_config_fields_are_exactly_the_table():
    """The dataclass and the table list the same keys, in the same order, with the same defaults."""
    assert [f.name for f in fields(Config)] == [k.name for k in KEYS]
    for f, key in zip(fields(Config), KEYS, strict=True):
        assert (REQUIRED if f.default is MISSING else f.default) == key.default, key.name


def test_the_readme_settings_table_is_the_config_table():
    readme = (REPO / "README.md").read_text()
    table = readme_table()
    assert table in readme, "README settings table differs from node/config.py KEYS; paste:\n" + table
    start = readme.index("| key | default | allowed | meaning |")
    block = readme[start:readme.index("\n\n", start) + 1]
    assert block == table  # the whole table: no extra or missing row
    assert [row.split("|")[1].strip(" `") for row in block.splitlines()[2:]] == [k.name for k in KEYS]
