"""Typed admin requests: every admin API body is parsed here once, into a frozen dataclass.

The CLI, the demo and the coming dashboard all send these bodies (JSON objects). A handler is
``Model.from_json(body)`` -> the core -> a JSON answer, so the types, ranges and shared rules
(dates, consent, hops: node/core/fields.py) are checked in one place. ``from_json`` raises only
``UserError``, naming the request field (``valid_through``), never a CLI flag: the admin client adds
the flag. No aiohttp here, so the dashboard can build the same models and call the core with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core import fields as F
from node.core.errors import UserError
from protocol.bodies import SECTORS
from protocol.jobs import Location, Salary

Body = dict[str, Any]

DEFAULT_INVITE_TTL_MS = 7 * 86_400_000
DEFAULT_MATCH_DEADLINE_S = 10.0  # node/core/matching.py's MATCH_DEADLINE
DEFAULT_BROWSE_S = 3.0


# --- trust and notes (node/http/admin_api.py, node/lan/admin.py) -----------------------------------


@dataclass(frozen=True, slots=True)
class InviteCreate:
    """POST /invite: a single-use invite, optionally naming the organization expected to use it."""

    ttl_ms: int = DEFAULT_INVITE_TTL_MS
    name: str | None = None
    sector: str | None = None

    @classmethod
    def from_json(cls, b: Body) -> InviteCreate:
        b = F.json_object(b)
        ttl_ms = DEFAULT_INVITE_TTL_MS if b.get("ttl_ms") is None else F.read_int(b["ttl_ms"], "ttl_ms")
        if not F.MIN_INVITE_TTL_MS <= ttl_ms <= F.MAX_INVITE_TTL_MS:
            raise UserError("an invite must expire between 1 minute and 90 days after it is made", field="ttl_ms")
        name = F.read_opt_text(b.get("name"), "name")
        if name is not None and (not name.strip() or len(name) > 200):
            raise UserError("name must be the partner organization's name (1 to 200 characters)", field="name")
        sector = F.read_opt_text(b.get("sector"), "sector")
        if sector is not None and sector not in SECTORS:
            raise UserError(f"sector must be one of {', '.join(SECTORS)}", field="sector")
        return cls(ttl_ms, name.strip() if name else None, sector)


@dataclass(frozen=True, slots=True)
class InviteRevoke:
    """POST /invite/revoke."""

    invite_id: str

    @classmethod
    def from_json(cls, b: Body) -> InviteRevoke:
        return cls(F.read_id(F.json_object(b), "invite_id"))


@dataclass(frozen=True, slots=True)
class TrustAccept:
    """POST /trust/accept: an invite token a partner sent."""

    token: str

    @classmethod
    def from_json(cls, b: Body) -> TrustAccept:
        return cls(F.read_text(F.json_object(b).get("token"), "token", max_len=8192))


@dataclass(frozen=True, slots=True)
class PeerRef:
    """POST /trust/remove, /trust/block, /trust/unblock, /trust/approve: a partner's node id (or prefix)."""

    node_id: str

    @classmethod
    def from_json(cls, b: Body) -> PeerRef:
        return cls(F.read_id(F.json_object(b), "node_id"))


@dataclass(frozen=True, slots=True)
class TrustRequest:
    """POST /trust/request: ask a node announced on the LAN to pair, after browsing ``seconds``."""

    node_id: str
    seconds: float = DEFAULT_BROWSE_S

    @classmethod
    def from_json(cls, b: Body) -> TrustRequest:
        b = F.json_object(b)
        return cls(F.read_id(b, "node_id"), F.read_seconds(b.get("seconds"), "seconds", DEFAULT_BROWSE_S,
                                                           F.MIN_BROWSE_S, F.MAX_BROWSE_S))


@dataclass(frozen=True, slots=True)
class NotePost:
    """POST /note: a short private message to trusted partners."""

    text: str
    hops: int = 1

    @classmethod
    def from_json(cls, b: Body) -> NotePost:
        b = F.json_object(b)
        text = F.read_text(b.get("text"), "text", max_len=4096)
        if not text.strip():
            raise UserError("a note needs some text", field="text")
        return cls(text, F.parse_hops(b.get("hops")))


