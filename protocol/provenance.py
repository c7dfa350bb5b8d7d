"""Statement kinds for provenance: log checkpoints, witnessed checkpoints, partnerships, impact reports.

* ``checkpoint`` (public): the author's log size ``n`` and the RFC 9162 Merkle root over the ids
  of its statements 1..n. It is itself statement n+1 (or later) of the same log.
* ``witness`` (public): checkpoints of *other* authors as this node holds them, exactly as signed.
  Peers compare them with their own copies, so an author showing different histories to different
  peers is caught (split view) without any central log.
* ``partnership`` (private, audience none): a trust link was established, for impact reporting.
* ``impact_report`` (private, audience none): figures over a period, tied to a checkpoint, which an
  auditor recomputes from the statements exported with it (``protocol.impact``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from protocol.codec import expect_bytes, expect_int, expect_list, expect_map, expect_str
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.statement import MAX_ENVELOPE_BYTES

MAX_WITNESSED = 32


@dataclass(frozen=True, slots=True)
class Checkpoint:
    KIND: ClassVar[str] = "checkpoint"
    PRIVATE: ClassVar[bool] = False

    size: int
    root: bytes

    def to_value(self) -> dict[str, Any]:
        return {"size": self.size, "root": self.root}

    @classmethod
    def from_value(cls, value: Any) -> Checkpoint:
        v = expect_map(value, "checkpoint")
        return cls(expect_int(v.get("size"), "checkpoint.size"), expect_bytes(v.get("root"), "checkpoint.root", 32))


@dataclass(frozen=True, slots=True)
class Witness:
    KIND: ClassVar[str] = "witness"
    PRIVATE: ClassVar[bool] = False

    checkpoints: tuple[bytes, ...]  # envelopes (plain content) of other authors' checkpoint statements

    def to_value(self) -> dict[str, Any]:
        return {"checkpoints": list(self.checkpoints)}

    @classmethod
    def from_value(cls, value: Any) -> Witness:
        v = expect_map(value, "witness")
        items = expect_list(v.get("checkpoints"), "witness.checkpoints")
        if len(items) > MAX_WITNESSED:
            raise RemoteProtocolError(MALFORMED, f"at most {MAX_WITNESSED} witnessed checkpoints")
        return cls(tuple(expect_bytes(e, "witness.checkpoints[]", max_len=MAX_ENVELOPE_BYTES) for e in items))


@dataclass(frozen=True, slots=True)
class Partnership:
    KIND: ClassVar[str] = "partnership"
    PRIVATE: ClassVar[bool] = True

    peer: bytes
    via: str

    def to_value(self) -> dict[str, Any]:
        return {"peer": self.peer, "via": self.via}

    @classmethod
    def from_value(cls, value: Any) -> Partnership:
        v = expect_map(value, "partnership")
        return cls(expect_bytes(v.get("peer"), "partnership.peer", 32), expect_str(v.get("via"), "partnership.via", 16))


@dataclass(frozen=True, slots=True)
class ImpactReport:
    KIND: ClassVar[str] = "impact_report"
    PRIVATE: ClassVar[bool] = True

    since: int
    until: int
    checkpoint: bytes  # id of the checkpoint statement the report is tied to
    figures: dict[str, int]
    partners: dict[str, dict[str, int]]  # node id hex -> figures

    def to_value(self) -> dict[str, Any]:
        return {"since": self.since, "until": self.until, "checkpoint": self.checkpoint, "figures": self.figures,
                "partners": self.partners}

    @classmethod
    def from_value(cls, value: Any) -> ImpactReport:
        v = expect_map(value, "impact_report")

        def figures(raw: Any, name: str) -> dict[str, int]:
            return {expect_str(k, f"{name} key", 64): expect_int(n, f"{name}.{k}") for k, n in expect_map(raw, name).items()}

        partners = {expect_str(k, "partners key", 64): figures(f, "partners[]") for k, f in expect_map(v.get("partners"), "partners").items()}
        return cls(expect_int(v.get("since"), "impact.since"), expect_int(v.get("until"), "impact.until"),
                   expect_bytes(v.get("checkpoint"), "impact.checkpoint", 32), figures(v.get("figures"), "figures"), partners)
