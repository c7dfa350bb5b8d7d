"""The ``reshare`` statement body: a root statement exactly as signed, its author's card bundle, and
the path of re-sharers (docs/protocol.md section 14). The rules for making and checking one are in
protocol/reshare.py; this module is only the message, so the kind registry can list it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import expect_bytes, expect_list, expect_map
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.statement import MAX_BODY_BYTES

MAX_PATH = 8


@dataclass(frozen=True, slots=True)
class Reshare:
    KIND: ClassVar[str] = "reshare"
    PRIVATE: ClassVar[bool] = True

    root: bytes  # the root statement's envelope, with plain content
    card: bytes  # the root author's card bundle
    path: tuple[bytes, ...]

    def to_value(self) -> dict[str, Any]:
        return {"root": self.root, "card": self.card, "path": list(self.path)}

    @classmethod
    def from_value(cls, value: Any) -> Reshare:
        v = expect_map(value, "reshare")
        if set(v) != {"root", "card", "path"}:
            raise RemoteProtocolError(MALFORMED, "reshare must have exactly root, card and path")
        path = tuple(expect_bytes(p, "reshare.path[]", 32) for p in expect_list(v["path"], "reshare.path"))
        if not 1 <= len(path) <= MAX_PATH or len(set(path)) != len(path):
            raise RemoteProtocolError(MALFORMED, "reshare.path must list 1 to 8 distinct node ids")
        return cls(
            root=expect_bytes(v["root"], "reshare.root", max_len=MAX_BODY_BYTES),
            card=expect_bytes(v["card"], "reshare.card", max_len=MAX_BODY_BYTES),
            path=path,
        )
