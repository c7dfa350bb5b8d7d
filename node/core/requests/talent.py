"""Admin requests of the talent exchange: jobs, candidates, consent, matching, referrals (node/http/talent_api.py)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from node.core import fields as F
from node.core.errors import UserError
from protocol.jobs import Location, Salary

Body = dict[str, Any]

DEFAULT_MATCH_DEADLINE_S = 10.0  # node/core/matching.py's MATCH_DEADLINE


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
    """POST /jobs/import: a schema.org JobPosting (checked by node/formats/jobposting.py), given as a JSON
    document (``jsonld``: a JobPosting, an ``@graph`` document or an array) or as an HTML page (``html``)
    whose ``<script type="application/ld+json">`` blocks hold it; ``skills`` replace the posting's own."""

    jsonld: Any
    hops: int = 1
    html: str | None = None
    skills: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, b: Body) -> JobImport:
        b = F.json_object(b)
        page = b.get("html")
        if page is not None and not isinstance(page, str):
            raise UserError("html must be the text of an HTML page", field="html")
        if b.get("jsonld") is None and page is None:
            raise UserError("give the JobPosting to import", field="jsonld")
        skills = tuple(F.read_skills(b["skills"])) if b.get("skills") else ()
        return cls(b.get("jsonld"), F.parse_hops(b.get("hops")), page, skills)


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
