"""The import rule (docs/architecture.md): node -> storage -> protocol, never back.

protocol/ imports only the standard library, cryptography and msgpack, and none of the modules
that do I/O or read the clock or a random source; storage/ never imports node/; nothing imports node/
except node/ itself and the tests.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

PROTOCOL_FORBIDDEN = {
    "asyncio", "aiohttp", "sqlite3", "sqlite_utils", "socket", "zeroconf", "time", "random", "secrets",
    "os", "subprocess", "threading", "storage", "node", "ssl", "http", "urllib", "pathlib", "datetime",
}
PROTOCOL_ALLOWED_THIRD_PARTY = {"cryptography", "msgpack"}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def python_files(package: str) -> list[Path]:
    files = sorted((REPO / package).rglob("*.py"))
    assert files, package
    return files


def test_protocol_is_sans_io():
    import sys

    stdlib = set(sys.stdlib_module_names)
    for path in python_files("protocol"):
        found = imports_of(path)
        assert not found & PROTOCOL_FORBIDDEN, f"{path.relative_to(REPO)} imports {sorted(found & PROTOCOL_FORBIDDEN)}"
        third_party = {m for m in found if m not in stdlib and m not in {"protocol", "__future__"}}
        assert third_party <= PROTOCOL_ALLOWED_THIRD_PARTY, f"{path.relative_to(REPO)} imports {sorted(third_party)}"


def test_storage_does_not_import_node():
    for path in python_files("storage"):
        assert "node" not in imports_of(path), path


def test_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import asyncio\nfrom node.cli import main\n")
    assert {"asyncio", "node"} <= imports_of(bad)


def test_node_uses_no_private_storage_helpers():
    """node/ calls storage's public API; a `_name` imported from storage is a missing method."""
    for path in python_files("node"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("storage"):
                private = [alias.name for alias in node.names if alias.name.startswith("_")]
                assert not private, f"{path.relative_to(REPO)} imports {private} from {node.module}"
