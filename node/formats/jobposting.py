"""schema.org ``JobPosting`` JSON-LD ↔ ``protocol.jobs.Job`` (what job boards and search engines read).

The user-facing mapping is in docs/cli.md, "JobPosting JSON-LD". In short: an input (a posting, an
``@graph`` document, an array, or an HTML page's ``<script type="application/ld+json">`` blocks) must
hold exactly one JobPosting (``one_posting``). Its description is sanitised by ammonia (``nh3``), its URL
properties must be http(s), and the sanitised original travels with the job as ``Job.posting`` (≤ 32 KiB
of JSON, ≤ 16 deep; docs/protocol.md 15.2), so export (``job_to_jsonld``) gives back every property we
do not model, and the modelled ones as the original spelt them unless the job changed since. The import
reports what it keeps without using and what it dropped (``Imported.kept`` / ``.ignored``).

Modelled (schema.org name → Job field):

- ``title`` → ``title``; ``description`` (HTML) → ``description`` as plain text derived from the
  sanitised HTML: entities decoded, ``<p>``/``<li>``/``<br>``… turned into line breaks. A job without an
  original exports its text as minimal escaped HTML (``<p>`` per paragraph, ``<br>`` per line).
- ``datePosted`` / ``validThrough`` (ISO 8601 date or date-time) ↔ ms since the epoch. A date means
  00:00 UTC of that day; a date-time without an offset is read as UTC. ``datePosted`` missing → ``now``.
- ``employmentType`` (a string, a comma list, or a list; "full-time" is read as FULL_TIME) ↔ ``employment_type``.
- ``jobLocation`` (a Place with a PostalAddress — addressLocality/addressRegion/addressCountry — or a list
  of them; the first is the job's location, the others are carried) ↔ ``location``.
- ``jobLocationType: "TELECOMMUTE"`` ↔ ``location_type``: "remote" when there is no physical jobLocation,
  "hybrid" when there is one; anything else is "onsite". A remote job's location comes from
  ``applicantLocationRequirements`` (Country → country, AdministrativeArea → region; no locality).
- ``baseSalary`` (MonetaryAmount: ``currency`` or the posting's ``salaryCurrency``; ``value`` a number or a
  QuantitativeValue with ``value`` or ``minValue``/``maxValue`` and ``unitText`` HOUR|DAY|WEEK|MONTH|YEAR)
  ↔ ``salary``.
- ``skills`` (a string, a comma/semicolon list, a list of strings, or DefinedTerm objects with ``name`` and
  optional ``url``) ↔ ``skills`` (label, uri). Generated export writes one DefinedTerm per skill.
- ``hiringOrganization``, ``identifier`` and everything else are carried in the posting; a job without
  one exports the node's Organization (name, sameAs url, identifier = node id) and the job id.

**Salary units.** The wire has no floats, so ``Salary.min``/``Salary.max`` are integers in hundredths
of the currency unit — whole units × 100 ("cents"), for every currency (JPY 1000 is 100000 too).
JSON-LD amounts with more than two decimal places are refused rather than rounded. Export writes a
whole number when the amount has no fraction (40.00 → 40) and a decimal otherwise (12.5).

Errors are ``JobPostingError`` (a ``ValueError``) whose ``field`` names the offending JSON-LD property.
"""

from __future__ import annotations

import dataclasses
import html
import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from html.parser import HTMLParser
from typing import Any

import nh3

from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.jobs import (
    EMPLOYMENT_TYPES,
    MAX_HOPS,
    MAX_POSTING_BYTES,
    MAX_POSTING_DEPTH,
    MAX_SKILLS,
    SALARY_UNITS,
    Job,
    Location,
    Salary,
    Skill,
    hops_ok,
    json_depth,
)
from protocol.matching import split_skills