# --- jobs (node/http/talent_api.py) ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobPost:
    """POST /jobs/post: a new job, shared with partners up to ``hops`` trust steps."""

    title: str
    skills: tuple[str, ...]
    description: str = ""
    location: Location | None = None
    location_type: str = "onsite"
    employment_type: tuple[str, ...] = ()
    salary: Salary | None = None
    valid_through: int | None = None
    hops: int = 1

    @classmethod
    def from_json(cls, b: Body) -> JobPost:
        b = F.json_object(b)
        remote, hybrid = F.read_flag(b.get("remote"), "remote"), F.read_flag(b.get("hybrid"), "hybrid")
        return cls(
            title=F.read_text(b.get("title"), "title"), skills=tuple(F.read_skills(b.get("skills"))),
            description=F.read_text(b.get("description"), "description"), location=F.read_location(b.get("location")),
            location_type="remote" if remote else "hybrid" if hybrid else "onsite",
            employment_type=F.read_employment(b.get("employment_type")), salary=F.read_salary(b.get("salary")),
            valid_through=F.parse_date_ms(b.get("valid_through"), "valid_through"), hops=F.parse_hops(b.get("hops")),
        )

    def core_args(self) -> dict[str, Any]:
        """The keyword arguments of ``Talent.post_job``."""
        return {"title": self.title, "skills": list(self.skills), "description": self.description, "location": self.location,
                "location_type": self.location_type, "employment_type": self.employment_type, "salary": self.salary,
                "valid_through": self.valid_through, "hops": self.hops}


JOB_UPDATE_FIELDS = ("title", "skills", "description", "valid_through", "hops", "salary")


@dataclass(frozen=True, slots=True)
class JobUpdate:
    """POST /jobs/update: a new version of an own open job; only the fields given change."""

    id: str
    changes: tuple[tuple[str, Any], ...]  # (field, typed value), in JOB_UPDATE_FIELDS order

    @classmethod
    def from_json(cls, b: Body) -> JobUpdate:
        b = F.json_object(b)
        readers = {"title": lambda v: F.read_text(v, "title"), "skills": lambda v: tuple(F.read_skills(v)),
                   "description": lambda v: F.read_text(v, "description"),
                   "valid_through": lambda v: F.parse_date_ms(v, "valid_through"), "hops": F.parse_hops,
                   "salary": F.read_salary}
        # Empty text means "not given" (the CLI sends null or ""), except a description may be cleared.
        given = [k for k in JOB_UPDATE_FIELDS if b.get(k) is not None and (k in ("description", "hops") or b.get(k) != "")]
        changes = tuple((k, readers[k](b[k])) for k in given)
        changes = tuple((k, v) for k, v in changes if k in ("description", "hops") or v)
        if not changes:
            raise UserError(f"nothing to change: give at least one of {', '.join(JOB_UPDATE_FIELDS)}")
        return cls(F.read_id(b), changes)


@dataclass(frozen=True, slots=True)
class JobImport:
    """POST /jobs/import: a schema.org JobPosting (checked by node/formats/jobposting.py)."""

    jsonld: Any
    hops: int = 1

    @classmethod
    def from_json(cls, b: Body) -> JobImport:
        b = F.json_object(b)
        if b.get("jsonld") is None:
            raise UserError("give the JobPosting to import", field="jsonld")
        return cls(b["jsonld"], F.parse_hops(b.get("hops")))


@dataclass(frozen=True, slots=True)
class JobList:
    """POST /jobs/list."""

    mine: bool = False

    @classmethod
    def from_json(cls, b: Body) -> JobList:
        return cls(F.read_flag(F.json_object(b).get("mine"), "mine"))


@dataclass(frozen=True, slots=True)
class JobClose:
    """POST /jobs/close: close an own job, or mark it filled by a hired referral."""

    id: str
    filled_by: str | None = None

    @classmethod
    def from_json(cls, b: Body) -> JobClose:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_id(b, "filled_by") or None)


@dataclass(frozen=True, slots=True)
class Ref:
    """A request naming one thing by ``id``: a job (export, match), a candidate (erase, report,
    withdraw, match-candidate), a referral (audit export)."""

    id: str

    @classmethod
    def from_json(cls, b: Body) -> Ref:
        return cls(F.read_id(F.json_object(b)))


@dataclass(frozen=True, slots=True)
class MatchRequest:
    """POST /match: ask partners for candidates for an own job, waiting at most ``deadline`` seconds."""

    id: str
    deadline: float = DEFAULT_MATCH_DEADLINE_S

    @classmethod
    def from_json(cls, b: Body) -> MatchRequest:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_seconds(b.get("deadline"), "deadline", DEFAULT_MATCH_DEADLINE_S, 0.0,
                                                F.MAX_DEADLINE_S, open_low=True))


# --- candidates and consent (node/http/talent_api.py) -----------------------------------------------


