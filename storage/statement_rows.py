"""Statements as the tables keep them (``entries``, ``foreign_statements``): one row shape, read back
into a ``Statement`` the same way wherever it is stored, and the bytes it counts for against a quota."""

from __future__ import annotations

from typing import Any

from protocol.statement import Header, Statement


def opt_bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None


def row_to_statement(row: dict[str, Any]) -> Statement:
    header_bytes = bytes(row["header"])
    body = row.get("body")
    salt = row.get("salt")
    return Statement(
        Header.decode(header_bytes),
        header_bytes,
        bytes(row["signature"]),
        bytes(body) if body is not None else None,
        bytes(salt) if salt is not None else None,
    )


def stored_size(statement: Statement) -> int:
    """The bytes a statement makes this node keep: what a peer's stored-data quota counts."""
    return len(statement.header_bytes) + len(statement.signature) + len(statement.salt or b"") + len(statement.body or b"")