MAX_TITLE = 300
MAX_DESCRIPTION = 20_000
MAX_SKILL_LABEL = 200
MAX_URI = 300
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class JobPostingError(RemoteProtocolError, ValueError):
    """A JSON-LD JobPosting we cannot import; ``field`` is the schema.org property to blame.

    The input file is to blame, so it is a ``RemoteProtocolError`` (code ``malformed``) that the admin
    API answers as is; ``str()`` is ``"field: message"``.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(MALFORMED, f"cannot import the JobPosting: {field}: {message}")
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"


# ---------------------------------------------------------------- import


def job_from_jsonld(data: dict[str, Any], *, job_id: bytes, now: int, hops: int, version: int = 1) -> Job:
    """Build a Job (version ``version``, status open) from one JSON-LD JobPosting object."""
    if not isinstance(data, dict):
        raise JobPostingError("@type", "expected a JSON object")
    types = data.get("@type")
    if types is not None and "JobPosting" not in (types if isinstance(types, list) else [types]):
        raise JobPostingError("@type", "is not JobPosting")
    title = _text(data.get("title"), "title")
    if not title:
        raise JobPostingError("title", "is required")
    if len(title) > MAX_TITLE:
        raise JobPostingError("title", f"longer than {MAX_TITLE} characters")
    description = html_to_text(sanitize_html(_str(data.get("description", ""), "description")))
    if len(description) > MAX_DESCRIPTION:
        raise JobPostingError("description", f"longer than {MAX_DESCRIPTION} characters")
    date_posted = _parse_time(data["datePosted"], "datePosted") if data.get("datePosted") else now
    valid_through = _parse_time(data["validThrough"], "validThrough") if data.get("validThrough") else None

    place = _first_place(data.get("jobLocation"))
    telecommute = _telecommute(data.get("jobLocationType"))
    if telecommute and not place.text():
        location, location_type = _applicant_requirements(data.get("applicantLocationRequirements")), "remote"
    else:
        location, location_type = place, "hybrid" if telecommute else "onsite"

    if not hops_ok(hops):
        raise JobPostingError("hops", f"must be between 1 and {MAX_HOPS}")
    return Job(
        job_id=job_id,
        version=version,
        title=title,
        skills=_skills(data.get("skills")),
        date_posted=date_posted,
        hops=hops,
        description=description,
        location=location,
        location_type=location_type,
        employment_type=_employment_types(data.get("employmentType")),
        salary=_salary(data.get("baseSalary"), data.get("salaryCurrency")),
        valid_through=valid_through,
    )


def _str(value: Any, field: str) -> str:
    if not isinstance(value, str):
        raise JobPostingError(field, "expected text")
    return value


def _text(value: Any, field: str) -> str:
    """A short plain-text value: tags stripped, entities decoded, white space collapsed."""
    return " ".join(html_to_text(_str(value, field)).split())


def _parse_time(value: Any, field: str) -> int:
    text = _str(value, field).strip()
    try:
        if len(text) == 10:
            moment = datetime.combine(date.fromisoformat(text), time(0), UTC)
        else:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
    except ValueError:
        raise JobPostingError(field, "is not an ISO 8601 date or date-time") from None
    return (moment - _EPOCH) // timedelta(milliseconds=1)


def _employment_types(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for item in items:
        for part in _str(item, "employmentType").split(","):
            kind = re.sub(r"[\s-]+", "_", part.strip()).upper()
            if not kind:
                continue
            if kind not in EMPLOYMENT_TYPES:
                raise JobPostingError("employmentType", f"unknown value (use {', '.join(EMPLOYMENT_TYPES)})")
            if kind not in out:
                out.append(kind)
    return tuple(out)


def _name(value: Any, field: str) -> str | None:
    """Text, or an object's ``name`` (Country, AdministrativeArea…)."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("name")
        if value is None:
            return None
    text = _text(value, field)
    if len(text) > 200:
        raise JobPostingError(field, "longer than 200 characters")
    return text or None


def _first_place(value: Any) -> Location:
    if value is None or value == []:
        return Location()
    place = value[0] if isinstance(value, list) else value
    if not isinstance(place, dict):
        raise JobPostingError("jobLocation", "expected a Place object")
    address = place.get("address", place)
    if isinstance(address, str):
        return Location(locality=_name(address, "jobLocation.address"))
    if not isinstance(address, dict):
        raise JobPostingError("jobLocation.address", "expected a PostalAddress object")
    return Location(
        locality=_name(address.get("addressLocality"), "jobLocation.address.addressLocality"),
        region=_name(address.get("addressRegion"), "jobLocation.address.addressRegion"),
        country=_name(address.get("addressCountry"), "jobLocation.address.addressCountry"),
        street=_name(address.get("streetAddress"), "jobLocation.address.streetAddress"),
        postal_code=_name(address.get("postalCode"), "jobLocation.address.postalCode"),
    )


