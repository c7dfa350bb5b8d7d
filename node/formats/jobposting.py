"""schema.org ``JobPosting`` JSON-LD ↔ ``protocol.jobs.Job`` (what job boards and search engines read).

The user-facing mapping is in docs/cli.md, "JobPosting JSON-LD". In short: an input (a posting, an
``@graph`` document, an array, or an HTML page's ``<script type="application/ld+json">`` blocks) must
hold exactly one JobPosting (``posting.one_posting``). Its description is sanitised by ammonia (``nh3``), its URL
properties must be http(s), and the sanitised original travels with the job as ``Job.posting`` (≤ 32 KiB
of JSON, ≤ 16 deep; docs/protocol.md 15.2), so export (``posting.job_to_jsonld``) gives back every property we
do not model, and the modelled ones as the original spelt them unless the job changed since. The import
reports what it keeps without using and what it dropped (``posting.Imported``). This module reads the
modelled fields (``job_from_jsonld``) and generates them (``generated_jsonld``); node/formats/html_text.py
sanitises descriptions.

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

import re
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from node.formats.html_text import html_to_text, sanitize_html, text_to_html
from protocol.errors import MALFORMED, RemoteProtocolError
from protocol.jobs import (
    EMPLOYMENT_TYPES,
    MAX_HOPS,
    MAX_SKILLS,
    SALARY_UNITS,
    Job,
    Location,
    Salary,
    Skill,
    hops_ok,
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


# ---------------------------------------------------------------- export


def _iso(ms: int, *, date_only_at_midnight: bool) -> str:
    moment = _EPOCH + timedelta(milliseconds=ms)
    if date_only_at_midnight and ms % 86_400_000 == 0:
        return moment.date().isoformat()
    return moment.isoformat(timespec="milliseconds" if ms % 1000 else "seconds").replace("+00:00", "Z")


def _number(cents: int) -> int | float:
    return cents // 100 if cents % 100 == 0 else float(Decimal(cents) / 100)


def generated_jsonld(job: Job, *, org_name: str, org_url: str, node_id_hex: str) -> dict[str, Any]:
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
