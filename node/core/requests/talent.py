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
    update: bool = False  # replace the job already posted from this posting (same identifier) instead of refusing

    @classmethod
    def from_json(cls, b: Body) -> JobImport:
        b = F.json_object(b)
        page = b.get("html")
        if page is not None and not isinstance(page, str):
            raise UserError("html must be the text of an HTML page", field="html")
        if b.get("jsonld") is None and page is None:
            raise UserError("give the JobPosting to import", field="jsonld")
        skills = tuple(F.read_skills(b["skills"])) if b.get("skills") else ()
        update = F.read_flag(b["update"], "update") if b.get("update") is not None else False
        return cls(b.get("jsonld"), F.parse_hops(b.get("hops")), page, skills, update)


DEFAULT_PAGE = 100  # what `job list` / `candidate list` show without --limit (docs/cli.md "Long lists")
MAX_PAGE = 1000  # a page is built in memory: bounded, so 100,000 jobs never are at once


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a long list: at most ``limit`` items after skipping ``offset``, in the list's order."""

    limit: int = DEFAULT_PAGE
    offset: int = 0

    @classmethod
    def from_json(cls, b: Body) -> Page:
        b = F.json_object(b)
        limit = DEFAULT_PAGE if b.get("limit") is None else F.read_int(b["limit"], "limit")
        offset = 0 if b.get("offset") is None else F.read_int(b["offset"], "offset")
        if not 1 <= limit <= MAX_PAGE:
            raise UserError(f"limit must be 1 to {MAX_PAGE} (page through longer lists with offset)", field="limit")
        if offset < 0:
            raise UserError("offset must be 0 or more", field="offset")
        return cls(limit, offset)

    @classmethod
    def from_query(cls, query: Any) -> Page:
        """The page of a GET (``?limit=…&offset=…``): digits only, then the same checks."""
        values: Body = {}
        for name in ("limit", "offset"):
            text = query.get(name)
            if text is not None:
                if not (isinstance(text, str) and text.isascii() and text.isdigit() and len(text) <= 15):
                    raise UserError(f"{name} must be a whole number", field=name)
                values[name] = int(text)
        return cls.from_json(values)


@dataclass(frozen=True, slots=True)
class CandidateQuery:
    """GET /candidates: ``skill`` (repeatable: all wanted), ``medal``, ``consent`` (match, refer or
    none), ``search`` (in the name or email), each checked here once; the page as in ``Page``."""

    skills: tuple[str, ...] = ()
    medal: str | None = None
    consent: str | None = None
    search: str | None = None
    page: Page = Page()

    @classmethod
    def from_query(cls, query: Any) -> CandidateQuery:
        from storage.candidate_filters import CONSENT_FILTERS

        skills = tuple(F.read_text(s, "skill", max_len=200) for s in query.getall("skill", []))
        consent = query.get("consent")
        if consent is not None and consent not in CONSENT_FILTERS:
            raise UserError(f"consent must be one of {', '.join(CONSENT_FILTERS)} (got {consent!r})", field="consent")
        medal = query.get("medal")
        search = query.get("search")
        return cls(skills, None if medal is None else F.read_text(medal, "medal", max_len=200), consent,
                   None if search is None else F.read_text(search, "search", max_len=200), Page.from_query(query))


@dataclass(frozen=True, slots=True)
class JobList:
    """POST /jobs/list: one page of the jobs (oldest update first), own only with ``mine``, only ids
    starting with ``id_prefix`` (hex) if given."""

    mine: bool = False
    page: Page = Page()
    id_prefix: str = ""

    @classmethod
    def from_json(cls, b: Body) -> JobList:
        b = F.json_object(b)
        prefix = F.read_text(b.get("id_prefix"), "id_prefix", max_len=64).strip().lower()
        if prefix and not all(c in "0123456789abcdef" for c in prefix):
            raise UserError("id_prefix must be hexadecimal (the start of a job id)", field="id_prefix")
        return cls(F.read_flag(b.get("mine"), "mine"), Page.from_json({k: b.get(k) for k in ("limit", "offset")}), prefix)


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


MAX_IMPORT_ROWS = 5000  # rows in one POST /candidates/import (the CLI sends IMPORT_BATCH = 2000)


@dataclass(frozen=True, slots=True)
class ImportRow:
    """One row of an import batch: its spreadsheet row number and either the candidate or what is
    wrong with the row (a bad row is reported with the others, it does not refuse the batch)."""

    row: int
    add: CandidateAdd | None
    error: UserError | None = None


@dataclass(frozen=True, slots=True)
class CandidateImport:
    """POST /candidates/import: ``{"rows": [{"row": 2, <the fields of /candidates/add>}, ...]}``, at
    most ``MAX_IMPORT_ROWS``; `candidate import` sends a CSV file's valid rows in batches of these."""

    rows: tuple[ImportRow, ...]

    @classmethod
    def from_json(cls, b: Body) -> CandidateImport:
        b = F.json_object(b)
        rows = b.get("rows")
        if not isinstance(rows, list) or not rows or len(rows) > MAX_IMPORT_ROWS:
            raise UserError(f"rows must be a list of 1 to {MAX_IMPORT_ROWS} candidates", field="rows")
        out = []
        for item in rows:
            number = item.get("row") if isinstance(item, dict) else None
            if not isinstance(number, int) or isinstance(number, bool) or number < 1:
                raise UserError("give every item of rows its row number (a whole number from 1)", field="rows")
            try:
                out.append(ImportRow(number, CandidateAdd.from_json(item)))
            except UserError as exc:
                out.append(ImportRow(number, None, exc))
        return cls(tuple(out))


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
