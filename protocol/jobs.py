"""Jobs: the ``job`` statement kind, shared with trusted peers and re-shared within ``hops``.

A job is identified by ``job_id`` (16 random bytes chosen by its author); every update, close or
fill is a new ``job`` statement with the same ``job_id`` and a higher ``version`` — the author's
latest version wins (no shared mutable state). Field names follow schema.org JobPosting where one
exists (docs/protocol.md section 15.2). Times are ms since the epoch; there are no floats on the wire.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from protocol.codec import expect_bytes, expect_int, expect_list, expect_map, expect_str
from protocol.errors import MALFORMED, RemoteProtocolError

JOB_STATUSES = ("open", "filled", "closed")
LOCATION_TYPES = ("onsite", "remote", "hybrid")
EMPLOYMENT_TYPES = ("FULL_TIME", "PART_TIME", "CONTRACTOR", "TEMPORARY", "INTERN", "VOLUNTEER", "PER_DIEM", "OTHER")
SALARY_UNITS = ("HOUR", "DAY", "WEEK", "MONTH", "YEAR")
MAX_SKILLS = 64
MAX_POSTING_BYTES = 32 * 1024  # the original JobPosting carried with a job: at most half a body (64 KiB)
MAX_POSTING_DEPTH = 16
MAX_HOPS = 8  # the one hops rule: a job or a note travels 1 (direct partners only) to MAX_HOPS trust steps


def hops_ok(hops: int) -> bool:
    """True for a hop limit a job or a note may carry (1 <= hops <= MAX_HOPS)."""
    return 1 <= hops <= MAX_HOPS


def posting_problem(text: str) -> str | None:
    """Why ``text`` cannot be a job's ``posting`` (docs/protocol.md 15.2), or None when it can.

    The posting is the original schema.org JobPosting as JSON text: an object whose ``@type`` is or
    contains ``JobPosting``, at most ``MAX_POSTING_BYTES`` of UTF-8 and ``MAX_POSTING_DEPTH`` levels deep.
    Receivers check it like any other field; the node shell sanitises its HTML before showing it.
    """
    if len(text.encode("utf-8", "surrogatepass")) > MAX_POSTING_BYTES:
        return f"posting is longer than {MAX_POSTING_BYTES} bytes"
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float, object_pairs_hook=_unique_keys)
    except _NotStrictJson as exc:
        return f"posting is not strict JSON: {exc}"
    except (ValueError, RecursionError):
        return "posting is not JSON text"
    if not isinstance(value, dict):
        return "posting is not a JSON object"
    types = value.get("@type")
    if "JobPosting" not in (types if isinstance(types, list) else [types]):
        return "posting is not a JobPosting (@type)"
    if json_depth(value) > MAX_POSTING_DEPTH:
        return f"posting is nested deeper than {MAX_POSTING_DEPTH} levels"
    if has_lone_surrogate(value):
        return "posting holds a lone surrogate escape (\\ud800-\\udfff not in a pair), which is not Unicode text"
    return None


class _NotStrictJson(ValueError):
    """JSON Python's reader accepts but RFC 8259 / I-JSON (RFC 7493) do not: readers would disagree."""


