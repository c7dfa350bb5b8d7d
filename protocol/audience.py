"""Who may read a private statement's body: all trusted peers, some of them, or all but some.

Stored with each own private statement as a short string: ``*`` (every trusted peer), ``*-a,b``
(every trusted peer except a and b) or ``a,b`` (only a and b), node ids in hex. Peers outside the
audience still receive the signed header, never the body.
"""

from __future__ import annotations

from dataclasses import dataclass

from protocol.errors import MALFORMED, LocalProtocolError


@dataclass(frozen=True, slots=True)
class Audience:
    everyone: bool
    include: frozenset[bytes] = frozenset()
    exclude: frozenset[bytes] = frozenset()

    @classmethod
    def all_trusted(cls, exclude: set[bytes] | frozenset[bytes] = frozenset()) -> Audience:
        return cls(True, frozenset(), frozenset(exclude))

    @classmethod
    def only(cls, *node_ids: bytes) -> Audience:
        return cls(False, frozenset(node_ids))

    def admits(self, node_id: bytes) -> bool:
        if self.everyone:
            return node_id not in self.exclude
        return node_id in self.include

    def encode(self) -> str:
        if self.everyone:
            return "*" + ("-" + ",".join(sorted(n.hex() for n in self.exclude)) if self.exclude else "")
        return ",".join(sorted(n.hex() for n in self.include))

    @classmethod
    def decode(cls, text: str) -> Audience:
        try:
            if text.startswith("*"):
                rest = text[2:] if text.startswith("*-") else ""
                return cls(True, frozenset(), frozenset(bytes.fromhex(h) for h in rest.split(",") if h))
            return cls(False, frozenset(bytes.fromhex(h) for h in text.split(",") if h))
        except ValueError as exc:
            raise LocalProtocolError(MALFORMED, f"bad audience {text!r}") from exc
