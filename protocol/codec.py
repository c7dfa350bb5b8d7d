"""Bounded msgpack encoding and decoding (THREATS.md row 9).

Every decode checks the input length before msgpack sees it, caps every container and string,
refuses ext types, non-string and repeated map keys, and turns every failure into ``RemoteProtocolError``
with a stable code. ``unpackb`` is used (never a long-lived ``Unpacker``), so no decoder state
survives an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgpack

from protocol.errors import MALFORMED, TOO_LARGE, UNKNOWN_VERSION, RemoteProtocolError


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps for one kind of message; sized to the largest legitimate instance of it."""

    max_bytes: int
    max_str_len: int = 64 * 1024
    max_bin_len: int = 256 * 1024
    max_array_len: int = 1024
    max_map_len: int = 256
    max_depth: int = 16


DEFAULT_LIMITS = Limits(max_bytes=256 * 1024)


def encode(value: Any) -> bytes:
    """Encode with the fixed settings the spec names: bin type for bytes, UTF-8 str, no floats added."""
    return msgpack.packb(value, use_bin_type=True, strict_types=False)  # type: ignore[no-any-return]


def _refuse_ext(code: int, data: bytes) -> Any:
    raise RemoteProtocolError(MALFORMED, f"msgpack ext type {code} is not allowed")


def _unique_keys(pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
    """Build a map, refusing a repeated key: msgpack-python would keep the last value silently, so
    two decoders could read one body differently (docs/protocol.md section 2)."""
    value = dict(pairs)
    if len(value) != len(pairs):
        raise RemoteProtocolError(MALFORMED, "a map repeats a key")
    return value


def _depth(value: Any, limit: int) -> None:
    """Enforce the nesting limit (a value inside ``limit`` containers is at depth ``limit + 1``:
    refused), and the spec's "no floats anywhere, map keys are strings". Only containers are put on
    the stack and a container's scalars are checked in one pass (issue 11 item 3: this walk was ~7%
    of ingest); unpackb yields exact types, so ``type(...) is`` is exact."""
    kind = type(value)
    if kind is float:
        raise RemoteProtocolError(MALFORMED, "floats are not allowed")
    if kind is not list and kind is not dict and kind is not tuple:
        if limit < 1:
            raise RemoteProtocolError(MALFORMED, f"nesting deeper than {limit}")
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > limit:
            raise RemoteProtocolError(MALFORMED, f"nesting deeper than {limit}")
        if type(item) is dict:
            if not all(type(key) is str for key in item):
                raise RemoteProtocolError(MALFORMED, "map keys must be strings")
            children: Any = item.values()
        else:
            children = item
        if depth >= limit and len(children):
            raise RemoteProtocolError(MALFORMED, f"nesting deeper than {limit}")
        for child in children:
            kind = type(child)
            if kind is list or kind is dict or kind is tuple:
                stack.append((child, depth + 1))
            elif kind is float:
                raise RemoteProtocolError(MALFORMED, "floats are not allowed")


def decode(data: bytes, limits: Limits = DEFAULT_LIMITS) -> Any:
    """Decode one msgpack value from ``data`` under ``limits``; only typed errors escape."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise RemoteProtocolError(MALFORMED, "expected bytes")
    if len(data) > limits.max_bytes:
        raise RemoteProtocolError(TOO_LARGE, f"{len(data)} bytes exceeds the limit of {limits.max_bytes}")
    try:
        value = msgpack.unpackb(
            bytes(data),
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_bin_len,
            max_array_len=limits.max_array_len,
            max_map_len=limits.max_map_len,
            max_ext_len=0,
            ext_hook=_refuse_ext,
            object_pairs_hook=_unique_keys,
        )
    except RemoteProtocolError:
        raise
    except RecursionError as exc:
        raise RemoteProtocolError(MALFORMED, "nesting too deep") from exc
    except ValueError as exc:
        # msgpack raises ValueError subclasses for limits, truncation, extra data and bad UTF-8.
        text = str(exc)
        code = TOO_LARGE if "exceeds max" in text else MALFORMED
        raise RemoteProtocolError(code, f"msgpack: {text[:200]}") from exc
    except Exception as exc:  # msgpack may raise TypeError/StackError/etc. on hostile input
        raise RemoteProtocolError(MALFORMED, f"msgpack: {type(exc).__name__}") from exc
    _depth(value, limits.max_depth)
    return value


# Small typed accessors used by the message parsers. Each raises MALFORMED with the field name.


def expect_list(value: Any, name: str, length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise RemoteProtocolError(MALFORMED, f"{name} must be an array")
    if length is not None and len(value) != length:
        raise RemoteProtocolError(MALFORMED, f"{name} must have {length} elements, has {len(value)}")
    return value


def expect_map(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise RemoteProtocolError(MALFORMED, f"{name} must be a map")
    return value


def expect_bytes(value: Any, name: str, length: int | None = None, max_len: int | None = None) -> bytes:
    if not isinstance(value, bytes):
        raise RemoteProtocolError(MALFORMED, f"{name} must be bin")
    if length is not None and len(value) != length:
        raise RemoteProtocolError(MALFORMED, f"{name} must be {length} bytes, is {len(value)}")
    if max_len is not None and len(value) > max_len:
        raise RemoteProtocolError(TOO_LARGE, f"{name} longer than {max_len} bytes")
    return value


def expect_str(value: Any, name: str, max_len: int = 1024) -> str:
    if not isinstance(value, str):
        raise RemoteProtocolError(MALFORMED, f"{name} must be a string")
    if len(value) > max_len:
        raise RemoteProtocolError(TOO_LARGE, f"{name} longer than {max_len} characters")
    return value


def expect_int(value: Any, name: str, minimum: int = 0, maximum: int = 2**63 - 1) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise RemoteProtocolError(MALFORMED, f"{name} must be an integer")
    if not minimum <= value <= maximum:
        raise RemoteProtocolError(MALFORMED, f"{name} out of range [{minimum}, {maximum}]")
    return value


def expect_optional_bytes(value: Any, name: str, length: int) -> bytes | None:
    if value is None:
        return None
    return expect_bytes(value, name, length)


def expect_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool):
        raise RemoteProtocolError(MALFORMED, f"{name} must be a boolean")
    return value


def expect_version(items: list[Any], name: str, supported: int = 1) -> None:
    """Check the leading version number of a message array: ``unknown-version`` if it is not ``supported``."""
    version = expect_int(items[0] if items else None, f"{name}.version", 0, 255)
    if version != supported:
        raise RemoteProtocolError(UNKNOWN_VERSION, f"{name} version {version} is not supported (this node speaks {supported})")
