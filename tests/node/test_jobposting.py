"""schema.org JobPosting JSON-LD import/export, on Google's structured-data example and on bad inputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from node.formats.jobposting import JobPostingError, html_to_text, job_from_jsonld, job_to_jsonld
from protocol.jobs import Job, Location, Salary, Skill

GOOGLE = json.loads((Path(__file__).resolve().parents[1] / "data" / "google_jobposting.json").read_text())
JOB_ID = bytes(range(16))
NOW = 1_700_000_000_000
ORG = {"org_name": "Hope Works", "org_url": "https://hope.example", "node_id_hex": "ab" * 16}


def imported(data: dict, **kw) -> Job:
    return job_from_jsonld(data, job_id=JOB_ID, now=NOW, hops=kw.pop("hops", 2), **kw)


def test_google_example_fields():
    job = imported(GOOGLE)
    assert job.title == "Software Engineer"
    assert job.description.startswith("Google aspires to be an organization")
    assert "<p>" not in job.description
    assert job.date_posted == 1484697600000  # 2017-01-18T00:00Z
    assert job.valid_through == 1489795200000  # 2017-03-18T00:00 read as UTC
    assert job.employment_type == ("CONTRACTOR",)
    assert job.location == Location("Mountain View", "CA", "US", street="1600 Amphitheatre Pkwy", postal_code="94043")
    assert job.location_type == "onsite"
    assert job.salary == Salary("USD", 4000, 4000, "HOUR")  # cents: 40.00 × 100
    assert job.hops == 2 and job.version == 1 and job.status == "open"


def test_google_example_round_trip():
    job = imported(GOOGLE)
    exported = job_to_jsonld(job, **ORG)
    json.dumps(exported)  # plain JSON
    assert exported["@type"] == "JobPosting"
    assert exported["hiringOrganization"] == {"@type": "Organization", "name": "Hope Works", "sameAs": "https://hope.example",
                                              "identifier": "ab" * 16}
    assert exported["baseSalary"]["value"] == {"@type": "QuantitativeValue", "unitText": "HOUR", "value": 40}
    assert exported["jobLocation"]["address"]["addressLocality"] == "Mountain View"
    assert exported["datePosted"] == "2017-01-18"
    assert imported(exported) == job
    assert job_to_jsonld(imported(exported), **ORG) == exported


def test_rich_job_round_trips():
    job = Job(
        job_id=JOB_ID, version=1, title="Youth worker & mentor", hops=3,
        skills=(Skill("youth work"), Skill("Python", "http://data.europa.eu/esco/skill/ccd0a1d9-afda-43d9-b901-96344886e14d"),
                Skill("communication, collaboration and creativity")),
        date_posted=1_700_000_123_456, valid_through=1_710_000_000_000,
        description="First para with <b> & \"quotes\".\nSecond line.\n\nSecond para.",
        location=Location("Lyon", "Auvergne-Rhône-Alpes", "FR"), location_type="hybrid",
        employment_type=("PART_TIME", "VOLUNTEER"), salary=Salary("EUR", 2_000_050, 2_500_000, "YEAR"),
    )
    exported = job_to_jsonld(job, **ORG)
    assert exported["baseSalary"]["value"]["minValue"] == 20000.5
    assert exported["baseSalary"]["value"]["maxValue"] == 25000
    assert exported["jobLocationType"] == "TELECOMMUTE"
    assert imported(exported, hops=3) == job


def test_remote_job_uses_applicant_location_requirements():
    job = Job(job_id=JOB_ID, version=1, title="Remote data analyst", skills=(), date_posted=NOW,
              location=Location(region="Bavaria", country="DE"), location_type="remote")
    exported = job_to_jsonld(job, **ORG)
    assert "jobLocation" not in exported
    assert exported["applicantLocationRequirements"] == [{"@type": "AdministrativeArea", "name": "Bavaria"},
                                                         {"@type": "Country", "name": "DE"}]
    assert imported(exported, hops=1) == job


def test_lenient_shapes():
    data = {
        "@type": "JobPosting",
        "title": " Care &amp; support <em>worker</em> ",
        "description": "<h2>About</h2><p>We&#39;re hiring.</p><ul><li>Shifts</li><li>Driving</li></ul><script>x()</script>",
        "datePosted": "2024-05-01T09:30:00+02:00",
        "employmentType": ["full-time", "Part Time", "FULL_TIME"],
        "jobLocation": [{"@type": "Place", "address": {"addressLocality": "Leeds", "addressCountry": {"@type": "Country", "name": "GB"}}},
                        {"@type": "Place", "address": {"addressLocality": "York"}}],
        "salaryCurrency": "gbp",
        "baseSalary": {"@type": "MonetaryAmount", "value": {"minValue": "24,000", "maxValue": 27000.5, "unitText": "year"}},
        "skills": ["customer service; first aid", {"@type": "DefinedTerm", "name": "forklift", "url": "http://data.europa.eu/esco/skill/x"}],
        "occupationalCategory": "43-4051.00",
    }
    job = imported(data)
    assert job.title == "Care & support worker"
    assert job.description == "About\n\nWe're hiring.\n\n- Shifts\n- Driving"
    assert job.date_posted == 1714548600000  # 07:30 UTC
    assert job.employment_type == ("FULL_TIME", "PART_TIME")
    assert job.location == Location("Leeds", None, "GB")
    assert job.salary == Salary("GBP", 2_400_000, 2_700_050, "YEAR")
    assert job.skills == (Skill("customer service"), Skill("first aid"), Skill("forklift", "http://data.europa.eu/esco/skill/x"))
    no_date = imported({"title": "T", "skills": "a, b"})
    assert no_date.date_posted == NOW and no_date.skills == (Skill("a"), Skill("b"))
    assert imported({"title": "T", "baseSalary": {"currency": "USD", "value": 15, "unitText": "HOUR"}}).salary == Salary("USD", 1500, 1500, "HOUR")


def test_html_to_text():
    assert html_to_text("a<br>b<br/>c") == "a\nb\nc"
    assert html_to_text("<p>x</p>\n\n\n<p>y</p>") == "x\n\ny"
    assert html_to_text("5 < 6 &amp;&nbsp;ok") == "5 < 6 & ok"
    assert html_to_text("<style>p{}</style>plain") == "plain"


def _bad(**changes):
    data = copy.deepcopy(GOOGLE)
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


@pytest.mark.parametrize(("changes", "field"), [
    ({"title": None}, "title"),
    ({"title": "   "}, "title"),
    ({"title": 42}, "title"),
    ({"title": "x" * 301}, "title"),
    ({"@type": "Event"}, "@type"),
    ({"description": ["a"]}, "description"),
    ({"datePosted": "18/01/2017"}, "datePosted"),
    ({"validThrough": "soon"}, "validThrough"),
    ({"employmentType": "SOMETIMES"}, "employmentType"),
    ({"employmentType": [1]}, "employmentType"),
    ({"jobLocation": "Mountain View"}, "jobLocation"),
    ({"jobLocation": {"address": 5}}, "jobLocation.address"),
    ({"baseSalary": 40}, "baseSalary"),
    ({"baseSalary": {"currency": "dollars", "value": {"value": 1, "unitText": "HOUR"}}}, "baseSalary.currency"),
    ({"baseSalary": {"currency": "USD", "value": {"value": "forty", "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": 40.005, "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": -1, "unitText": "HOUR"}}}, "baseSalary.value.value"),
    ({"baseSalary": {"currency": "USD", "value": {"value": 1, "unitText": "FORTNIGHT"}}}, "baseSalary.value.unitText"),
    ({"baseSalary": {"currency": "USD", "value": {"minValue": 9, "maxValue": 1, "unitText": "HOUR"}}}, "baseSalary.value"),
    ({"baseSalary": {"currency": "USD", "value": {"unitText": "HOUR"}}}, "baseSalary.value"),
    ({"skills": [{"url": "http://x"}]}, "skills"),
    ({"skills": [7]}, "skills"),
    ({"skills": ", ".join(f"s{i}" for i in range(65))}, "skills"),
])
def test_bad_inputs_name_the_field(changes, field):
    with pytest.raises(JobPostingError) as info:
        imported(_bad(**changes))
    assert info.value.field == field
    assert str(info.value).startswith(field + ":")
    assert isinstance(info.value, ValueError)


def test_not_an_object():
    with pytest.raises(JobPostingError):
        imported(["JobPosting"])  # type: ignore[arg-type]
