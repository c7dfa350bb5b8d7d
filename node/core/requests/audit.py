"""Admin requests of audit bundles and impact reports (node/http/provenance_api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core import fields as F

Body = dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditExport:
    """POST /audit/export: one referral's audit bundle, personal data redacted on request."""

    id: str
    redact: bool = False

    @classmethod
    def from_json(cls, b: Body) -> AuditExport:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_flag(b.get("redact"), "redact"))


@dataclass(frozen=True, slots=True)
class ImpactRequest:
    """POST /impact: figures since a day (its first second, UTC), optionally as a signed bundle."""

    since: int = 0
    export: bool = False

    @classmethod
    def from_json(cls, b: Body) -> ImpactRequest:
        b = F.json_object(b)
        since = F.parse_date_ms(b.get("since"), "since", end_of_day=False)
        return cls(since or 0, F.read_flag(b.get("export"), "export"))