@dataclass(frozen=True, slots=True)
class CandidateAdd:
    """POST /candidates/add (the CLI's `candidate add` and each row of `candidate import`)."""

    name: str
    email: str
    skills: tuple[str, ...]
    phone: str | None = None
    location: str | None = None
    medal: str | None = None
    for_job: str | None = None
    notes: str | None = None
    consent: F.ConsentTerms = F.NO_CONSENT

    @classmethod
    def from_json(cls, b: Body) -> CandidateAdd:
        b = F.json_object(b)
        return cls(
            name=F.read_text(b.get("name"), "name", max_len=200), email=F.read_text(b.get("email"), "email", max_len=254),
            skills=tuple(F.read_skills(b.get("skills"))), phone=F.read_opt_text(b.get("phone"), "phone"),
            location=F.read_opt_text(b.get("location"), "location"), medal=F.read_opt_text(b.get("medal"), "medal"),
            for_job=F.read_opt_text(b.get("for_job"), "for_job"), notes=F.read_opt_text(b.get("notes"), "notes"),
            consent=F.parse_consent(b),
        )

    def core_args(self) -> dict[str, Any]:
        """The keyword arguments of ``Talent.add_candidate``."""
        c = self.consent
        return {"name": self.name, "email": self.email, "skills": list(self.skills), "phone": self.phone,
                "location": self.location, "medal": self.medal, "for_job": self.for_job, "notes": self.notes,
                "consent": list(c.purposes), "consent_scope": c.scope, "consent_expires": c.expires,
                "consent_evidence": c.evidence}


CANDIDATE_FIELDS = ("name", "email", "phone", "location", "skills", "medal", "for_job", "notes")


@dataclass(frozen=True, slots=True)
class CandidateUpdate:
    """POST /candidates/update: correct a candidate; only the fields given change ("" clears an
    optional one; medal "none" clears the medal)."""

    id: str
    changes: tuple[tuple[str, Any], ...]  # (field, value) in CANDIDATE_FIELDS order

    @classmethod
    def from_json(cls, b: Body) -> CandidateUpdate:
        b = F.json_object(b)
        changes: list[tuple[str, Any]] = []
        for key in CANDIDATE_FIELDS:
            if b.get(key) is None:
                continue
            value: Any = F.read_skills(b[key]) if key == "skills" else F.read_text(b[key], key)
            changes.append((key, "" if key == "medal" and value == "none" else value))
        return cls(F.read_id(b), tuple(changes))


@dataclass(frozen=True, slots=True)
class ConsentGive:
    """POST /consent/give: a new (or renewed) consent for a candidate already held."""

    id: str
    consent: F.ConsentTerms

    @classmethod
    def from_json(cls, b: Body) -> ConsentGive:
        b = F.json_object(b)
        return cls(F.read_id(b), F.parse_consent(b, required=True))


# --- referrals (node/http/talent_api.py) ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReferralRequestCreate:
    """POST /referrals/request: ask a partner to refer the person behind a match pseudonym."""

    job_id: str
    pseudonym: str

    @classmethod
    def from_json(cls, b: Body) -> ReferralRequestCreate:
        b = F.json_object(b)
        return cls(F.read_id(b, "job_id"), F.read_id(b, "pseudonym"))


@dataclass(frozen=True, slots=True)
class ReferralAnswer:
    """POST /referrals/approve (``text``: consent evidence) and /referrals/decline (``text``: reason)."""

    id: str
    text: str = ""

    @classmethod
    def approve(cls, b: Body) -> ReferralAnswer:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_text(b.get("consent_evidence"), "consent_evidence"))

    @classmethod
    def decline(cls, b: Body) -> ReferralAnswer:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_text(b.get("reason"), "reason"))


@dataclass(frozen=True, slots=True)
class ReferralUpdate:
    """POST /referrals/update: a referral's new status (the core checks the lifecycle)."""

    id: str
    status: str
    reason: str = ""

    @classmethod
    def from_json(cls, b: Body) -> ReferralUpdate:
        b = F.json_object(b)
        return cls(F.read_id(b), F.read_text(b.get("status"), "status", max_len=40), F.read_text(b.get("reason"), "reason"))


@dataclass(frozen=True, slots=True)
class ReferRequest:
    """POST /refer: refer one of our candidates to a job."""

    candidate_id: str
    job_id: str
    note: str = ""

    @classmethod
    def from_json(cls, b: Body) -> ReferRequest:
        b = F.json_object(b)
        return cls(F.read_id(b, "candidate_id"), F.read_id(b, "job_id"), F.read_text(b.get("note"), "note"))


# --- audit and impact (node/http/provenance_api.py) -------------------------------------------------


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


# Every model, for the property test that feeds them arbitrary JSON (tests/node/test_requests.py).
MODELS: tuple[Any, ...] = (
    InviteCreate.from_json, InviteRevoke.from_json, TrustAccept.from_json, PeerRef.from_json, TrustRequest.from_json,
    NotePost.from_json, JobPost.from_json, JobUpdate.from_json, JobImport.from_json, JobList.from_json,
    JobClose.from_json, Ref.from_json, MatchRequest.from_json, CandidateAdd.from_json, CandidateUpdate.from_json,
    ConsentGive.from_json, ReferralRequestCreate.from_json, ReferralAnswer.approve, ReferralAnswer.decline,
    ReferralUpdate.from_json, ReferRequest.from_json, AuditExport.from_json, ImpactRequest.from_json,
)