def _telecommute(value: Any) -> bool:
    if value is None:
        return False
    items = value if isinstance(value, list) else [value]
    return any(_str(v, "jobLocationType").strip().upper() == "TELECOMMUTE" for v in items)


def _applicant_requirements(value: Any) -> Location:
    region = country = None
    for item in value if isinstance(value, list) else ([] if value is None else [value]):
        if not isinstance(item, dict):
            raise JobPostingError("applicantLocationRequirements", "expected Country or AdministrativeArea objects")
        name = _name(item, "applicantLocationRequirements")
        if item.get("@type") == "Country":
            country = country or name
        else:
            region = region or name
    return Location(region=region, country=country)


def _amount(value: Any, field: str) -> int:
    """A JSON-LD number (or numeric text) → hundredths of the currency unit."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise JobPostingError(field, "expected a number")
    try:
        amount = Decimal(str(value).replace(",", "").strip()) * 100
    except InvalidOperation:
        raise JobPostingError(field, "expected a number") from None
    if not amount.is_finite() or amount < 0:
        raise JobPostingError(field, "must be a non-negative number")
    if amount != amount.to_integral_value():
        raise JobPostingError(field, "has more than two decimal places")
    return int(amount)


def _salary(value: Any, salary_currency: Any) -> Salary | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise JobPostingError("baseSalary", "expected a MonetaryAmount object")
    currency = value.get("currency", salary_currency)
    if not isinstance(currency, str) or not _CURRENCY.match(currency.strip().upper()):
        raise JobPostingError("baseSalary.currency", "expected an ISO 4217 code such as USD")
    quantity = value.get("value")
    unit = value.get("unitText")
    lo: int | None
    hi: int | None
    if isinstance(quantity, dict):
        unit = quantity.get("unitText", unit)
        if quantity.get("value") is not None:
            lo = hi = _amount(quantity["value"], "baseSalary.value.value")
        else:
            lo = None if quantity.get("minValue") is None else _amount(quantity["minValue"], "baseSalary.value.minValue")
            hi = None if quantity.get("maxValue") is None else _amount(quantity["maxValue"], "baseSalary.value.maxValue")
    elif quantity is not None:
        lo = hi = _amount(quantity, "baseSalary.value")
    else:
        lo = None if value.get("minValue") is None else _amount(value["minValue"], "baseSalary.minValue")
        hi = None if value.get("maxValue") is None else _amount(value["maxValue"], "baseSalary.maxValue")
    if lo is None and hi is None:
        raise JobPostingError("baseSalary.value", "needs a value or a minValue/maxValue")
    if lo is not None and hi is not None and lo > hi:
        raise JobPostingError("baseSalary.value", "minValue is greater than maxValue")
    if not isinstance(unit, str) or unit.strip().upper() not in SALARY_UNITS:
        raise JobPostingError("baseSalary.value.unitText", f"must be one of {', '.join(SALARY_UNITS)}")
    return Salary(currency.strip().upper(), lo, hi, unit.strip().upper())


def _skills(value: Any) -> tuple[Skill, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, list) else [value]
    out: list[Skill] = []
    for item in items:
        if isinstance(item, str):
            out.extend(Skill(label) for label in split_skills(_text(item, "skills")))
        elif isinstance(item, dict):
            label = _text(item.get("name"), "skills.name") if item.get("name") is not None else ""
            if not label:
                raise JobPostingError("skills", "a DefinedTerm needs a name")
            uri = item.get("url") or item.get("@id")
            if uri is not None and (not isinstance(uri, str) or len(uri) > MAX_URI):
                raise JobPostingError("skills.url", f"expected a URL of at most {MAX_URI} characters")
            out.append(Skill(label, uri or None))
        else:
            raise JobPostingError("skills", "expected text or DefinedTerm objects")
    for skill in out:
        if len(skill.label) > MAX_SKILL_LABEL:
            raise JobPostingError("skills", f"a skill is longer than {MAX_SKILL_LABEL} characters")
    unique = tuple(dict.fromkeys(out))
    if len(unique) > MAX_SKILLS:
        raise JobPostingError("skills", f"at most {MAX_SKILLS} skills")
    return unique


# ---------------------------------------------------------------- HTML → text


class _TextExtractor(HTMLParser):
    BLOCK = {"p", "div", "section", "article", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
             "blockquote", "pre", "header", "footer"}
    SKIP = {"script", "style", "head", "template"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n\n")
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "li":
            self.parts.append("\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skipping = max(0, self.skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(markup: str) -> str:
    """Tags out, entities decoded, block elements as blank lines, ``<br>`` as a line break."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.parts).replace("\xa0", " ").split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def text_to_html(text: str) -> str:
    paragraphs = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    return "".join("<p>" + "<br>".join(html.escape(line.strip()) for line in p.strip().split("\n")) + "</p>" for p in paragraphs)