def _refuse_constant(name: str) -> Any:
    raise _NotStrictJson(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise _NotStrictJson("a number is too large for a double")
    return number


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    value = dict(pairs)
    if len(value) != len(pairs):
        raise _NotStrictJson("an object has a duplicate key")  # the key is partner text: not repeated here
    return value


def json_depth(value: Any) -> int:
    """Nesting depth of a JSON value (a scalar is 1), without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else ()
        stack.extend((child, depth + 1) for child in children)
    return deepest


def has_lone_surrogate(value: Any) -> bool:
    """Whether a parsed JSON value holds, in a key or a string, a lone surrogate (JSON's ``\\ud800``
    escape without its pair): Python keeps it, but it is not Unicode text and cannot be written as
    UTF-8 (to SQLite, a file, a terminal). Without recursion."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and any("\ud800" <= ch <= "\udfff" for ch in item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _opt_str(v: dict[str, Any], key: str, name: str, max_len: int) -> str | None:
    value = v.get(key)
    return None if value is None else expect_str(value, name, max_len)


@dataclass(frozen=True, slots=True)
class Skill:
    label: str
    uri: str | None = None

    def to_value(self) -> dict[str, Any]:
        return {"label": self.label} | ({"uri": self.uri} if self.uri else {})

    @classmethod
    def from_value(cls, value: Any) -> Skill:
        v = expect_map(value, "skill")
        return cls(expect_str(v.get("label"), "skill.label", 200), _opt_str(v, "uri", "skill.uri", 300))


@dataclass(frozen=True, slots=True)
class Salary:
    currency: str
    min: int | None
    max: int | None
    unit: str

    def to_value(self) -> dict[str, Any]:
        return {"currency": self.currency, "min": self.min, "max": self.max, "unit": self.unit}

    @classmethod
    def from_value(cls, value: Any) -> Salary:
        v = expect_map(value, "salary")
        unit = expect_str(v.get("unit"), "salary.unit", 8)
        if unit not in SALARY_UNITS:
            raise RemoteProtocolError(MALFORMED, f"salary.unit must be one of {', '.join(SALARY_UNITS)}")
        lo = v.get("min")
        hi = v.get("max")
        return cls(
            expect_str(v.get("currency"), "salary.currency", 3),
            None if lo is None else expect_int(lo, "salary.min"),
            None if hi is None else expect_int(hi, "salary.max"),
            unit,
        )


@dataclass(frozen=True, slots=True)
class Location:
    locality: str | None = None
    region: str | None = None
    country: str | None = None
    street: str | None = None
    postal_code: str | None = None

    def to_value(self) -> dict[str, Any]:
        fields = (("locality", self.locality), ("region", self.region), ("country", self.country),
                  ("street", self.street), ("postal_code", self.postal_code))
        return {k: v for k, v in fields if v}

    @classmethod
    def from_value(cls, value: Any) -> Location:
        v = expect_map(value, "location")
        return cls(_opt_str(v, "locality", "location.locality", 200), _opt_str(v, "region", "location.region", 200),
                   _opt_str(v, "country", "location.country", 64), _opt_str(v, "street", "location.street", 200),
                   _opt_str(v, "postal_code", "location.postal_code", 32))

    def text(self) -> str:
        return ", ".join(p for p in (self.street, self.locality, self.postal_code, self.region, self.country) if p)


@dataclass(frozen=True, slots=True)
class Job:
    """One version of a job posting."""

    KIND: ClassVar[str] = "job"
    PRIVATE: ClassVar[bool] = True

    job_id: bytes
    version: int
    title: str
    skills: tuple[Skill, ...]
    date_posted: int
    hops: int = 1
    status: str = "open"
    description: str = ""
    location: Location = field(default_factory=Location)
    location_type: str = "onsite"
    employment_type: tuple[str, ...] = ()
    salary: Salary | None = None
    valid_through: int | None = None
    filled_by: bytes | None = None  # the referral id credited with the hire
    posting: str | None = None  # the original schema.org JobPosting (JSON text), exported back with this version's fields

    def __post_init__(self) -> None:
        if len(self.job_id) != 16:
            raise RemoteProtocolError(MALFORMED, "job_id must be 16 bytes")
        if not self.title.strip():
            raise RemoteProtocolError(MALFORMED, "a job needs a title")
        if self.status not in JOB_STATUSES:
            raise RemoteProtocolError(MALFORMED, f"job status must be one of {', '.join(JOB_STATUSES)}")
        if self.location_type not in LOCATION_TYPES:
            raise RemoteProtocolError(MALFORMED, f"location type must be one of {', '.join(LOCATION_TYPES)}")
        bad = [t for t in self.employment_type if t not in EMPLOYMENT_TYPES]
        if bad:
            raise RemoteProtocolError(MALFORMED, f"unknown employment type {bad[0]!r} (use {', '.join(EMPLOYMENT_TYPES)})")
        if not hops_ok(self.hops):
            raise RemoteProtocolError(MALFORMED, f"hops must be between 1 and {MAX_HOPS}")
        if len(self.skills) > MAX_SKILLS:
            raise RemoteProtocolError(MALFORMED, f"at most {MAX_SKILLS} skills")
        problem = None if self.posting is None else posting_problem(self.posting)
        if problem is not None:
            raise RemoteProtocolError(MALFORMED, problem)

    def is_offered(self, now: int) -> bool:
        """Open and not past ``valid_through``: only such jobs are matched and offered."""
        return self.status == "open" and (self.valid_through is None or now <= self.valid_through)

    def to_value(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "job_id": self.job_id,
            "version": self.version,
            "title": self.title,
            "skills": [s.to_value() for s in self.skills],
            "date_posted": self.date_posted,
            "hops": self.hops,
            "status": self.status,
            "description": self.description,
            "location": self.location.to_value(),
            "location_type": self.location_type,
            "employment_type": list(self.employment_type),
        }
        if self.salary is not None:
            value["salary"] = self.salary.to_value()
        if self.valid_through is not None:
            value["valid_through"] = self.valid_through
        if self.filled_by is not None:
            value["filled_by"] = self.filled_by
        if self.posting is not None:
            value["posting"] = self.posting
        return value

    @classmethod
    def from_value(cls, value: Any) -> Job:
        v = expect_map(value, "job")
        allowed = {"job_id", "version", "title", "skills", "date_posted", "hops", "status", "description", "location",
                   "location_type", "employment_type", "salary", "valid_through", "filled_by", "posting"}
        extra = set(v) - allowed
        if extra:
            raise RemoteProtocolError(MALFORMED, f"job has unknown fields: {', '.join(sorted(map(str, extra)))}")
        return cls(
            job_id=expect_bytes(v.get("job_id"), "job.job_id", 16),
            version=expect_int(v.get("version"), "job.version", 1),
            title=expect_str(v.get("title"), "job.title", 300),
            skills=tuple(Skill.from_value(s) for s in expect_list(v.get("skills", []), "job.skills")),
            date_posted=expect_int(v.get("date_posted"), "job.date_posted"),
            hops=expect_int(v.get("hops", 1), "job.hops", 1, 8),
            status=expect_str(v.get("status", "open"), "job.status", 16),
            description=expect_str(v.get("description", ""), "job.description", 20_000),
            location=Location.from_value(v.get("location", {})),
            location_type=expect_str(v.get("location_type", "onsite"), "job.location_type", 16),
            employment_type=tuple(expect_str(t, "job.employment_type[]", 32) for t in expect_list(v.get("employment_type", []), "job.employment_type")),
            salary=Salary.from_value(v["salary"]) if v.get("salary") is not None else None,
            valid_through=expect_int(v["valid_through"], "job.valid_through") if v.get("valid_through") is not None else None,
            filled_by=expect_bytes(v["filled_by"], "job.filled_by", 16) if v.get("filled_by") is not None else None,
            posting=expect_str(v["posting"], "job.posting", MAX_POSTING_BYTES) if v.get("posting") is not None else None,
        )