# ---------------------------------------------------------------- export


def _iso(ms: int, *, date_only_at_midnight: bool) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    if date_only_at_midnight and ms % 86_400_000 == 0:
        return moment.date().isoformat()
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds").replace("+00:00", "Z")


def _number(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


def _generated(job: Job, *, org_name: str, org_url: str, node_id_hex: str) -> dict[str, Any]:
    """The JSON-LD of the fields a Job models, as published by the organisation ``org_name``."""
    out: dict[str, Any] = {
        "@context": "https://schema.org/",
        "@type": "JobPosting",
        "title": job.title,
        "description": text_to_html(job.description),
        "identifier": {"@type": "PropertyValue", "name": org_name, "value": job.job_id.hex()},
        "datePosted": _iso(job.date_posted, date_only_at_midnight=True),
        "hiringOrganization": {"@type": "Organization", "name": org_name, "sameAs": org_url, "identifier": node_id_hex},
    }
    if job.valid_through is not None:
        out["validThrough"] = _iso(job.valid_through, date_only_at_midnight=False)
    if job.employment_type:
        out["employmentType"] = job.employment_type[0] if len(job.employment_type) == 1 else list(job.employment_type)
    loc = job.location
    if job.location_type == "remote":
        out["jobLocationType"] = "TELECOMMUTE"
        requirements = ([{"@type": "AdministrativeArea", "name": loc.region}] if loc.region else []) + (
            [{"@type": "Country", "name": loc.country}] if loc.country else [])
        if requirements:
            out["applicantLocationRequirements"] = requirements
    else:
        if job.location_type == "hybrid":
            out["jobLocationType"] = "TELECOMMUTE"
        if loc.text():
            address = {"@type": "PostalAddress"} | {k: v for k, v in (("streetAddress", loc.street),
                                                                   ("addressLocality", loc.locality),
                                                                   ("postalCode", loc.postal_code),
                                                                   ("addressRegion", loc.region),
                                                                   ("addressCountry", loc.country)) if v}
            out["jobLocation"] = {"@type": "Place", "address": address}
    if job.salary is not None:
        s = job.salary
        quantity: dict[str, Any] = {"@type": "QuantitativeValue", "unitText": s.unit}
        if s.min is not None and s.min == s.max:
            quantity["value"] = _number(s.min)
        else:
            if s.min is not None:
                quantity["minValue"] = _number(s.min)
            if s.max is not None:
                quantity["maxValue"] = _number(s.max)
        out["baseSalary"] = {"@type": "MonetaryAmount", "currency": s.currency, "value": quantity}
    if job.skills:
        out["skills"] = [{"@type": "DefinedTerm", "name": s.label} | ({"url": s.uri} if s.uri else {}) for s in job.skills]
    return out


def job_to_jsonld(job: Job, *, org_name: str, org_url: str, node_id_hex: str) -> dict[str, Any]:
    """One JSON-LD JobPosting for ``job``: its original posting, when it carries one, with this version's
    modelled fields merged back.

    A group of modelled properties (the title; the description; the dates; the employment type; the
    place, ``jobLocationType`` and ``applicantLocationRequirements``; the salary; the skills) is written
    as the original spelt it when it still reads as this version's value (import → export gives the
    document back), and as we generate it when the job was changed since (``job update``) or the original
    lacked it. Everything else of the original goes out as it came, after the same sanitising as on
    import: the posting may be a partner's text.
    """
    ours = _generated(job, org_name=org_name, org_url=org_url, node_id_hex=node_id_hex)
    original = _original(job.posting)
    if original is None:
        return ours
    out = dict(original)
    for group, reads_same in _GROUPS:
        if not (any(k in original for k in group) and _same(reads_same, original, job)):
            for key in group:
                out.pop(key, None)
            out.update({k: ours[k] for k in group if k in ours})
    for key in ("@context", "identifier", "hiringOrganization"):
        out.setdefault(key, ours[key])
    return out


def _original(posting: str | None) -> dict[str, Any] | None:
    """A job's stored posting, sanitised again (a partner's text); None when there is none or it is unusable."""
    if posting is None:
        return None
    try:
        value = json.loads(posting)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if isinstance(value.get("description"), str):
        value["description"] = sanitize_html(value["description"])
    for path in unsafe_urls(value):
        _drop(value, path)
    return value


def _same(reads_same: Any, original: dict[str, Any], job: Job) -> bool:
    try:
        return bool(reads_same(original, job))
    except JobPostingError:
        return False


def _location_of(data: dict[str, Any]) -> tuple[Location, str]:
    place = _first_place(data.get("jobLocation"))
    if _telecommute(data.get("jobLocationType")):
        if not place.text():
            return _applicant_requirements(data.get("applicantLocationRequirements")), "remote"
        return place, "hybrid"
    return place, "onsite"


def _opt_time(data: dict[str, Any], key: str) -> int | None:
    return _parse_time(data[key], key) if data.get(key) else None


# (properties, does the original's spelling still read as this job's value?)
_GROUPS: tuple[tuple[tuple[str, ...], Any], ...] = (
    (("title",), lambda d, j: _text(d.get("title"), "title") == j.title),
    (("description",), lambda d, j: html_to_text(sanitize_html(_str(d.get("description", ""), "description"))) == j.description),
    (("datePosted",), lambda d, j: _opt_time(d, "datePosted") == j.date_posted),
    (("validThrough",), lambda d, j: _opt_time(d, "validThrough") == j.valid_through),
    (("employmentType",), lambda d, j: _employment_types(d.get("employmentType")) == j.employment_type),
    (("jobLocation", "jobLocationType", "applicantLocationRequirements"),
     lambda d, j: _location_of(d) == (j.location, j.location_type)),
    (("baseSalary", "salaryCurrency"), lambda d, j: _salary(d.get("baseSalary"), d.get("salaryCurrency")) == j.salary),
    (("skills",), lambda d, j: _skills(d.get("skills")) == j.skills),
)
MODELLED = frozenset(k for group, _ in _GROUPS for k in group) - {"applicantLocationRequirements"}


# ---------------------------------------------------------------- HTML sanitising

# What a job description needs, and nothing that runs or loads: no script, style, img, iframe, form,
# no attributes but a link's href (http, https, mailto), links marked rel="noopener nofollow".
ALLOWED_TAGS = frozenset({"p", "br", "hr", "ul", "ol", "li", "dl", "dt", "dd", "strong", "em", "b", "i", "u", "s", "sub",
                          "sup", "small", "span", "div", "blockquote", "pre", "code", "a", "h1", "h2", "h3", "h4", "h5",
                          "h6", "table", "thead", "tbody", "tr", "th", "td"})
URL_SCHEMES = frozenset({"http", "https", "mailto"})
_DROPPED_WITH_CONTENT = frozenset({"script", "style", "template", "iframe", "object", "noscript", "textarea", "select"})


def sanitize_html(markup: str) -> str:
    """``markup`` with only ``ALLOWED_TAGS`` and safe links left, by ammonia (nh3), a maintained
    sanitiser: hand-written stripping misses the parser's corner cases (issue 12 item 1)."""
    return nh3.clean(markup, tags=set(ALLOWED_TAGS), clean_content_tags=set(_DROPPED_WITH_CONTENT),
                     attributes={"a": {"href"}}, url_schemes=set(URL_SCHEMES), link_rel="noopener nofollow",
                     strip_comments=True)


class _MarkupCensus(HTMLParser):
    """Which tags, attributes and link schemes of a description the sanitiser will drop (for the report)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.dropped: dict[str, None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.dropped[f"<{tag}>"] = None
        for name, value in attrs:
            if tag == "a" and name == "rel":
                continue  # rewritten (noopener nofollow), not dropped
            if tag != "a" or name != "href":
                self.dropped[f"{name}="] = None
            elif value and ":" in value.split("/")[0] and value.split(":")[0].strip().lower() not in URL_SCHEMES:
                self.dropped[f"{value.split(':')[0].strip().lower()}: link"] = None


def dropped_markup(markup: str) -> list[str]:
    census = _MarkupCensus()
    census.feed(markup)
    census.close()
    return list(census.dropped)


# ---------------------------------------------------------------- URLs of the posting

URL_KEYS = frozenset({"url", "logo", "sameAs", "image", "applicationUrl"})


def unsafe_urls(value: Any, path: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Paths of URL properties (``url``, ``logo``, ``sameAs``…) anywhere in ``value`` that are text but
    not http(s): a ``javascript:`` or ``data:`` logo must not reach a page that links to it."""
    found: list[tuple[str | int, ...]] = []
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        here = (*path, key)
        under_url_key = key in URL_KEYS or (isinstance(key, int) and path and path[-1] in URL_KEYS)
        if isinstance(child, str) and under_url_key and not re.match(r"^https?://", child.strip(), re.IGNORECASE):
            found.append(here)
        else:
            found.extend(unsafe_urls(child, here))
    return found


def _drop(value: Any, path: tuple[str | int, ...]) -> None:
    for key in path[:-1]:
        value = value[key]
    if isinstance(value, dict):
        value.pop(path[-1], None)
    else:
        value[path[-1]] = None


def _dotted(path: tuple[str | int, ...]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path).lstrip(".")


# ---------------------------------------------------------------- input documents


class _LdJsonScripts(HTMLParser):
    """The text of every ``<script type="application/ld+json">`` of an HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.blocks: list[str] = []
        self._inside: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = (dict(attrs).get("type") or "").split(";")[0].strip().lower()
        if tag == "script" and kind == "application/ld+json":
            self._inside = []

    def handle_data(self, data: str) -> None:
        if self._inside is not None:
            self._inside.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._inside is not None:
            self.blocks.append("".join(self._inside))
            self._inside = None


def documents_in_page(page: str) -> tuple[list[Any], list[str]]:
    """The JSON documents of a page's ld+json script blocks, and what was ignored (unreadable blocks)."""
    parser = _LdJsonScripts()
    parser.feed(page)
    parser.close()
    if not parser.blocks:
        raise JobPostingError("document", 'the HTML page has no <script type="application/ld+json"> block')
    documents, ignored = [], []
    for number, block in enumerate(parser.blocks, 1):
        try:
            documents.append(json.loads(block))
        except ValueError:
            ignored.append(f"script block {number}: not JSON")
    return documents, ignored


def _types(node: Any) -> list[Any]:
    types = node.get("@type") if isinstance(node, dict) else None
    return types if isinstance(types, list) else [types]


def find_postings(document: Any) -> tuple[list[dict[str, Any]], list[str]]:
    """The JobPosting objects of a bare object, an ``@graph`` document or an array of either, and a note
    for every other node met (ignored, by type)."""
    postings: list[dict[str, Any]] = []
    others: dict[str, int] = {}
    stack: list[tuple[Any, Any]] = [(document, None)]
    while stack:
        node, context = stack.pop(0)
        if isinstance(node, list):
            stack[0:0] = [(item, context) for item in node]
        elif isinstance(node, dict) and isinstance(node.get("@graph"), list):
            stack[0:0] = [(item, node.get("@context", context)) for item in node["@graph"]]
        elif isinstance(node, dict) and "JobPosting" in _types(node):
            postings.append(node if "@context" in node or context is None else {"@context": context} | node)
        elif isinstance(node, dict) and "@type" not in node and "title" in node and document is node:
            postings.append(node)  # a bare object without @type, as the first release accepted
        else:
            name = ", ".join(str(t) for t in _types(node) if t) or type(node).__name__
            others[name] = others.get(name, 0) + 1
    ignored = [f"{count} {name} {'node' if count == 1 else 'nodes'} (not a JobPosting)" for name, count in others.items()]
    return postings, ignored


def one_posting(document: Any, page: str | None = None) -> tuple[dict[str, Any], list[str]]:
    """The one JobPosting of an input (a JSON document, or an HTML page's script blocks), and what was ignored.

    Several postings are refused, naming how many: one import is one job, and picking one silently
    would drop the others.
    """
    ignored: list[str] = []
    if page is not None:
        document, ignored = documents_in_page(page)
    postings, others = find_postings(document)
    ignored += others
    if not postings:
        if isinstance(document, dict) and not isinstance(document.get("@graph"), list) and page is None:
            raise JobPostingError("@type", "is not JobPosting")
        raise JobPostingError("document", "holds no JobPosting object" + (f" (found: {'; '.join(ignored)})" if ignored else ""))
    if len(postings) > 1:
        titles = "; ".join(str(p.get("title", "?"))[:60] for p in postings[:5])
        raise JobPostingError("document", f"holds {len(postings)} JobPosting objects ({titles}): one import is one job, "
                                          "so put each posting in its own file")
    return postings[0], ignored


# ---------------------------------------------------------------- the import


@dataclass(frozen=True, slots=True)
class Imported:
    """A job built from a posting, and what the admin is told: properties carried but not used for
    matching (``kept``), and what was dropped (``ignored``: other nodes, unsafe markup and URLs)."""

    job: Job
    kept: tuple[str, ...]
    ignored: tuple[str, ...]


def import_posting(document: Any, *, job_id: bytes, now: int, hops: int, page: str | None = None,
                   skills: tuple[Skill, ...] = ()) -> Imported:
    """A Job from an input document, carrying the sanitised original as its ``posting``.

    ``skills`` (given by the admin) replace the posting's own. The original is checked (a JSON object,
    at most ``MAX_POSTING_DEPTH`` deep and ``MAX_POSTING_BYTES`` as JSON once sanitised) before it is
    read; its description is sanitised, and URL properties that are not http(s) are refused.
    """
    posting, ignored = one_posting(document, page)
    if json_depth(posting) > MAX_POSTING_DEPTH:
        raise JobPostingError("document", f"is nested deeper than {MAX_POSTING_DEPTH} levels")
    bad = unsafe_urls(posting)
    if bad:
        raise JobPostingError(_dotted(bad[0]), "must be an http:// or https:// URL")
    clean = dict(posting)
    if isinstance(posting.get("description"), str):
        clean["description"] = sanitize_html(posting["description"])
        ignored += [f"description: {item} removed" for item in dropped_markup(posting["description"])]
    text = json.dumps(clean, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    size = len(text.encode())
    if size > MAX_POSTING_BYTES:
        raise JobPostingError("document", f"is {size} bytes as JSON; a job carries at most {MAX_POSTING_BYTES}: "
                                          "shorten the description or remove properties")
    job = job_from_jsonld(clean, job_id=job_id, now=now, hops=hops)
    job = dataclasses.replace(job, skills=skills or job.skills, posting=text)
    kept = sorted(k for k in clean if k not in MODELLED and not k.startswith("@"))
    if isinstance(clean.get("jobLocation"), list) and len(clean["jobLocation"]) > 1:
        kept.append(f"jobLocation (places after the first: {len(clean['jobLocation']) - 1})")
    if job.location_type == "remote" and "applicantLocationRequirements" in kept:
        kept.remove("applicantLocationRequirements")
    return Imported(job, tuple(kept), tuple(ignored))

